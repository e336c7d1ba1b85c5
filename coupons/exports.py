"""The coupons section of a household's access export (beneficiaires/exports.py).

Registered at start-up by `CouponsConfig.ready()`: `beneficiaires` may not import this app.
The manual code is left out: it is a bearer secret that would let whoever holds the file spend
the coupon.
"""

from __future__ import annotations

from typing import Any

from beneficiaires.models import Household
from coupons.models import Coupon


def household_coupons_section(household: Household) -> list[dict[str, Any]]:
    coupons = Coupon.objects.filter(household=household).order_by("serial")
    return [
        {
            "serial": coupon.serial,
            "value": coupon.value,
            "distribution": coupon.distribution,
            "status": coupon.status,
            "valid_from": coupon.valid_from,
            "valid_until": coupon.valid_until,
            "redeemed_at": coupon.redeemed_at,
        }
        for coupon in coupons
    ]
