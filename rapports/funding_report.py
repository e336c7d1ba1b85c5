"""The funding report of a program, a territory or the whole network: where the money came from
(the ledger, by kind and by funder), what the coupons hold, and what the vendors were paid.

Every figure is aggregated in the database and grouped by program, so the report runs the same
five queries whatever the number of programs, coupons or redemptions: the programs, the ledger
by program and kind, the coupons by program, the redemptions by program, the contributions by
funder. The totals are the sums of the program lines, so a network's total is by construction
the sum of its programs.

The coupon statuses mean what they mean in `coupons.selectors.coupon_totals` (and the budget
guard): issued = not void = outstanding + redeemed + expired.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.models import Coupon
from financement.models import Contribution, LedgerEntry
from marches.models import Redemption, Statement
from programmes.models import Program, Territory
from programmes.money import ZERO, quantize
from rapports.report_types import Amount, FunderLine, FundingFigures, FundingReport, ProgramLine

DEFAULT_CURRENCY = "CAD"


# The scope of a report -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    """The programs a report covers, and how it names them. The caller has already checked that
    the user may read them (the object came from a scoped queryset)."""

    programs: QuerySet[Program]
    scope: str  # "program", "territory" or "network"
    label: str


def program_scope(program: Program) -> ReportScope:
    return ReportScope(Program.objects.filter(pk=program.pk), "program", program.name)


def territory_scope(territory: Territory) -> ReportScope:
    """Every program of the territory (an MRC or a city)."""
    return ReportScope(Program.objects.filter(territory=territory), "territory", str(territory))


def network_scope() -> ReportScope:
    """Every program of the network, for the province-wide report (network admins only)."""
    return ReportScope(Program.objects.all(), "network", _("Ensemble du réseau"))


# Shared helpers (the impact report uses them too) ----------------------------------------------


def amount(count: int | None, value: Decimal | None) -> Amount:
    return Amount(count or 0, quantize(value or ZERO))


def money_only(value: Decimal) -> Amount:
    """An amount for which no count applies (the funds, what is available)."""
    return Amount(None, quantize(value))


def add(amounts: Iterable[Amount]) -> Amount:
    """The sum of amounts; a count stays None when none of them has one."""
    amounts = list(amounts)
    counts = [a.count for a in amounts if a.count is not None]
    value = quantize(sum((a.value or ZERO for a in amounts), ZERO))
    if amounts and not counts:
        return Amount(None, value)
    return Amount(sum(counts), value)


def program_ids(programs: QuerySet[Program]) -> QuerySet[Program, Any]:
    """The programs as a subquery of primary keys (a scoped queryset may be ordered or joined)."""
    return programs.order_by().values("pk")


# Coupon statuses, as in coupons.selectors.coupon_totals.
def coupon_filters(today: datetime.date) -> dict[str, Q]:
    return {
        "issued": ~Q(status=Coupon.Status.VOID),
        "outstanding": Q(status=Coupon.Status.ISSUED, valid_until__gte=today),
        "redeemed": Q(status=Coupon.Status.REDEEMED),
        "expired": Q(status=Coupon.Status.ISSUED, valid_until__lt=today),
        "void": Q(status=Coupon.Status.VOID),
    }


def _counted(filters: Mapping[str, Q], value: str = "value") -> dict[str, Any]:
    """`<name>_n` (a count) and `<name>_v` (a sum of `value`) for each filter."""
    annotations: dict[str, Any] = {}
    for name, condition in filters.items():
        annotations[f"{name}_n"] = Count("pk", filter=condition)
        annotations[f"{name}_v"] = Sum(value, filter=condition)
    return annotations


def _amount_of(row: Mapping[str, Any], name: str) -> Amount:
    return amount(row.get(f"{name}_n"), row.get(f"{name}_v"))


# The queries ----------------------------------------------------------------------------------


def _ledger_by_program(programs: QuerySet[Program]) -> dict[int, dict[str, Amount]]:
    rows = (
        LedgerEntry.objects.filter(program__in=program_ids(programs))
        .order_by()
        .values("program_id", "kind")
        .annotate(n=Count("pk"), v=Sum("amount"))
    )
    found: dict[int, dict[str, Amount]] = {}
    for row in rows:
        found.setdefault(row["program_id"], {})[row["kind"]] = amount(row["n"], row["v"])
    return found


def _coupons_by_program(
    programs: QuerySet[Program], today: datetime.date
) -> dict[int, dict[str, Any]]:
    rows = (
        Coupon.objects.filter(program__in=program_ids(programs))
        .order_by()
        .values("program_id")
        .annotate(**_counted(coupon_filters(today)))
    )
    return {row["program_id"]: row for row in rows}


def reimbursable_filters() -> dict[str, Q]:
    """What the vendors were paid (on a paid statement), what they are owed (on no statement,
    or on a draft or approved one), and the double scans honoured as a loss."""
    reimbursable = Q(status__in=Redemption.REIMBURSABLE)
    paid = Q(statement__status=Statement.Status.PAID)
    return {
        "reimbursed": reimbursable & paid,
        # The statement is a nullable foreign key: ~paid also holds where there is none.
        "awaiting": reimbursable & ~paid,
        "honoured": Q(status=Redemption.Status.HONOURED),
    }


def _redemptions_by_program(programs: QuerySet[Program]) -> dict[int, dict[str, Any]]:
    rows = (
        Redemption.objects.filter(program__in=program_ids(programs))
        .order_by()
        .values("program_id")
        .annotate(**_counted(reimbursable_filters()))
    )
    return {row["program_id"]: row for row in rows}


def _by_funder(programs: QuerySet[Program]) -> list[FunderLine]:
    rows = (
        Contribution.objects.filter(program__in=program_ids(programs))
        .order_by()
        .values("funder__name", "funder__kind")
        .annotate(n=Count("pk"), v=Sum("amount"))
    )
    lines = [
        FunderLine(
            funder=row["funder__name"],
            kind=row["funder__kind"],
            contributions=amount(row["n"], row["v"]),
        )
        for row in rows
    ]
    # Largest first, then by name the same way on every database (collations differ).
    return sorted(lines, key=lambda line: (-(line.contributions.value or ZERO), line.funder))


def _figures(
    ledger: Mapping[str, Amount], coupons: Mapping[str, Any], redemptions: Mapping[str, Any]
) -> FundingFigures:
    nothing = amount(0, ZERO)
    kinds = {kind: ledger.get(kind, nothing) for kind in LedgerEntry.Kind.values}
    funds = add(kinds.values()).value or ZERO
    outstanding = _amount_of(coupons, "outstanding")
    redeemed = _amount_of(coupons, "redeemed")
    return FundingFigures(
        contributions=kinds[LedgerEntry.Kind.CONTRIBUTION],
        donations=kinds[LedgerEntry.Kind.DONATION],
        sales=kinds[LedgerEntry.Kind.SALE],
        refunds=kinds[LedgerEntry.Kind.REFUND],
        funds=money_only(funds),
        available=money_only(funds - (outstanding.value or ZERO) - (redeemed.value or ZERO)),
        issued=_amount_of(coupons, "issued"),
        outstanding=outstanding,
        redeemed=redeemed,
        expired=_amount_of(coupons, "expired"),
        void=_amount_of(coupons, "void"),
        reimbursed=_amount_of(redemptions, "reimbursed"),
        awaiting_reimbursement=_amount_of(redemptions, "awaiting"),
        conflicts_honoured=_amount_of(redemptions, "honoured"),
    )


def sum_figures(figures: Iterable[FundingFigures]) -> FundingFigures:
    figures = list(figures)
    if not figures:
        return _figures({}, {}, {})
    names = FundingFigures.__dataclass_fields__
    return FundingFigures(**{name: add(getattr(f, name) for f in figures) for name in names})


def funding_report(
    programs: QuerySet[Program],
    *,
    scope: str,
    label: str,
    today: datetime.date | None = None,
) -> FundingReport:
    """The funding report of `programs` (already scoped to the reader), in five queries."""
    today = today or timezone.localdate()
    listed = list(programs.select_related("territory").order_by("name", "pk"))
    ledger = _ledger_by_program(programs)
    coupons = _coupons_by_program(programs, today)
    redemptions = _redemptions_by_program(programs)
    lines = [
        ProgramLine(
            slug=program.slug,
            name=program.name,
            territory=str(program.territory),
            funding=_figures(
                ledger.get(program.pk, {}),
                coupons.get(program.pk, {}),
                redemptions.get(program.pk, {}),
            ),
        )
        for program in listed
    ]
    lines.sort(key=lambda line: (line.name.casefold(), line.slug))
    currencies = {program.currency for program in listed}
    return FundingReport(
        scope=scope,
        label=label,
        currency=currencies.pop() if len(currencies) == 1 else DEFAULT_CURRENCY,
        today=today,
        programs=lines,
        totals=sum_figures(line.funding for line in lines),
        by_funder=_by_funder(programs),
    )
