"""Deploy checks of the keys that protect personal data at rest (beneficiaires/privacy.py)."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks

GENERATE_FERNET_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
GENERATE_HASH_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def check_privacy_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Deploy check: households' names, contact details and notes must be encrypted and hashed
    with explicit keys in production, never with keys derived from SECRET_KEY."""
    messages: list[checks.CheckMessage] = []
    configured = [str(key) for key in settings.FIELD_ENCRYPTION_KEYS]
    keys = [key.strip() for key in configured if key.strip()]
    if not configured:
        messages.append(
            checks.Warning(
                "FIELD_ENCRYPTION_KEYS is not set: households' names, contact details and notes "
                "are encrypted with a key derived from SECRET_KEY, and changing SECRET_KEY would "
                "make them unreadable.",
                hint=(
                    f"Generate a key with {GENERATE_FERNET_KEY} and set FIELD_ENCRYPTION_KEYS "
                    "(see docs/configuration.md and docs/privacy/README.md)."
                ),
                id="beneficiaires.W001",
            )
        )
    elif not keys:
        messages.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEYS holds only blank entries: no personal data can be "
                "encrypted or read.",
                hint=f"Generate a key with {GENERATE_FERNET_KEY}.",
                id="beneficiaires.E001",
            )
        )
    for position, key in enumerate(keys, start=1):
        if not _is_fernet_key(key):
            messages.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes, 44 characters).",
                    hint=(
                        f"Generate a key with {GENERATE_FERNET_KEY}; to rotate, put the new key "
                        "first and keep the old ones after it, separated by commas."
                    ),
                    id="beneficiaires.E001",
                )
            )
    if not settings.PRIVACY_HASH_KEY:
        messages.append(
            checks.Warning(
                "PRIVACY_HASH_KEY is not set: the hashes that find a name or a possible "
                "duplicate are keyed with a value derived from SECRET_KEY, and changing "
                "SECRET_KEY would break every look-up.",
                hint=(
                    f"Generate a key with {GENERATE_HASH_KEY} (or {GENERATE_FERNET_KEY}) and set "
                    "PRIVACY_HASH_KEY once: it cannot change without recomputing every hash."
                ),
                id="beneficiaires.W002",
            )
        )
    return messages


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.encode("ascii"))
    except ValueError:  # bad base64, wrong length, or not ASCII (UnicodeEncodeError)
        return False
    return True
