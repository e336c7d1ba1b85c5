"""Reads of the coupons app."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db import connection, connections
from django.db.models import Count, Model, Q, QuerySet, Sum
from django.utils import timezone

from beneficiaires.models import Household
from comptes.models import User
from coupons import codes, signing
from coupons.keys import keyring, verify_qr_text
from coupons.models import Coupon, IssuanceBatch
from coupons.pdf import PrintableCoupon
from programmes.models import Program
from programmes.money import ZERO, quantize, to_cents


class CodeError(Exception):
    """A scanned or typed code that is not one of our coupons: `code` is machine-readable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Hand-written SQL for the scanning hot path (`resolve_scanned_code`, and the device look-up of
# marches.services.authenticate_device): building an ORM query costs several times what the
# database spends answering it (bench/README.md). The column lists come from the models, and
# the rows are converted as the ORM would convert them, so the instances are the ORM's own.

_M = TypeVar("_M", bound=Model)


@functools.cache
def columns_sql(model: type[Model], alias: str) -> str:
    """Every concrete column of `model` under `alias`, in field order (see model_from_row)."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def model_from_row(model: type[_M], values: Sequence[Any], using: str = "default") -> _M:
    """An instance of `model` from the values of `columns_sql(model, …)`, converted as the ORM
    converts them (SQLite, for instance, answers dates and decimals as text)."""
    db = connections[using]
    fields, converted = _row_layout(model, using)
    if converted:
        values = list(values)
        for index, column in converted:
            value = values[index]
            for convert in _converters(column, db):
                value = convert(value, column, db)
            values[index] = value
    return model.from_db(using, fields, values)


@functools.cache
def _row_layout(model: type[Model], using: str) -> tuple[list[str], list[tuple[int, Any]]]:
    """The attribute names of `model`'s columns, and those columns whose values the ORM
    converts on that database (none on PostgreSQL for the models read this way)."""
    db = connections[using]
    columns = [f.get_col(model._meta.db_table) for f in model._meta.concrete_fields]
    converted = [(i, column) for i, column in enumerate(columns) if _converters(column, db)]
    return [f.attname for f in model._meta.concrete_fields], converted


def _converters(column: Any, db: Any) -> list[Any]:
    field_converters = column.output_field.get_db_converters(db)
    return list(db.ops.get_db_converters(column)) + list(field_converters)


def resolve_scanned_code(text: str) -> Coupon:
    """The coupon a QR text or a manual code stands for, with its program.

    A QR text is verified (structure, then Ed25519 signature) before the database is asked; a
    manual code's check symbol likewise. The one exception: a well-formed QR whose key id this
    process does not know yet reloads the keys (a rotation done elsewhere), at most once per
    coupons.keys.RELOAD_INTERVAL. Raises CodeError with "invalid_code" (damaged or mistyped),
    "bad_signature" (not signed by us) or "unknown_code" (well formed, but no such coupon).
    """
    normalized = codes.normalize(text)
    if signing.is_qr_text(normalized):
        try:
            claims = verify_qr_text(normalized)
        except signing.QRDecodeError as error:
            raise CodeError(error.code) from error
        code = claims.code
        program_id: int | None = claims.program_id
    else:
        if not codes.is_well_formed(normalized):
            raise CodeError("invalid_code")
        code, program_id = normalized, None
    # Coupon.objects.select_related("program").filter(code=code), one query.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns_sql(Coupon, 'c')}, {columns_sql(Program, 'p')}"
            f" FROM {Coupon._meta.db_table} c JOIN {Program._meta.db_table} p"
            " ON p.id = c.program_id WHERE c.code = %s",
            [code],
        )
        row = cursor.fetchone()
    if row is None:
        raise CodeError("unknown_code")
    split = len(Coupon._meta.concrete_fields)
    coupon = model_from_row(Coupon, row[:split])
    if program_id is not None and coupon.program_id != program_id:
        # Well formed (and, for a QR, signed by us), yet no such coupon here.
        raise CodeError("unknown_code")
    coupon.program = model_from_row(Program, row[split:])
    return coupon


def qr_text_for(coupon: Coupon) -> str:
    claims = signing.CouponClaims(
        code=coupon.code,
        program_id=coupon.program_id,
        value_cents=to_cents(coupon.value),
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
    )
    return signing.encode_qr(claims, keyring())


def printable_coupons(coupons: Iterable[Coupon]) -> list[PrintableCoupon]:
    """Coupons ready for the PDF; expects `program` and its categories to be prefetched."""
    printable = []
    for coupon in coupons:
        program = coupon.program
        printable.append(
            PrintableCoupon(
                serial=coupon.serial,
                qr_text=qr_text_for(coupon),
                manual_code=codes.format_code(coupon.code),
                value=coupon.value,
                currency=program.currency,
                valid_from=coupon.valid_from,
                valid_until=coupon.valid_until,
                program_name=program.name,
                categories=tuple(c.name_fr for c in program.categories.all()),
                holder=coupon.household.reference if coupon.household else None,
            )
        )
    return printable


def batches_for(user: User | AnonymousUser) -> QuerySet[IssuanceBatch]:
    """Batches the user may see: their organizations' (intervenant), their programs'
    (coordinator), every one (network admin). Out of scope is not found, never forbidden."""
    base = IssuanceBatch.objects.select_related("program", "organization", "household")
    if not user.is_authenticated:
        return base.none()
    if user.is_network_admin:
        return base.all()
    ids = IssuanceBatch.objects.filter(
        Q(organization__members=user) | Q(program__coordinators=user)
    ).values("pk")
    return base.filter(pk__in=ids)


def spendable_or_future(coupons: QuerySet[Coupon], today: datetime.date) -> QuerySet[Coupon]:
    """Coupons still worth printing or showing: issued, neither voided nor redeemed, and not
    expired (a coupon of a later distribution is included: it becomes valid on its day)."""
    return coupons.filter(status=Coupon.Status.ISSUED, valid_until__gte=today)


def household_coupons(household: Household) -> QuerySet[Coupon]:
    return (
        household.coupons.select_related("program", "household", "replacement")
        .prefetch_related("program__categories")
        .order_by("valid_from", "-value", "serial")
    )


@dataclass(frozen=True)
class Figure:
    count: int
    value: Decimal


@dataclass(frozen=True)
class CouponTotals:
    issued: Figure
    redeemed: Figure
    outstanding: Figure
    expired: Figure
    void: Figure


def coupon_totals(programs: QuerySet[Program], today: datetime.date | None = None) -> CouponTotals:
    """Issued, redeemed, outstanding (still spendable), expired unused and void, in one query."""
    return _totals(Coupon.objects.filter(program__in=programs), today)


def _totals(coupons: QuerySet[Coupon], today: datetime.date | None) -> CouponTotals:
    today = today or timezone.localdate()
    issued_q = ~Q(status=Coupon.Status.VOID)
    redeemed_q = Q(status=Coupon.Status.REDEEMED)
    outstanding_q = Q(status=Coupon.Status.ISSUED, valid_until__gte=today)
    expired_q = Q(status=Coupon.Status.ISSUED, valid_until__lt=today)
    void_q = Q(status=Coupon.Status.VOID)
    row = coupons.aggregate(
        issued_n=Count("pk", filter=issued_q),
        issued_v=Sum("value", filter=issued_q),
        redeemed_n=Count("pk", filter=redeemed_q),
        redeemed_v=Sum("value", filter=redeemed_q),
        outstanding_n=Count("pk", filter=outstanding_q),
        outstanding_v=Sum("value", filter=outstanding_q),
        expired_n=Count("pk", filter=expired_q),
        expired_v=Sum("value", filter=expired_q),
        void_n=Count("pk", filter=void_q),
        void_v=Sum("value", filter=void_q),
    )

    def figure(name: str) -> Figure:
        return Figure(row[f"{name}_n"], quantize(row[f"{name}_v"] or ZERO))

    return CouponTotals(
        issued=figure("issued"),
        redeemed=figure("redeemed"),
        outstanding=figure("outstanding"),
        expired=figure("expired"),
        void=figure("void"),
    )


def coupons_for(user: User | AnonymousUser) -> QuerySet[Coupon]:
    """Coupons of the batches the user may see (see batches_for)."""
    return Coupon.objects.filter(batch__in=batches_for(user).values("pk")).select_related(
        "program", "batch", "batch__organization", "household"
    )


def program_batches(program: Program) -> QuerySet[IssuanceBatch]:
    """A program's batches, newest first, with what a list shows of each (no per-row query)."""
    return (
        IssuanceBatch.objects.filter(program=program)
        .select_related("organization", "household", "issued_by")
        .order_by("-issued_at", "-pk")
    )


def batch_coupons(batch: IssuanceBatch) -> QuerySet[Coupon]:
    return batch.coupons.select_related("replacement").order_by("serial")


def batch_totals(batch: IssuanceBatch, today: datetime.date | None = None) -> CouponTotals:
    """Issued, redeemed, outstanding, expired and void coupons of one batch, in one query."""
    return _totals(Coupon.objects.filter(batch=batch), today)


def revoked_codes(program_ids: Iterable[int], today: datetime.date | None = None) -> list[str]:
    """Manual codes of voided coupons that would otherwise still be valid: the revocation list
    a scanner downloads to refuse them offline. Expired coupons need no entry (a scanner refuses
    them by their date); the codes of void coupons spend nothing, so they are no secret."""
    today = today or timezone.localdate()
    return list(
        Coupon.objects.filter(
            program_id__in=list(program_ids), status=Coupon.Status.VOID, valid_until__gte=today
        )
        .order_by("code")
        .values_list("code", flat=True)
    )


@dataclass(frozen=True)
class DistributionState:
    number: int
    valid_from: datetime.date
    valid_until: datetime.date
    value: Decimal
    issued: bool
    expired: bool


def household_distributions(
    household: Household, today: datetime.date | None = None
) -> list[DistributionState]:
    """Each distribution of the household's allotment: its dates, its value, whether it is
    issued (holds a coupon that is not void) and whether its validity has passed."""
    from coupons.services import IssuanceError, issued_distributions, plan_household_allotment

    today = today or timezone.localdate()
    try:
        planned = plan_household_allotment(program=household.program, household_size=household.size)
    except IssuanceError:
        return []
    done = issued_distributions(household)
    states: dict[int, DistributionState] = {}
    for item in planned:
        state = states.get(item.distribution)
        value = item.value + (state.value if state else ZERO)
        states[item.distribution] = DistributionState(
            number=item.distribution,
            valid_from=item.valid_from,
            valid_until=item.valid_until,
            value=quantize(value),
            issued=item.distribution in done,
            expired=item.valid_until < today,
        )
    return [states[number] for number in sorted(states)]
