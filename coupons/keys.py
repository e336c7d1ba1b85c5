"""The keyring that signs coupon QR codes: keys from the settings and keys in the database.

Two sources of keys:

- the settings: ``COUPON_SIGNING_KEYS`` ("KID:SEED,…", the first signs), or without it a key
  derived from ``SECRET_KEY`` under kid 1 (a laptop's default);
- the database: :class:`coupons.models.SigningKey` rows, added by :func:`rotate_signing_key`
  (``manage.py rotate_signing_key``), their seeds encrypted with ``FIELD_ENCRYPTION_KEYS``.

Signing uses the newest (highest kid) database key that is not retired, else the first key of
the settings. Every key of both sources verifies. Retired keys keep verifying: retiring only
stops signing (a rotation retires the keys it replaces), so every coupon stays valid until its
own ``valid_until``; a compromised key is answered by a rotation and by voiding the coupons it
signed, never by breaking the paper coupons already in households' hands. A kid present in
both sources with different seeds is a configuration error (deploy check coupons.E002): the
database row is ignored and the settings' key wins.

The keyring is cached per process, so a redemption spends no query on keys. A process learns
of a rotation done by another one in three ways: at once if it rotated itself, when a QR carries
a kid higher than every kid its cache knows (one query, then verify again), and at the latest
after :data:`MAX_AGE` seconds. A rotation always takes a higher kid than every existing one, so
an unknown lower kid is refused without a query, and a reload forced by an unknown kid happens at
most once every :data:`RELOAD_INTERVAL` seconds: a flood of forged kids cannot hammer the
database (a genuine new kid scanned during such a flood waits at most that long). Signing with
a slightly stale key is harmless: the older keys stay valid.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.db import DatabaseError, IntegrityError, router, transaction
from django.db.models import Max
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons import codes, signing
from coupons.models import SigningKey
from coupons.signing import CouponClaims, Keyring, QRDecodeError

logger = logging.getLogger(__name__)

MAX_KID = 255
# At most one reload forced by an unknown kid per process in this many seconds.
RELOAD_INTERVAL = 30.0
# A cached keyring older than this is read again, so that signing follows a rotation done by
# another process even if no QR with the new kid is scanned here.
MAX_AGE = 300.0

# Monotonic seconds; tests replace it to move time without sleeping.
_clock: Callable[[], float] = time.monotonic


class SigningKeyError(Exception):
    """Why a signing key could not be added; `code` is machine-readable, the message translated."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Loaded:
    """Both sources merged, with what was wrong in them (for the log and the deploy check)."""

    keyring: Keyring
    problems: tuple[checks.CheckMessage, ...]


def _settings_keyring() -> Keyring:
    """The keys of the settings; raises ValueError if COUPON_SIGNING_KEYS is malformed."""
    if settings.COUPON_SIGNING_KEYS:
        return Keyring.from_setting(settings.COUPON_SIGNING_KEYS)
    return Keyring.derived_from_secret(settings.SECRET_KEY)


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _merge(
    env: Keyring, rows: Iterable[tuple[int, str | None, datetime.datetime | None]]
) -> _Loaded:
    """Merge the settings' keys with database rows given newest first."""
    private_keys = dict(env.private_keys)
    problems: list[checks.CheckMessage] = []
    signing_kid: int | None = None
    for kid, seed, retired_at in rows:
        try:
            private_key = Keyring.from_setting(f"{kid}:{seed or ''}").private_keys[kid]
        except ValueError:
            # The field hands back the ciphertext when no FIELD_ENCRYPTION_KEYS key opens it.
            problems.append(
                checks.Error(
                    f"The signing key kid {kid} in the database cannot be read: its seed does "
                    "not decrypt to a 32-byte key.",
                    hint="Restore the FIELD_ENCRYPTION_KEYS it was encrypted with.",
                    id="coupons.E003",
                )
            )
            continue
        env_key = env.private_keys.get(kid)
        if env_key is not None and _raw(env_key) != _raw(private_key):
            problems.append(
                checks.Error(
                    f"Signing key kid {kid} is in COUPON_SIGNING_KEYS and in the database with "
                    "different seeds; the database key is ignored, so the coupons it signed "
                    "are refused.",
                    hint="Remove that kid from COUPON_SIGNING_KEYS, or give it the same seed.",
                    id="coupons.E002",
                )
            )
            continue
        private_keys[kid] = private_key
        if signing_kid is None and retired_at is None:
            signing_kid = kid
    merged = Keyring(
        active_kid=env.active_kid if signing_kid is None else signing_kid,
        private_keys=MappingProxyType(private_keys),
        public_keys=MappingProxyType({kid: key.public_key() for kid, key in private_keys.items()}),
    )
    return _Loaded(merged, tuple(problems))


def _database_rows() -> list[tuple[int, str | None, datetime.datetime | None]]:
    return list(SigningKey.objects.order_by("-kid").values_list("kid", "seed", "retired_at"))


def _load() -> _Loaded:
    """Both sources, in one query."""
    return _merge(_settings_keyring(), _database_rows())


class _Cache:
    """This process's keyring, when it was read, and when an unknown kid last forced a read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keyring: Keyring | None = None
        self.loaded_at = float("-inf")
        self.forced_at = float("-inf")

    def reset(self) -> None:
        with self.lock:
            self.keyring = None
            self.loaded_at = float("-inf")
            self.forced_at = float("-inf")

    def reload(self, *, unless_fresh: bool = False) -> Keyring:
        with self.lock:
            # Threads that found the cache stale together read the database once.
            if unless_fresh and self.keyring is not None and self.is_fresh():
                return self.keyring
            loaded = _load()
            for problem in loaded.problems:
                logger.error("%s (%s)", problem.msg, problem.id)
            self.keyring, self.loaded_at = loaded.keyring, _clock()
            return loaded.keyring

    def is_fresh(self) -> bool:
        return _clock() - self.loaded_at < MAX_AGE

    def may_force_reload(self) -> bool:
        with self.lock:
            now = _clock()
            if now - self.forced_at < RELOAD_INTERVAL:
                return False
            self.forced_at = now
            return True


_cache = _Cache()


def keyring() -> Keyring:
    """The merged keyring of this process (no query while the cache is fresh)."""
    current = _cache.keyring
    if current is not None and _cache.is_fresh():
        return current
    return _cache.reload(unless_fresh=True)


def clear_keyring_cache() -> None:
    """Forget this process's keyring: the next use reads the settings and the database."""
    _cache.reset()


def _kid_of(text: str) -> int | None:
    """The key id in a structurally valid QR text (decode_qr has checked its structure)."""
    body = codes.normalize(text)[len(signing.QR_PREFIX) :]
    try:
        return base64.b32decode(body + "=" * (-len(body) % 8))[1]
    except (binascii.Error, ValueError, IndexError):
        return None


def verify_qr_text(text: str) -> CouponClaims:
    """Verify a QR text against this process's keys and return its claims.

    Raises :class:`coupons.signing.QRDecodeError` like :func:`coupons.signing.decode_qr`. Only a
    structurally valid text whose kid is higher than every kid of the cache costs a query (the
    reload, at most once every RELOAD_INTERVAL seconds); every other text is decided without
    the database.
    """
    current = keyring()
    try:
        return signing.decode_qr(text, current)
    except QRDecodeError as error:
        if error.code != QRDecodeError.BAD_SIGNATURE:
            raise
        kid = _kid_of(text)
        if kid is None or kid <= max(current.public_keys) or not _cache.may_force_reload():
            raise
        refreshed = _cache.reload()
        if kid not in refreshed.public_keys:
            raise
        return signing.decode_qr(text, refreshed)


def public_keys() -> dict[int, str]:
    """Every verification key (kid → raw 32-byte Ed25519 public key in urlsafe base64, no
    padding), retired ones included: scanners need them to verify older coupons offline."""
    return keyring().public_keys_b64()


def next_signing_kid() -> int:
    """The kid the next rotation takes: one more than every kid of the settings and the database.

    Raises SigningKeyError("malformed_setting" | "no_kid_left").
    """
    try:
        env = _settings_keyring()
    except ValueError as error:
        raise SigningKeyError(
            "malformed_setting",
            _("COUPON_SIGNING_KEYS est mal formé : {error}").format(error=error),
        ) from error
    database_max = SigningKey.objects.aggregate(top=Max("kid"))["top"]
    kid = 1 + max([*env.public_keys, *([] if database_max is None else [database_max])])
    if kid > MAX_KID:
        raise SigningKeyError(
            "no_kid_left",
            _(
                "Les numéros de clé vont de 0 à {max} et le dernier est déjà pris : aucune "
                "nouvelle clé ne peut être ajoutée."
            ).format(max=MAX_KID),
        )
    return kid


def rotate_signing_key(*, now: datetime.datetime | None = None) -> SigningKey:
    """Add a fresh random signing key to the database; it signs from now on.

    Its kid is :func:`next_signing_kid`; the database keys it replaces are marked retired (they
    stop signing, they keep verifying). Not idempotent: each call adds a key. Clears this
    process's keyring; other processes learn of it on their own (see the module docstring).
    Raises SigningKeyError("malformed_setting" | "no_kid_left" | "concurrent_rotation").
    """
    now = now or timezone.now()
    with transaction.atomic():
        kid = next_signing_kid()
        seed = signing.generate_seed_setting(kid).partition(":")[2]
        SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=now)
        try:
            # Two rotations at once pick the same kid: the unique kid lets only one through.
            with transaction.atomic():
                key = SigningKey.objects.create(kid=kid, seed=seed, created_at=now)
        except IntegrityError as error:
            raise SigningKeyError(
                "concurrent_rotation",
                _("Une autre rotation de clé a eu lieu en même temps ; recommencez."),
            ) from error
        transaction.on_commit(clear_keyring_cache)
    clear_keyring_cache()
    return key


def check_signing_keys(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Deploy check: coupons must be signed with explicit, well-formed, readable keys.

    Following Django's contract, the database keys are inspected only when the check is given
    the database (``manage.py check --deploy --database default``).
    """
    try:
        env = _settings_keyring()
    except ValueError as error:
        return [checks.Error(f"COUPON_SIGNING_KEYS is malformed: {error}", id="coupons.E001")]
    messages: list[checks.CheckMessage] = []
    rows: list[tuple[int, str | None, datetime.datetime | None]] | None = None
    if databases and router.db_for_read(SigningKey) in databases:
        try:
            rows = _database_rows()
        except DatabaseError as error:
            messages.append(
                checks.Warning(
                    f"The coupon signing keys in the database could not be read: {error}",
                    hint="Apply the migrations (python manage.py migrate).",
                    id="coupons.W002",
                )
            )
        else:
            messages.extend(_merge(env, rows).problems)
    if not settings.COUPON_SIGNING_KEYS and not rows:
        if rows is None:
            situation = (
                "COUPON_SIGNING_KEYS is not set and the keys in the database were not checked "
                "(run the check with --database default): unless the database holds one, "
            )
        else:
            situation = "No coupon signing key in COUPON_SIGNING_KEYS nor in the database: "
        messages.insert(
            0,
            checks.Warning(
                situation + "coupon QR codes are signed with a key derived from SECRET_KEY, and "
                "changing SECRET_KEY would invalidate every printed coupon.",
                hint="Run `python manage.py rotate_signing_key` or set COUPON_SIGNING_KEYS "
                "(see docs/configuration.md).",
                id="coupons.W001",
            ),
        )
    return messages


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COUPON_SIGNING_KEYS", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS"}:
        clear_keyring_cache()
