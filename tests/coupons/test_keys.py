"""The signing key is checked before deployment, and a bad one is reported clearly."""

from typing import Any

from coupons.keys import check_signing_keys
from coupons.signing import generate_seed_setting


def test_a_missing_signing_key_is_flagged_for_deployment(settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = ""

    assert [message.id for message in check_signing_keys()] == ["coupons.W001"]


def test_a_malformed_signing_key_is_an_error(settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = "1:not-base64!"

    assert [message.id for message in check_signing_keys()] == ["coupons.E001"]


def test_a_proper_signing_key_passes(settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = generate_seed_setting(3)

    assert check_signing_keys() == []
