"""The public sale's buyers are erased with the households of their program: once the program's
retention period has ended (beneficiaires.retention), a sale keeps its packs, amounts, batch
and dates, and loses the buyer's name and e-mail. One query, idempotent."""

from __future__ import annotations

import datetime

from django.utils import timezone

from beneficiaires.retention import programs_past_retention
from coupons.models import CouponSale


def erase_expired_buyers(today: datetime.date, dry_run: bool) -> int:
    """Erase the buyers of the programs past their retention; how many sales (would) lose
    them (two queries). A sale still waiting for its payment keeps them."""
    expired = programs_past_retention(today)
    if not expired:
        return 0
    sales = CouponSale.objects.filter(program_id__in=expired, buyer_erased_at__isnull=True).exclude(
        status=CouponSale.Status.PENDING
    )
    if dry_run:
        return sales.count()
    return sales.update(buyer_name="", buyer_email="", buyer_erased_at=timezone.now())
