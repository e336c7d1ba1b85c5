"""Writes of the coupons app: issuance, with its budget guard and its idempotency."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaires.models import Household, Organization
from comptes.models import User
from coupons import codes
from coupons.models import Coupon, IssuanceBatch
from programmes.allotment import AllotmentError, amount_for_size, split_into_denominations
from programmes.models import Program
from programmes.money import ZERO, format_money, quantize


class IssuanceError(Exception):
    """Why coupons could not be issued; `code` is machine-readable, the message is translated."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PlannedCoupon:
    value: Decimal
    distribution: int
    valid_from: datetime.date
    valid_until: datetime.date


def plan_household_allotment(*, program: Program, household_size: int) -> list[PlannedCoupon]:
    """The coupons a household of this size receives over the season, without writing."""
    rules = [(r.household_size, r.amount) for r in program.allotment_rules.all()]
    amount = amount_for_size(rules, household_size)
    if amount is None:
        raise IssuanceError(
            "no_allotment_rule",
            _(
                "Le programme n'a pas de règle d'allocation pour un ménage de {size} personnes."
            ).format(size=household_size),
        )
    denominations = [d.value for d in program.denominations.all()]
    try:
        values = split_into_denominations(amount, denominations)
    except AllotmentError as error:
        raise IssuanceError(
            error.code,
            _(
                "Le montant {amount} ne peut pas être composé avec les valeurs de coupons du "
                "programme."
            ).format(amount=format_money(amount)),
        ) from error
    planned: list[PlannedCoupon] = []
    for distribution in range(1, program.distribution_count + 1):
        valid_from, valid_until = program.validity_of(distribution)
        planned.extend(
            PlannedCoupon(value, distribution, valid_from, valid_until) for value in values
        )
    return planned


def committed_value(*, program: Program, today: datetime.date | None = None) -> Decimal:
    """Money the program's coupons hold: spent (redeemed) plus still spendable (outstanding)."""
    today = today or timezone.localdate()
    total = program.coupons.filter(
        Q(status=Coupon.Status.REDEEMED) | Q(status=Coupon.Status.ISSUED, valid_until__gte=today)
    ).aggregate(total=Sum("value"))["total"]
    return quantize(total or ZERO)


def reserved_value(
    *,
    program: Program,
    organization: Organization | None = None,
    today: datetime.date | None = None,
) -> Decimal:
    """What the program (or one organization's share) has promised: the value its coupons hold
    plus the season's allotment of every active household that has not received it yet."""
    from beneficiaires.services import planned_value

    today = today or timezone.localdate()
    coupons = program.coupons.filter(
        Q(status=Coupon.Status.REDEEMED) | Q(status=Coupon.Status.ISSUED, valid_until__gte=today)
    )
    households = Household.objects.filter(program=program, status=Household.Status.ACTIVE)
    if organization is not None:
        coupons = coupons.filter(batch__organization=organization)
        households = households.filter(organization=organization)
    held = coupons.aggregate(total=Sum("value"))["total"] or ZERO
    waiting = (
        households.exclude(coupons__status__in=[Coupon.Status.ISSUED, Coupon.Status.REDEEMED])
        .values("adults", "children")
        .annotate(count=Count("pk"))
    )
    promised = sum(
        (planned_value(program, row["adults"] + row["children"]) * row["count"] for row in waiting),
        ZERO,
    )
    return quantize(held + promised)


def issue_household_allotment(
    *, household: Household, issued_by: User, idempotency_key: uuid.UUID
) -> IssuanceBatch:
    """Issue a household's allotment for the season, once.

    The same `idempotency_key` (carried by the form) returns the batch it already made, so a
    double click or a resubmitted form issues nothing twice.
    """
    existing = IssuanceBatch.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_request_or_error(existing, household)

    if household.status != Household.Status.ACTIVE or household.anonymized_at is not None:
        raise IssuanceError(
            "household_not_active",
            _(
                "Ce ménage n'est pas inscrit activement au programme (liste d'attente ou retrait) :"
                " aucun coupon ne peut lui être émis."
            ),
        )
    program = household.program
    planned = plan_household_allotment(program=program, household_size=household.size)
    total = quantize(sum((p.value for p in planned), ZERO))
    try:
        with transaction.atomic():
            # Lock the program row: two issuances for the same program queue up here, so the
            # budget check below cannot be raced (SQLite serialises writers already).
            program = Program.objects.select_for_update().get(pk=program.pk)
            if household.coupons.exclude(status=Coupon.Status.VOID).exists():
                raise IssuanceError(
                    "already_issued", _("Ce ménage a déjà reçu son allocation pour la saison.")
                )
            available = program.budget - committed_value(program=program)
            if total > available:
                raise IssuanceError(
                    "insufficient_funds",
                    _(
                        "Fonds insuffisants : cette allocation vaut {total}, il reste {left} au "
                        "programme."
                    ).format(total=format_money(total), left=format_money(max(available, ZERO))),
                )
            batch = IssuanceBatch.objects.create(
                program=program,
                kind=IssuanceBatch.Kind.HOUSEHOLD,
                household=household,
                organization=household.organization,
                issued_by=issued_by,
                idempotency_key=idempotency_key,
                coupon_count=len(planned),
                total_value=total,
            )
            Coupon.objects.bulk_create(
                Coupon(
                    program=program,
                    batch=batch,
                    household=household,
                    serial=f"{program.serial_prefix}-{batch.pk:05d}-{index:02d}",
                    code=codes.generate_code(),
                    value=item.value,
                    distribution=item.distribution,
                    valid_from=item.valid_from,
                    valid_until=item.valid_until,
                )
                for index, item in enumerate(planned, start=1)
            )
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its batch.
        existing = IssuanceBatch.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _same_request_or_error(existing, household)
    return batch


def _same_request_or_error(batch: IssuanceBatch, household: Household) -> IssuanceBatch:
    if batch.household_id != household.pk:
        raise IssuanceError(
            "idempotency_key_reused",
            _("Cette demande a déjà servi pour un autre ménage. Rechargez la page."),
        )
    return batch
