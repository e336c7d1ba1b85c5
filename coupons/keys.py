"""The keyring that signs coupon QR codes, read once from the settings."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from coupons.signing import Keyring


@functools.cache
def keyring() -> Keyring:
    if settings.COUPON_SIGNING_KEYS:
        return Keyring.from_setting(settings.COUPON_SIGNING_KEYS)
    return Keyring.derived_from_secret(settings.SECRET_KEY)


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COUPON_SIGNING_KEYS", "SECRET_KEY"}:
        keyring.cache_clear()
