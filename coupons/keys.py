"""The keyring that signs coupon QR codes, read once from the settings."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.dispatch import receiver

from coupons.signing import Keyring


@functools.cache
def keyring() -> Keyring:
    if settings.COUPON_SIGNING_KEYS:
        return Keyring.from_setting(settings.COUPON_SIGNING_KEYS)
    return Keyring.derived_from_secret(settings.SECRET_KEY)


def check_signing_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    """Deploy check: coupons must be signed with an explicit, well-formed key in production."""
    if not settings.COUPON_SIGNING_KEYS:
        return [
            checks.Warning(
                "COUPON_SIGNING_KEYS is not set: coupon QR codes are signed with a key derived "
                "from SECRET_KEY, and changing SECRET_KEY would invalidate every printed coupon.",
                hint="Set COUPON_SIGNING_KEYS (see docs/configuration.md).",
                id="coupons.W001",
            )
        ]
    try:
        Keyring.from_setting(settings.COUPON_SIGNING_KEYS)
    except ValueError as error:
        return [checks.Error(f"COUPON_SIGNING_KEYS is malformed: {error}", id="coupons.E001")]
    return []


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COUPON_SIGNING_KEYS", "SECRET_KEY"}:
        keyring.cache_clear()
