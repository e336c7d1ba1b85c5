"""Reimbursement statements: what a program owes a vendor for a period.

A statement gathers a vendor's accepted redemptions and honoured conflicts of one program whose
scan falls in its period (local days, as `marches.selectors.day_bounds`), and only those on no
other statement: a redemption is reimbursed at most once. The one foreign key
`Redemption.statement` makes a second statement impossible by construction; a conditional
UPDATE makes the assignment race-free (see `create_statement`). A statement is a draft, then
approved, then paid (with the payment's reference); a draft may be discarded, which releases its
redemptions for the next statement.

A vendor paid in the program's local currency gets a statement that snapshots the currency's
name, its rate and the local total (`quantize(total * rate)`): a later change of the rate does
not change a statement already made.

Services (writes) raise `StatementError` with a machine-readable `code`; selectors (reads) are
scoped to the requesting user; the exports (CSV, PDF) read a statement the user may see.
"""

from __future__ import annotations

import csv
import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TextIO

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from coupons.models import Coupon
from marches.models import Market, Redemption, Statement, Vendor
from marches.selectors import day_bounds
from marches.statement_pdf import PrintableStatement, StatementLine
from programmes.models import Program
from programmes.money import ZERO, quantize

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

    AnyUser = User | AnonymousUser

logger = logging.getLogger(__name__)

REFERENCE_MAX_LENGTH = 80


class StatementError(Exception):
    """A statement that cannot be made or changed: `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Scopes ----------------------------------------------------------------------------------------


def _is_admin(user: AnyUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_network_admin", False))


def statements_for(user: AnyUser) -> QuerySet[Statement]:
    """The statements `user` may see: all (network admin); their programs' (coordinator); those
    of the vendors selling at a market they manage, for a program that market takes (market
    manager); their own vendor's (vendor staff, read only)."""
    base = Statement.objects.select_related("program", "vendor")
    if _is_admin(user):
        return base.all()
    if not user.is_authenticated:
        return base.none()
    managed_market = Market.objects.filter(
        managers=user, vendors=OuterRef("vendor_id"), programs=OuterRef("program_id")
    )
    ids = Statement.objects.filter(
        Q(program__coordinators=user) | Q(vendor__members=user) | Exists(managed_market)
    ).values("pk")
    return base.filter(pk__in=ids)


def can_manage_statements_of(user: AnyUser, *, vendor: Vendor, program: Program) -> bool:
    """Whether `user` may prepare, approve, pay and discard `vendor`'s statements of `program`:
    a network admin, a coordinator of the program, a manager of a market where the vendor
    sells and that takes the program. Never the vendor's own staff."""
    if _is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    if program.coordinators.filter(pk=user.pk).exists():
        return True
    return Market.objects.filter(managers=user, vendors=vendor, programs=program).exists()


def can_manage_statement(user: AnyUser, statement: Statement) -> bool:
    return can_manage_statements_of(user, vendor=statement.vendor, program=statement.program)


def statement_programs_for(user: AnyUser) -> QuerySet[Program]:
    """The programs for which `user` may prepare statements (empty: they may not)."""
    if _is_admin(user):
        return Program.objects.all()
    if not user.is_authenticated:
        return Program.objects.none()
    ids = Program.objects.filter(Q(coordinators=user) | Q(markets__managers=user)).values("pk")
    return Program.objects.filter(pk__in=ids)


def statement_vendors_for(user: AnyUser) -> QuerySet[Vendor]:
    """The vendors for whom `user` may prepare statements: those at the markets of their
    programs (coordinator) and at the markets they manage."""
    if _is_admin(user):
        return Vendor.objects.all()
    if not user.is_authenticated:
        return Vendor.objects.none()
    ids = Vendor.objects.filter(
        Q(markets__programs__coordinators=user) | Q(markets__managers=user)
    ).values("pk")
    return Vendor.objects.filter(pk__in=ids)


# What a statement holds ------------------------------------------------------------------------


def reimbursable_redemptions(
    *, vendor: Vendor, program: Program, start: datetime.date, end: datetime.date
) -> QuerySet[Redemption]:
    """`vendor`'s redemptions of `program`'s coupons scanned from `start` to `end` (local days,
    inclusive) that are owed and on no statement yet.

    Every condition is on the redemption row itself (the program through a subquery on coupons,
    whose program never changes), so that an UPDATE of this queryset re-checks them on the row
    it writes: what another transaction took meanwhile is skipped, not taken twice.
    """
    first, after = day_bounds(start, end)
    return Redemption.objects.filter(
        vendor=vendor,
        coupon__in=Coupon.objects.filter(program=program).values("pk"),
        status__in=Redemption.REIMBURSABLE,
        statement__isnull=True,
        scanned_at__gte=first,
        scanned_at__lt=after,
    )


def statement_lines(statement: Statement) -> QuerySet[Redemption]:
    """The redemptions on `statement`, in the order they were scanned."""
    return statement.redemptions.select_related("coupon", "market", "category").order_by(
        "scanned_at", "pk"
    )


@dataclass(frozen=True)
class LocalAmount:
    """A total in the program's local currency, at the rate of the day it was computed."""

    currency: str
    rate: Decimal
    total: Decimal


def local_amount(*, vendor: Vendor, program: Program, total: Decimal) -> LocalAmount | None:
    """The local-currency total owed, when the vendor is paid in it and the program has one."""
    if vendor.payout != Vendor.Payout.LOCAL or not program.local_currency:
        return None
    if program.local_rate is None:  # the database refuses a currency without a rate
        return None
    return LocalAmount(
        currency=program.local_currency,
        rate=program.local_rate,
        total=quantize(total * program.local_rate),
    )


def statement_local(statement: Statement) -> LocalAmount | None:
    """The local-currency total snapshotted on `statement`, if it is paid in one."""
    if statement.local_total is None or statement.local_rate is None:
        return None
    return LocalAmount(
        currency=statement.local_currency, rate=statement.local_rate, total=statement.local_total
    )


@dataclass(frozen=True)
class StatementPreview:
    """What a statement made now would hold (nothing is written)."""

    vendor: Vendor
    program: Program
    start: datetime.date
    end: datetime.date
    lines: QuerySet[Redemption]  # lazy: the view paginates it
    count: int
    total: Decimal
    local: LocalAmount | None


def _totals(redemptions: QuerySet[Redemption]) -> tuple[int, Decimal]:
    totals = redemptions.order_by().aggregate(count=Count("pk"), total=Sum("value"))
    return totals["count"] or 0, quantize(totals["total"] or ZERO)


def preview_statement(
    *, vendor: Vendor, program: Program, start: datetime.date, end: datetime.date
) -> StatementPreview:
    """The lines and totals a statement for this vendor, program and period would have."""
    redemptions = reimbursable_redemptions(vendor=vendor, program=program, start=start, end=end)
    count, total = _totals(redemptions)
    return StatementPreview(
        vendor=vendor,
        program=program,
        start=start,
        end=end,
        lines=redemptions.select_related("coupon", "market", "category").order_by(
            "scanned_at", "pk"
        ),
        count=count,
        total=total,
        local=local_amount(vendor=vendor, program=program, total=total),
    )


# Services --------------------------------------------------------------------------------------


def _day(value: datetime.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def check_statement(
    *,
    vendor: Vendor,
    program: Program,
    period_start: datetime.date,
    period_end: datetime.date,
    user: AnyUser,
) -> None:
    """Raise the StatementError that `create_statement` would raise before looking at the
    redemptions (the preparation page runs it without writing anything)."""
    if period_end < period_start:
        raise StatementError(
            "invalid_period", _("La date de début doit précéder (ou égaler) la date de fin.")
        )
    if period_end > timezone.localdate():
        raise StatementError(
            "period_in_future",
            _("La période ne peut pas finir après aujourd'hui ({today}).").format(
                today=_day(timezone.localdate())
            ),
        )
    sells_for_program = (
        vendor.markets.filter(programs=program).exists()
        or Redemption.objects.filter(vendor=vendor, program=program).exists()
    )
    if not sells_for_program:
        raise StatementError(
            "not_a_vendor_of_program",
            _(
                "{vendor} ne vend à aucun marché qui accepte les coupons du programme {program}."
            ).format(vendor=vendor.name, program=program.name),
        )
    if not can_manage_statements_of(user, vendor=vendor, program=program):
        raise StatementError(
            "not_allowed",
            _(
                "Vous ne pouvez pas préparer les relevés de {vendor} pour le programme {program}."
            ).format(vendor=vendor.name, program=program.name),
        )


def create_statement(
    *,
    vendor: Vendor,
    program: Program,
    period_start: datetime.date,
    period_end: datetime.date,
    created_by: User,
) -> Statement:
    """A draft statement of what `program` owes `vendor` for the period.

    Any number of statements may be made for a vendor and program, for any periods: what is
    already on another statement is simply not included. A period with nothing left to
    reimburse is refused (`empty_period`) and writes nothing.
    """
    check_statement(
        vendor=vendor,
        program=program,
        period_start=period_start,
        period_end=period_end,
        user=created_by,
    )
    with transaction.atomic():
        statement = Statement.objects.create(
            program=program,
            vendor=vendor,
            period_start=period_start,
            period_end=period_end,
            total=ZERO,
            redemption_count=0,
            payout=Vendor.Payout.DOLLARS,
            created_by=created_by,
        )
        candidates = reimbursable_redemptions(
            vendor=vendor, program=program, start=period_start, end=period_end
        )
        # Two statements made at once for overlapping periods: both lock the candidates in the
        # same (primary key) order, so one waits for the other instead of each holding rows the
        # other needs (a deadlock). PostgreSQL then re-checks the waiting one's conditions on
        # the rows the first committed, and leaves them out.
        list(candidates.order_by("pk").select_for_update().values_list("pk", flat=True))
        # The conditional UPDATE is what guarantees "at most once", on every database: a row
        # already on a statement (or no longer owed: taken over, undone) is not written.
        taken = candidates.update(statement=statement)
        if not taken:
            raise StatementError(
                "empty_period",
                _(
                    "Rien à rembourser à {vendor} du {start} au {end} : aucun échange accepté "
                    "dans cette période, ou ils figurent déjà sur un autre relevé."
                ).format(vendor=vendor.name, start=_day(period_start), end=_day(period_end)),
            )
        count, total = _totals(Redemption.objects.filter(statement=statement))
        local = local_amount(vendor=vendor, program=program, total=total)
        statement.redemption_count = count
        statement.total = total
        if local is not None:
            statement.payout = Vendor.Payout.LOCAL
            statement.local_currency = local.currency
            statement.local_rate = local.rate
            statement.local_total = local.total
        statement.save(
            update_fields=[
                "redemption_count",
                "total",
                "payout",
                "local_currency",
                "local_rate",
                "local_total",
            ]
        )
    logger.info(
        "statement %s made for vendor %s, program %s: %s redemptions, %s",
        statement.pk,
        vendor.pk,
        program.pk,
        count,
        total,
    )
    return statement


def _require_manager(user: User, statement: Statement) -> None:
    if not can_manage_statement(user, statement):
        raise StatementError(
            "not_allowed", _("Vous ne pouvez pas modifier ce relevé de remboursement.")
        )


def _state_error(statement: Statement) -> StatementError:
    """Why a change that expected another status found none to make."""
    status = Statement.objects.filter(pk=statement.pk).values_list("status", flat=True).first()
    if status is None:
        return StatementError("not_found", _("Ce relevé n'existe plus (brouillon supprimé)."))
    if status == Statement.Status.DRAFT:
        return StatementError(
            "not_approved", _("Approuvez d'abord ce relevé : c'est encore un brouillon.")
        )
    if status == Statement.Status.APPROVED:
        return StatementError("already_approved", _("Ce relevé est déjà approuvé."))
    return StatementError("already_paid", _("Ce relevé est déjà payé."))


def approve_statement(*, statement: Statement, approved_by: User) -> Statement:
    """Approve a draft: its lines and totals are final (checked against its redemptions)."""
    _require_manager(approved_by, statement)
    with transaction.atomic():
        locked = Statement.objects.select_for_update().filter(pk=statement.pk).first()
        if locked is None or locked.status != Statement.Status.DRAFT:
            raise _state_error(statement)
        count, total = _totals(Redemption.objects.filter(statement=locked))
        if (count, total) != (locked.redemption_count, locked.total):
            raise StatementError(
                "total_mismatch",
                _(
                    "Le total de ce relevé ne correspond plus à ses échanges : supprimez ce "
                    "brouillon et préparez-le de nouveau."
                ),
            )
        Statement.objects.filter(pk=locked.pk, status=Statement.Status.DRAFT).update(
            status=Statement.Status.APPROVED,
            approved_by=approved_by,
            approved_at=timezone.now(),
        )
    logger.info("statement %s approved by user %s", statement.pk, approved_by.pk)
    statement.refresh_from_db()
    return statement


def mark_statement_paid(*, statement: Statement, reference: str, paid_by: User) -> Statement:
    """Record that an approved statement was paid, with the payment's reference (a transfer or
    cheque number, 1 to 80 characters)."""
    reference = " ".join((reference or "").split())
    if not reference or len(reference) > REFERENCE_MAX_LENGTH:
        raise StatementError(
            "reference_required",
            _("Indiquez la référence du paiement (1 à {max} caractères).").format(
                max=REFERENCE_MAX_LENGTH
            ),
        )
    _require_manager(paid_by, statement)
    updated = Statement.objects.filter(pk=statement.pk, status=Statement.Status.APPROVED).update(
        status=Statement.Status.PAID,
        paid_by=paid_by,
        paid_at=timezone.now(),
        paid_reference=reference,
    )
    if not updated:
        raise _state_error(statement)
    logger.info("statement %s paid (%s) by user %s", statement.pk, reference, paid_by.pk)
    statement.refresh_from_db()
    return statement


def discard_statement(*, statement: Statement, discarded_by: User) -> int:
    """Delete a draft and release its redemptions for another statement; returns how many."""
    _require_manager(discarded_by, statement)
    with transaction.atomic():
        # Locked: an approval arriving meanwhile waits, then finds no draft to approve.
        locked = (
            Statement.objects.select_for_update()
            .filter(pk=statement.pk, status=Statement.Status.DRAFT)
            .first()
        )
        if locked is None:
            error = _state_error(statement)
            if error.code in {"already_approved", "already_paid"}:
                error = StatementError(
                    "not_draft",
                    _("Seul un brouillon peut être supprimé : ce relevé est déjà approuvé."),
                )
            raise error
        released = Redemption.objects.filter(statement=locked).update(statement=None)
        locked.delete()
    logger.info(
        "statement %s discarded by user %s: %s redemptions released",
        statement.pk,
        discarded_by.pk,
        released,
    )
    return released


# Exports ---------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{quantize(value):.2f}"


def write_statement_csv(statement: Statement, out: TextIO) -> None:
    """The statement as a spreadsheet: its facts, then one row per redemption, then the total.

    UTF-8 with a byte order mark (so that a spreadsheet reads the accents), amounts with a dot
    and two decimals; a cell a spreadsheet would run as a formula starts with an apostrophe.
    """
    currency = statement.program.currency
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    facts: list[tuple[str, object]] = [
        (_("Relevé de remboursement"), statement.pk),
        (_("Programme"), statement.program.name),
        (_("Marchand·e"), statement.vendor.name),
        (_("Du"), statement.period_start.isoformat()),
        (_("Au"), statement.period_end.isoformat()),
        (_("Statut"), statement.get_status_display()),
        (_("Référence du paiement"), statement.paid_reference),
        (_("Nombre d'échanges"), statement.redemption_count),
        (_("Total ({currency})").format(currency=currency), _amount(statement.total)),
    ]
    if statement.local_total is not None:
        facts += [
            (_("Monnaie locale"), statement.local_currency),
            (
                _("Taux (unités de monnaie locale pour 1 $)"),
                f"{statement.local_rate:.4f}" if statement.local_rate is not None else "",
            ),
            (
                _("Total en monnaie locale ({currency})").format(currency=statement.local_currency),
                _amount(statement.local_total),
            ),
        ]
    for label, value in facts:
        writer.writerow([_cell(label), _cell(value)])
    writer.writerow([])
    writer.writerow(
        [
            _("Date"),
            _("Heure"),
            _("Marché"),
            _("Coupon"),
            _("Catégorie"),
            _("État"),
            _("Valeur ({currency})").format(currency=currency),
        ]
    )
    for line in statement_lines(statement).iterator(chunk_size=500):
        scanned = timezone.localtime(line.scanned_at)
        writer.writerow(
            _cell(value)
            for value in (
                scanned.date().isoformat(),
                scanned.strftime("%H:%M"),
                line.market.name,
                line.coupon.serial,
                line.category.name if line.category else "",
                line.get_status_display(),
                _amount(line.value),
            )
        )
    writer.writerow([_("Total"), "", "", "", "", "", _amount(statement.total)])


def printable_statement(statement: Statement) -> PrintableStatement:
    """The statement as plain data for `marches.statement_pdf` (bilingual, Django-free)."""
    lines = [
        StatementLine(
            scanned_on=timezone.localdate(line.scanned_at),
            market=line.market.name,
            serial=line.coupon.serial,
            category_fr=line.category.name_fr if line.category else "",
            category_en=line.category.name_en if line.category else "",
            value=line.value,
            honoured=line.status == Redemption.Status.HONOURED,
        )
        for line in statement_lines(statement).iterator(chunk_size=500)
    ]
    return PrintableStatement(
        number=statement.pk,
        program_name=statement.program.name,
        vendor_name=statement.vendor.name,
        period_start=statement.period_start,
        period_end=statement.period_end,
        status=statement.status,
        lines=lines,
        count=statement.redemption_count,
        total=statement.total,
        local_currency=statement.local_currency,
        local_rate=statement.local_rate,
        local_total=statement.local_total,
        approved_on=timezone.localdate(statement.approved_at) if statement.approved_at else None,
        paid_on=timezone.localdate(statement.paid_at) if statement.paid_at else None,
        paid_reference=statement.paid_reference,
        generated_on=timezone.localdate(),
    )
