"""The signed payload carried by a coupon's QR code.

A scanner verifies the QR offline with the public key alone. The text is
``"PCN1:" + base32(payload)`` (RFC 4648 alphabet, uppercase, no ``=`` padding), where the
binary payload is, big-endian:

====== ===== =====================================================
bytes  field meaning
====== ===== =====================================================
1      ver   format version, always 1
1      kid   key id (0..255), selects the verification key (rotation)
9      code  the 13 data symbols of the manual code (codes.code_to_int)
4      prog  program id, unsigned
4      value value in cents, unsigned
2      from  first valid day, days since 2020-01-01
2      until last valid day, days since 2020-01-01
64     sig   Ed25519 signature of ``SIGNING_CONTEXT + header``
====== ===== =====================================================

The text only uses characters from the QR alphanumeric set, is uppercase and contains neither
spaces nor dashes, so it survives :func:`coupons.codes.normalize`. The encoding is canonical:
:func:`decode_qr` rejects any text that :func:`encode_qr` would not produce byte for byte (in
particular non-zero padding bits in the last base32 character), so one coupon has exactly one
valid text and any changed character is rejected before a database lookup.

This module is pure Python plus ``cryptography`` and does not import Django.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from coupons import codes

QR_PREFIX = "PCN1:"
PAYLOAD_VERSION = 1
SIGNING_CONTEXT = b"PCN-coupon-v1\x00"
DATE_EPOCH = datetime.date(2020, 1, 1)

# version, kid, code (9 bytes, split as 1 + 8), program_id, value_cents, valid_from, valid_until
_HEADER = struct.Struct(">BBBQIIHH")
HEADER_SIZE = _HEADER.size  # 23
SIGNATURE_SIZE = 64
PAYLOAD_SIZE = HEADER_SIZE + SIGNATURE_SIZE  # 87
BASE32_LENGTH = -(-PAYLOAD_SIZE * 8 // 5)  # 140 characters, no '=' padding
QR_TEXT_LENGTH = len(QR_PREFIX) + BASE32_LENGTH  # 145

_BASE32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_MAX_U32 = 2**32 - 1
_MAX_DAYS = 2**16 - 1
_MAX_KID = 255
_SEED_SIZE = 32
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True)
class CouponClaims:
    """What a coupon's QR asserts. ``code`` is the full 14-symbol manual code, no separators."""

    code: str
    program_id: int
    value_cents: int
    valid_from: datetime.date
    valid_until: datetime.date


class QRDecodeError(Exception):
    """A QR text was rejected.

    ``code`` is ``"invalid_code"`` for a structural problem (malformed, not canonical, wrong
    length, unknown version, out-of-range value) or ``"bad_signature"`` when the text is
    structurally sound but its key id is unknown or its signature does not verify.
    """

    INVALID_CODE = "invalid_code"
    BAD_SIGNATURE = "bad_signature"

    code: str

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def _check_kid(kid: int) -> None:
    if not 0 <= kid <= _MAX_KID:
        raise ValueError(f"key id must be in 0..{_MAX_KID}, got {kid}")


def _raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Keyring:
    """Signing and verification keys, indexed by key id.

    ``active_kid`` selects the key :func:`encode_qr` signs with; every key in ``public_keys``
    is accepted by :func:`decode_qr`, so older keys keep verifying after a rotation.
    """

    active_kid: int
    private_keys: Mapping[int, Ed25519PrivateKey] = field(repr=False)
    public_keys: Mapping[int, Ed25519PublicKey]

    def __post_init__(self) -> None:
        _check_kid(self.active_kid)
        for kid in (*self.private_keys, *self.public_keys):
            _check_kid(kid)
        for kid, private_key in self.private_keys.items():
            public_key = self.public_keys.get(kid)
            if public_key is None or _raw_public_key(public_key) != _raw_public_key(
                private_key.public_key()
            ):
                raise ValueError(f"public key for key id {kid} does not match its private key")

    @classmethod
    def from_seeds(cls, seeds: Mapping[int, bytes], active_kid: int) -> Keyring:
        """Build a keyring from raw 32-byte Ed25519 seeds."""
        private_keys: dict[int, Ed25519PrivateKey] = {}
        for kid, seed in seeds.items():
            _check_kid(kid)
            if len(seed) != _SEED_SIZE:
                raise ValueError(f"key id {kid}: seed must be {_SEED_SIZE} bytes")
            private_keys[kid] = Ed25519PrivateKey.from_private_bytes(seed)
        if active_kid not in private_keys:
            raise ValueError(f"active key id {active_kid} has no key")
        public_keys = {kid: key.public_key() for kid, key in private_keys.items()}
        return cls(
            active_kid=active_kid,
            private_keys=MappingProxyType(private_keys),
            public_keys=MappingProxyType(public_keys),
        )

    @classmethod
    def from_setting(cls, value: str) -> Keyring:
        """Parse ``"KID:SEED,KID:SEED"``; the first entry is the active (signing) key.

        KID is a decimal integer in 0..255; SEED is 32 raw bytes in urlsafe base64, with or
        without ``=`` padding. Raises ``ValueError`` for a malformed value.
        """
        if not value or not value.strip():
            raise ValueError("coupon signing keys: the setting is empty")
        seeds: dict[int, bytes] = {}
        active_kid: int | None = None
        for position, entry in enumerate(value.split(","), start=1):
            entry = entry.strip()
            kid_text, separator, seed_text = entry.partition(":")
            kid_text, seed_text = kid_text.strip(), seed_text.strip()
            if not separator:
                raise ValueError(
                    f"coupon signing keys: entry {position} must look like KID:BASE64URLSEED"
                )
            if not kid_text.isascii() or not kid_text.isdigit():
                raise ValueError(
                    f"coupon signing keys: entry {position} has a bad key id {kid_text!r}"
                )
            kid = int(kid_text)
            if kid > _MAX_KID:
                raise ValueError(
                    f"coupon signing keys: entry {position} key id {kid} is not in 0..{_MAX_KID}"
                )
            if kid in seeds:
                raise ValueError(f"coupon signing keys: key id {kid} appears twice")
            seeds[kid] = _decode_seed(seed_text, kid)
            if active_kid is None:
                active_kid = kid
        assert active_kid is not None  # at least one entry was parsed
        return cls.from_seeds(seeds, active_kid)

    @classmethod
    def derived_from_secret(cls, secret: str, kid: int = 1) -> Keyring:
        """Development default: derive the seed from ``secret`` (e.g. Django's SECRET_KEY).

        seed = HKDF-SHA256(secret, salt=None, info=b"coupon-signing-key").
        Production must set an explicit key (see :func:`generate_seed_setting`): a derived key
        changes with the secret and ties the coupon signatures to it.
        """
        if not secret:
            raise ValueError("cannot derive a coupon signing key from an empty secret")
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=_SEED_SIZE, salt=None, info=b"coupon-signing-key"
        )
        return cls.from_seeds({kid: hkdf.derive(secret.encode("utf-8"))}, kid)

    def public_keys_b64(self) -> dict[int, str]:
        """Raw 32-byte public keys in urlsafe base64 without padding, for scanners."""
        return {kid: _b64url(_raw_public_key(key)) for kid, key in sorted(self.public_keys.items())}


def _decode_seed(text: str, kid: int) -> bytes:
    if not _B64URL_RE.fullmatch(text):
        raise ValueError(f"coupon signing keys: key id {kid} seed is not urlsafe base64")
    unpadded = text.rstrip("=")
    try:
        seed = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except binascii.Error as exc:
        raise ValueError(f"coupon signing keys: key id {kid} seed is not urlsafe base64") from exc
    if len(seed) != _SEED_SIZE:
        raise ValueError(
            f"coupon signing keys: key id {kid} seed must be {_SEED_SIZE} bytes, got {len(seed)}"
        )
    return seed


def generate_seed_setting(kid: int) -> str:
    """Return a ``"KID:SEED"`` entry for a fresh random key, for the keys setting."""
    _check_kid(kid)
    return f"{kid}:{_b64url(secrets.token_bytes(_SEED_SIZE))}"


def is_qr_text(text: str) -> bool:
    """Whether ``text`` looks like a coupon QR text (as opposed to a manual code)."""
    return codes.normalize(text).startswith(QR_PREFIX)


def _days(day: datetime.date, name: str) -> int:
    days = (day - DATE_EPOCH).days
    if not 0 <= days <= _MAX_DAYS:
        raise ValueError(f"{name} must be between {DATE_EPOCH} and 65535 days later")
    return days


def _b32encode(payload: bytes) -> str:
    return base64.b32encode(payload).decode("ascii").rstrip("=")


def encode_qr(claims: CouponClaims, keyring: Keyring) -> str:
    """Sign ``claims`` with the keyring's active key and return the QR text.

    Raises ``ValueError`` if a claim does not fit the format or the active key is missing.
    """
    code_number = codes.code_to_int(claims.code)
    if not 0 <= claims.program_id <= _MAX_U32:
        raise ValueError("program_id must fit in 4 unsigned bytes")
    if not 0 <= claims.value_cents <= _MAX_U32:
        raise ValueError("value_cents must fit in 4 unsigned bytes")
    valid_from = _days(claims.valid_from, "valid_from")
    valid_until = _days(claims.valid_until, "valid_until")
    if valid_from > valid_until:
        raise ValueError("valid_from must not be after valid_until")
    private_key = keyring.private_keys.get(keyring.active_kid)
    if private_key is None:
        raise ValueError(f"no private key for the active key id {keyring.active_kid}")
    header = _HEADER.pack(
        PAYLOAD_VERSION,
        keyring.active_kid,
        code_number >> 64,
        code_number & (2**64 - 1),
        claims.program_id,
        claims.value_cents,
        valid_from,
        valid_until,
    )
    signature = private_key.sign(SIGNING_CONTEXT + header)
    return QR_PREFIX + _b32encode(header + signature)


def decode_qr(
    text: str, keyring_or_public_keys: Keyring | Mapping[int, Ed25519PublicKey]
) -> CouponClaims:
    """Verify a QR text offline and return its claims.

    Structural problems raise ``QRDecodeError("invalid_code")``; a structurally sound text
    whose key id is unknown or whose signature does not verify raises
    ``QRDecodeError("bad_signature")``.
    """
    if isinstance(keyring_or_public_keys, Keyring):
        public_keys: Mapping[int, Ed25519PublicKey] = keyring_or_public_keys.public_keys
    else:
        public_keys = keyring_or_public_keys
    invalid = QRDecodeError.INVALID_CODE

    normalized = codes.normalize(text)
    if not normalized.startswith(QR_PREFIX):
        raise QRDecodeError(invalid, "not a coupon QR text")
    body = normalized[len(QR_PREFIX) :]
    if len(body) != BASE32_LENGTH:
        raise QRDecodeError(invalid, "wrong QR text length")
    if not set(body) <= _BASE32_ALPHABET:
        raise QRDecodeError(invalid, "character outside the base32 alphabet")
    try:
        payload = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError) as exc:
        raise QRDecodeError(invalid, "malformed base32") from exc
    if len(payload) != PAYLOAD_SIZE or _b32encode(payload) != body:
        raise QRDecodeError(invalid, "non-canonical encoding")

    header, signature = payload[:HEADER_SIZE], payload[HEADER_SIZE:]
    version, kid, code_high, code_low, program_id, value_cents, valid_from, valid_until = (
        _HEADER.unpack(header)
    )
    if version != PAYLOAD_VERSION:
        raise QRDecodeError(invalid, f"unknown payload version {version}")

    public_key = public_keys.get(kid)
    if public_key is None:
        raise QRDecodeError(QRDecodeError.BAD_SIGNATURE, f"unknown key id {kid}")
    try:
        public_key.verify(signature, SIGNING_CONTEXT + header)
    except InvalidSignature as exc:
        raise QRDecodeError(QRDecodeError.BAD_SIGNATURE, "signature does not verify") from exc

    code_number = (code_high << 64) | code_low
    if code_number >= codes.MAX_DATA_INT:
        raise QRDecodeError(invalid, "code out of range")
    if valid_from > valid_until:
        raise QRDecodeError(invalid, "validity period is empty")
    return CouponClaims(
        code=codes.int_to_code(code_number),
        program_id=program_id,
        value_cents=value_cents,
        valid_from=DATE_EPOCH + datetime.timedelta(days=valid_from),
        valid_until=DATE_EPOCH + datetime.timedelta(days=valid_until),
    )
