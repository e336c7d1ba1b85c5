"""What a program's coupons hold, for the funding app's funds page (registered at start-up with
financement.funds.register_coupon_figures: that app sits below this one)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from coupons.sale import sale_subsidies
from coupons.selectors import coupon_totals
from financement.funds import CouponFigures
from programmes.models import Program


def program_coupon_figures(program: Program, today: datetime.date) -> CouponFigures:
    """Outstanding, redeemed and expired coupons (one query, the same rules as the budget
    guard's committed_value) and the public sale's subsidy, used and reserved by payments in
    progress, by the sale's own rule (coupons/sale.py; one query)."""
    totals = coupon_totals(Program.objects.filter(pk=program.pk), today)
    used, reserved = sale_subsidies(program, timezone.now())
    return CouponFigures(
        outstanding=totals.outstanding.value,
        outstanding_count=totals.outstanding.count,
        redeemed=totals.redeemed.value,
        redeemed_count=totals.redeemed.count,
        expired=totals.expired.value,
        expired_count=totals.expired.count,
        sale_subsidy_used=used,
        sale_subsidy_reserved=reserved,
    )
