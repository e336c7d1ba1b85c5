"""A coupon's chain of custody, step by step: issued, handed over, redeemed, reimbursed, voided,
replaced (DESIGN.md, "The chain of custody of a coupon").

The coupons app knows the first steps; the steps recorded by a higher app (a vendor's redemption,
a reimbursement) come from the source that app registers at start-up, so that this layer never
imports a higher one.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from coupons.models import Coupon, IssuanceBatch


@dataclass(frozen=True)
class CustodyStep:
    at: datetime.datetime
    what: str  # a short translated title: "Émis", "Échangé"…
    who: str  # the person or organization responsible, never a household's name
    where: str = ""
    detail: str = ""


CustodySource = Callable[[Coupon], list[CustodyStep]]
_sources: list[CustodySource] = []


def register_custody_source(source: CustodySource) -> None:
    if source not in _sources:
        _sources.append(source)


def _email(user: object) -> str:
    return str(getattr(user, "email", "") or _("Tâche automatique"))


def coupon_custody(coupon: Coupon) -> list[CustodyStep]:
    """Every recorded step of `coupon`, oldest first."""
    batch = coupon.batch
    holder = (
        _("ménage {reference}").format(reference=coupon.household.reference)
        if coupon.household
        else _("au porteur, par {organization}").format(organization=batch.issuer_name)
    )
    steps = [
        CustodyStep(
            at=batch.issued_at,
            what=str(IssuanceBatch.Kind(batch.kind).label),
            who=_email(batch.issued_by),
            where=batch.issuer_name,
            detail=_("Lot {batch}, {holder}").format(batch=batch.pk, holder=holder),
        )
    ]
    if coupon.replaces_id:
        steps.append(
            CustodyStep(
                at=batch.issued_at,
                what=_("Remplace un coupon annulé"),
                who=_email(batch.issued_by),
                detail=coupon.replaces.serial if coupon.replaces else "",
            )
        )
    if batch.delivered_at:
        steps.append(
            CustodyStep(
                at=batch.delivered_at,
                what=_("Remis"),
                who=_email(batch.delivered_by),
                where=batch.issuer_name,
            )
        )
    for source in _sources:
        steps.extend(source(coupon))
    if coupon.voided_at:
        steps.append(
            CustodyStep(
                at=coupon.voided_at,
                what=_("Annulé"),
                who=_email(coupon.voided_by),
                detail=" · ".join(
                    part for part in (coupon.get_void_reason_display(), coupon.void_note) if part
                ),
            )
        )
    replacement = getattr(coupon, "replacement", None)
    if replacement is not None:
        steps.append(
            CustodyStep(
                at=replacement.created_at,
                what=_("Remplacé"),
                who=_email(replacement.batch.issued_by),
                detail=replacement.serial,
            )
        )
    return sorted(steps, key=lambda step: step.at)
