"""Writes of the coupons app: issuance, with its budget guard and its idempotency."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from beneficiaires.models import Household, Organization
from comptes.models import User
from coupons import codes
from coupons.models import Coupon, CouponSale, IssuanceBatch, VoidReason
from financement.selectors import program_funds
from programmes.allotment import AllotmentError, amount_for_size, split_into_denominations
from programmes.models import Program
from programmes.money import ZERO, format_money, quantize

MAX_BATCH_COUPONS = 20_000


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
    plus, for every active household, the distributions of its allotment not issued yet."""
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
    live = Q(coupons__status__in=[Coupon.Status.ISSUED, Coupon.Status.REDEEMED])
    waiting = (
        households.annotate(issued=Count("coupons__distribution", filter=live, distinct=True))
        .values("adults", "children", "issued")
        .annotate(count=Count("pk"))
    )
    distributions = program.distribution_count
    promised = ZERO
    for row in waiting:
        left = max(distributions - row["issued"], 0)
        if left:
            season = planned_value(program, row["adults"] + row["children"])
            promised += season * left / distributions * row["count"]
    return quantize(held + promised)


def _budget_guard(program: Program, total: Decimal, what: str) -> None:
    """Refuse an issuance that would make the value the program's coupons hold exceed its funds.

    The subsidy of solidarity sales being paid on Stripe's page is held as if issued: their
    coupons are issued when the payment arrives, and must still fit (coupons.sale).
    Called with the program row locked (select_for_update), so two issuances cannot both pass
    (a sale reserves with the same lock).
    """
    held = CouponSale.objects.filter(program=program).reserved_subsidy(timezone.now())
    available = program_funds(program) - committed_value(program=program) - held
    if total > available:
        raise IssuanceError(
            "insufficient_funds",
            _("Fonds insuffisants : {what} vaut {total}, il reste {left} au programme.").format(
                what=what, total=format_money(total), left=format_money(max(available, ZERO))
            ),
        )


def _serial(program: Program, batch: IssuanceBatch, index: int) -> str:
    return f"{program.serial_prefix}-{batch.pk:05d}-{index:02d}"


def _new_coupons(batch: IssuanceBatch, items: Iterable[PlannedCoupon | Coupon]) -> list[Coupon]:
    """The batch's coupons, one for each planned coupon (or voided one it replaces), each with
    a fresh manual code, numbered in the batch."""
    program = batch.program
    return Coupon.objects.bulk_create(
        (
            Coupon(
                program=program,
                batch=batch,
                household_id=batch.household_id,
                serial=_serial(program, batch, index),
                code=codes.generate_code(),
                value=item.value,
                distribution=item.distribution,
                valid_from=item.valid_from,
                valid_until=item.valid_until,
                replaces=item if isinstance(item, Coupon) else None,
            )
            for index, item in enumerate(items, start=1)
        ),
        batch_size=1000,
    )


def _replayed(idempotency_key: uuid.UUID, **expected: Any) -> IssuanceBatch | None:
    """The batch an earlier request with this key made, if any; the key cannot serve another
    request (another household, another kind of issuance)."""
    existing = IssuanceBatch.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    for field, value in expected.items():
        if getattr(existing, field) != value:
            raise IssuanceError(
                "idempotency_key_reused",
                _("Cette demande a déjà servi pour une autre émission. Rechargez la page."),
            )
    return existing


def _once(
    idempotency_key: uuid.UUID, make: Callable[[], IssuanceBatch], **expected: Any
) -> IssuanceBatch:
    """Run `make` (which creates the batch with this key) once: a replay returns the batch made
    the first time; a concurrent request with the same key loses on the unique key and answers
    with the winner's batch."""
    existing = _replayed(idempotency_key, **expected)
    if existing is not None:
        return existing
    try:
        return make()
    except IntegrityError:
        existing = _replayed(idempotency_key, **expected)
        if existing is None:
            raise
        return existing


def issued_distributions(household: Household) -> set[int]:
    """The distributions of a household that hold a coupon that is not void."""
    return set(
        household.coupons.exclude(status=Coupon.Status.VOID)
        .values_list("distribution", flat=True)
        .distinct()
    )


def plan_remaining(
    *, household: Household, distribution: int | None = None, today: datetime.date | None = None
) -> list[PlannedCoupon]:
    """What issuing to `household` now would issue: every distribution not issued yet whose
    coupons would not already be expired, or only `distribution`."""
    today = today or timezone.localdate()
    program = household.program
    planned = plan_household_allotment(program=program, household_size=household.size)
    done = issued_distributions(household)
    if distribution is not None:
        if not 1 <= distribution <= program.distribution_count:
            raise IssuanceError(
                "unknown_distribution",
                _("Le programme n'a pas de distribution numéro {number}.").format(
                    number=distribution
                ),
            )
        if distribution in done:
            raise IssuanceError(
                "already_issued",
                _("La distribution {number} de ce ménage est déjà émise.").format(
                    number=distribution
                ),
            )
    wanted = [
        item
        for item in planned
        if item.distribution not in done
        and (distribution is None or item.distribution == distribution)
    ]
    if wanted and all(item.valid_until < today for item in wanted):
        raise IssuanceError(
            "distribution_expired",
            _("Ces coupons seraient déjà expirés : la période de validité est passée."),
        )
    wanted = [item for item in wanted if item.valid_until >= today]
    if not wanted:
        raise IssuanceError(
            "already_issued", _("Ce ménage a déjà reçu son allocation pour la saison.")
        )
    return wanted


def issue_household_allotment(
    *,
    household: Household,
    issued_by: User,
    idempotency_key: uuid.UUID,
    distribution: int | None = None,
) -> IssuanceBatch:
    """Issue a household's allotment: every distribution still due, or only `distribution`.

    The same `idempotency_key` (carried by the form) returns the batch it already made, so a
    double click or a resubmitted form issues nothing twice.
    """
    existing = _replayed(idempotency_key, household_id=household.pk)
    if existing is not None:
        return existing
    if household.status != Household.Status.ACTIVE or household.anonymized_at is not None:
        raise IssuanceError(
            "household_not_active",
            _(
                "Ce ménage n'est pas inscrit activement au programme (liste d'attente ou retrait) :"
                " aucun coupon ne peut lui être émis."
            ),
        )

    def make() -> IssuanceBatch:
        with transaction.atomic():
            # Lock the program row: two issuances for the same program queue up here, so the
            # budget check below cannot be raced (SQLite serialises writers already).
            program = Program.objects.select_for_update().get(pk=household.program_id)
            planned = plan_remaining(household=household, distribution=distribution)
            total = quantize(sum((p.value for p in planned), ZERO))
            _budget_guard(program, total, _("cette allocation"))
            batch = IssuanceBatch.objects.create(
                program=program,
                kind=IssuanceBatch.Kind.HOUSEHOLD,
                household=household,
                organization=household.organization,
                issued_by=issued_by,
                idempotency_key=idempotency_key,
                distribution=distribution,
                coupon_count=len(planned),
                total_value=total,
            )
            _new_coupons(batch, planned)
        return batch

    return _once(idempotency_key, make, household_id=household.pk)


@dataclass(frozen=True)
class BearerRequest:
    """A printed batch of bearer coupons for an organization to hand out anonymously."""

    program: Program
    organization: Organization
    counts: Mapping[Decimal, int]  # coupon value -> number of coupons
    valid_from: datetime.date
    valid_until: datetime.date
    note: str = ""


def issue_bearer_batch(
    *, request: BearerRequest, issued_by: User, idempotency_key: uuid.UUID
) -> IssuanceBatch:
    """Issue a batch of bearer coupons (no household) to a partner organization, once."""
    existing = _replayed(idempotency_key, kind=IssuanceBatch.Kind.BEARER, household_id=None)
    if existing is not None:
        return existing
    program, organization = request.program, request.organization
    counts = {quantize(value): number for value, number in request.counts.items() if number}
    _check_bearer(request, counts)
    total = quantize(sum((value * number for value, number in counts.items()), ZERO))
    count = sum(counts.values())

    def make() -> IssuanceBatch:
        with transaction.atomic():
            locked = Program.objects.select_for_update().get(pk=program.pk)
            _budget_guard(locked, total, _("ce lot"))
            batch = IssuanceBatch.objects.create(
                program=locked,
                kind=IssuanceBatch.Kind.BEARER,
                organization=organization,
                issued_by=issued_by,
                idempotency_key=idempotency_key,
                coupon_count=count,
                total_value=total,
                note=request.note.strip(),
            )
            # Bearer coupons belong to no distribution: the batch's validity is theirs.
            _new_coupons(
                batch,
                (
                    PlannedCoupon(value, 1, request.valid_from, request.valid_until)
                    for value in sorted(counts, reverse=True)
                    for _n in range(counts[value])
                ),
            )
        return batch

    return _once(idempotency_key, make, kind=IssuanceBatch.Kind.BEARER, household_id=None)


def _check_bearer(request: BearerRequest, counts: Mapping[Decimal, int]) -> None:
    program = request.program
    if not program.organizations.filter(pk=request.organization.pk).exists():
        raise IssuanceError(
            "not_a_partner",
            _("Cet organisme n'est pas partenaire du programme."),
        )
    allowed = set(program.denominations.values_list("value", flat=True))
    if not counts:
        raise IssuanceError("empty_batch", _("Indiquez combien de coupons de chaque valeur."))
    if any(value not in allowed for value in counts):
        raise IssuanceError(
            "unknown_denomination",
            _("Ces valeurs ne sont pas des valeurs de coupons du programme."),
        )
    if any(number < 0 for number in counts.values()):
        raise IssuanceError("empty_batch", _("Un nombre de coupons ne peut pas être négatif."))
    if sum(counts.values()) > MAX_BATCH_COUPONS:
        raise IssuanceError(
            "batch_too_large",
            _("Un lot compte au plus {max} coupons : faites-en plusieurs.").format(
                max=MAX_BATCH_COUPONS
            ),
        )
    if request.valid_until < request.valid_from:
        raise IssuanceError("invalid_validity", _("La fin de la validité doit suivre son début."))
    if request.valid_from < program.season_start or request.valid_until > program.season_end:
        raise IssuanceError(
            "validity_outside_season",
            _("La validité doit tenir dans la saison du programme, du {start} au {end}.").format(
                start=formats.date_format(program.season_start, "DATE_FORMAT"),
                end=formats.date_format(program.season_end, "DATE_FORMAT"),
            ),
        )
    if request.valid_until < timezone.localdate():
        raise IssuanceError(
            "distribution_expired",
            _("Ces coupons seraient déjà expirés : la période de validité est passée."),
        )
    if len(request.note) > 200:
        raise IssuanceError("note_too_long", _("La note compte au plus 200 caractères."))


# Void, lost, replaced -----------------------------------------------------------------------


@dataclass(frozen=True)
class VoidResult:
    voided: list[Coupon]
    refused: list[Coupon]  # already redeemed or voided: nothing changed for them
    replacement: IssuanceBatch | None = None


def _check_reason(reason: str, note: str) -> str:
    if reason not in VoidReason.values:
        raise IssuanceError("invalid_reason", _("Choisissez le motif de l'annulation."))
    note = (note or "").strip()
    if len(note) > 200:
        raise IssuanceError("note_too_long", _("La précision compte au plus 200 caractères."))
    if reason == VoidReason.OTHER and not note:
        raise IssuanceError("note_required", _("Précisez le motif de l'annulation."))
    return note


def void_coupons(
    *, coupons: Iterable[Coupon], reason: str, note: str = "", voided_by: User | None
) -> VoidResult:
    """Void coupons that are still issued (redeemed or void ones are left as they are).

    One conditional UPDATE per call: a coupon redeemed at this very moment either was redeemed
    first (and is refused here) or is voided first (and the vendor's scan is refused).
    Voided codes go on the revocation list that scanners download. `voided_by` is None when
    no person did it (a refunded sale, coupons/sale.py).
    """
    note = _check_reason(reason, note)
    wanted = list(coupons)
    now = timezone.now()
    with transaction.atomic():
        ids = [coupon.pk for coupon in wanted]
        Coupon.objects.filter(pk__in=ids, status=Coupon.Status.ISSUED).update(
            status=Coupon.Status.VOID,
            voided_at=now,
            voided_by=voided_by,
            void_reason=reason,
            void_note=note,
        )
        voided_ids = set(
            Coupon.objects.filter(pk__in=ids, voided_at=now, voided_by=voided_by).values_list(
                "pk", flat=True
            )
        )
    fresh = {c.pk: c for c in Coupon.objects.filter(pk__in=ids)}
    return VoidResult(
        voided=[fresh[pk] for pk in ids if pk in voided_ids],
        refused=[fresh[pk] for pk in ids if pk not in voided_ids],
    )


def replace_coupons(
    *,
    coupons: Iterable[Coupon],
    reason: str,
    note: str = "",
    replaced_by: User,
    idempotency_key: uuid.UUID,
) -> VoidResult:
    """Void coupons (lost, damaged…) and issue one new coupon for each, same value, same
    distribution and validity, to the same holder. Once per `idempotency_key`.

    A coupon already voided earlier without a replacement may be replaced now; a redeemed one,
    an expired one or one already replaced is refused (and nothing is issued for it).
    """
    note = _check_reason(reason, note)
    wanted = list(coupons)
    existing = _replayed(idempotency_key, kind=IssuanceBatch.Kind.REPLACEMENT)
    if existing is not None:
        return VoidResult(voided=[], refused=[], replacement=existing)
    if not wanted:
        raise IssuanceError("nothing_selected", _("Choisissez au moins un coupon."))
    programs = {coupon.program_id for coupon in wanted}
    holders = {(coupon.batch.organization_id, coupon.household_id) for coupon in wanted}
    if len(programs) != 1 or len(holders) != 1:
        raise IssuanceError(
            "mixed_holders",
            _("Remplacez ensemble les coupons d'un même ménage ou d'un même lot seulement."),
        )
    organization_id, household_id = holders.pop()
    today = timezone.localdate()
    now = timezone.now()
    result: dict[str, Any] = {}

    def make() -> IssuanceBatch:
        with transaction.atomic():
            program = Program.objects.select_for_update().get(pk=programs.pop())
            ids = [coupon.pk for coupon in wanted]
            # Still issued: void them now. Already void without a replacement: replace too.
            Coupon.objects.filter(pk__in=ids, status=Coupon.Status.ISSUED).update(
                status=Coupon.Status.VOID,
                voided_at=now,
                voided_by=replaced_by,
                void_reason=reason,
                void_note=note,
            )
            replaceable = list(
                Coupon.objects.select_for_update(of=("self",))
                .filter(
                    pk__in=ids,
                    status=Coupon.Status.VOID,
                    replacement__isnull=True,
                    valid_until__gte=today,
                )
                .order_by("serial")
            )
            if not replaceable:
                raise IssuanceError(
                    "nothing_to_replace",
                    _(
                        "Aucun de ces coupons ne peut être remplacé : déjà échangé, déjà "
                        "remplacé ou expiré."
                    ),
                )
            total = quantize(sum((coupon.value for coupon in replaceable), ZERO))
            # The voided coupons no longer count: the guard sees only the new value.
            _budget_guard(program, total, _("ce remplacement"))
            batch = IssuanceBatch.objects.create(
                program=program,
                kind=IssuanceBatch.Kind.REPLACEMENT,
                household_id=household_id,
                organization_id=organization_id,
                issued_by=replaced_by,
                idempotency_key=idempotency_key,
                coupon_count=len(replaceable),
                total_value=total,
                note=note,
            )
            _new_coupons(batch, replaceable)
            result["replaced"] = {coupon.pk for coupon in replaceable}
        return batch

    batch = _once(idempotency_key, make, kind=IssuanceBatch.Kind.REPLACEMENT)
    replaced = result.get("replaced", set())
    fresh = {c.pk: c for c in Coupon.objects.filter(pk__in=[c.pk for c in wanted])}
    return VoidResult(
        voided=[fresh[c.pk] for c in wanted if c.pk in replaced],
        refused=[fresh[c.pk] for c in wanted if c.pk not in replaced],
        replacement=batch,
    )


def mark_batch_delivered(*, batch: IssuanceBatch, delivered_by: User) -> bool:
    """Record that a batch was handed over; False when it already was (nothing changes)."""
    return bool(
        IssuanceBatch.objects.filter(pk=batch.pk, delivered_at__isnull=True).update(
            delivered_at=timezone.now(), delivered_by=delivered_by
        )
    )


# The public solidarity sale ------------------------------------------------------------------


def issue_sale_batch(
    *,
    program: Program,
    packs: int,
    pack_value: Decimal,
    issued_by: User | None,
    idempotency_key: uuid.UUID,
    note: str,
) -> IssuanceBatch:
    """The coupons a public buyer paid for (coupons/sale.py): `packs` packs worth `pack_value`
    each, every pack split into the program's denominations, valid from today (or the season's
    start) to the season's end; no household, no organization, and no issuer when the payment
    made it (`issued_by=None`). Once per `idempotency_key`.

    Runs inside the payment's transaction; like every issuance it locks the program row and
    passes the budget guard, so a sale never pushes the commitments past the funds.
    """
    existing = _replayed(idempotency_key, kind=IssuanceBatch.Kind.SALE, household_id=None)
    if existing is not None:
        return existing
    denominations = [d.value for d in program.denominations.all()]
    try:
        pack = split_into_denominations(pack_value, denominations)
    except AllotmentError as error:
        raise IssuanceError(
            error.code,
            _(
                "Le montant {amount} ne peut pas être composé avec les valeurs de coupons du "
                "programme."
            ).format(amount=format_money(pack_value)),
        ) from error
    today = timezone.localdate()
    valid_from, valid_until = max(today, program.season_start), program.season_end
    if valid_until < today:
        raise IssuanceError(
            "distribution_expired",
            _("Ces coupons seraient déjà expirés : la saison du programme est terminée."),
        )
    values = [value for _pack in range(packs) for value in pack]
    total = quantize(sum(values, ZERO))

    def make() -> IssuanceBatch:
        with transaction.atomic():
            locked = Program.objects.select_for_update().get(pk=program.pk)
            _budget_guard(locked, total, _("cette vente"))
            batch = IssuanceBatch.objects.create(
                program=locked,
                kind=IssuanceBatch.Kind.SALE,
                issued_by=issued_by,
                idempotency_key=idempotency_key,
                coupon_count=len(values),
                total_value=total,
                note=note[:200],
            )
            _new_coupons(
                batch, (PlannedCoupon(value, 1, valid_from, valid_until) for value in values)
            )
        return batch

    return _once(idempotency_key, make, kind=IssuanceBatch.Kind.SALE, household_id=None)
