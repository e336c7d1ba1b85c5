"""Protection of personal data at rest: the keys that encrypt it and the keyed hashes that let
us find it again without decrypting every row.

- Encrypted columns (names, contact details, notes) use Fernet keys from `FIELD_ENCRYPTION_KEYS`
  (comma-separated, the first encrypts, all decrypt: add a new key in front to rotate). Without
  it, a key is derived from SECRET_KEY: fine on a laptop only (deploy check beneficiaires.W001).
- Look-up columns hold an HMAC-SHA256 of the normalized value under `PRIVACY_HASH_KEY`: equal
  inputs give equal hashes, and the hash alone tells nothing without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _field_keys(configured: tuple[str, ...], secret_key: str) -> tuple[bytes, ...]:
    if configured:
        return tuple(key.strip().encode("ascii") for key in configured if key.strip())
    derived = hashlib.sha256(b"coupons-nourriciers/fields/" + secret_key.encode()).digest()
    return (base64.urlsafe_b64encode(derived),)


def field_encryption_keys() -> tuple[bytes, ...]:
    """The Fernet keys, newest first."""
    return _field_keys(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def _hash_key() -> bytes:
    configured = settings.PRIVACY_HASH_KEY
    if configured:
        return configured.encode()
    return hashlib.sha256(b"coupons-nourriciers/hash/" + settings.SECRET_KEY.encode()).digest()


def normalize_text(value: str) -> str:
    """Case, accents, punctuation and spacing do not matter:
    "Côté, Marie-Ève" → "cote marie eve"."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters.casefold())
    return " ".join(cleaned.split())


def keyed_hash(*parts: object) -> str:
    """HMAC-SHA256 (hex) of the parts, joined unambiguously; "" when every part is empty."""
    texts = ["" if part is None else str(part) for part in parts]
    if not any(texts):
        return ""
    message = "\x1f".join(texts).encode()
    return hmac.new(_hash_key(), message, hashlib.sha256).hexdigest()


def _name_key(name: str) -> str:
    """The normalized words in alphabetical order: "Côté, Marie-Ève" = "Marie Eve COTE"."""
    return " ".join(sorted(normalize_text(name).split()))


def name_hash(name: str) -> str:
    key = _name_key(name)
    return keyed_hash("name", key) if key else ""


def duplicate_key(name: str, year_of_birth: int | None, postal_code: str) -> str:
    """The same person enrolled twice: same normalized name, year of birth and postal code."""
    normalized = _name_key(name)
    if not normalized:
        return ""
    postal = "".join((postal_code or "").split()).upper()
    return keyed_hash("duplicate", normalized, year_of_birth or "", postal)
