"""The reports reconcile: every total is the sum of the rows it stands for, after redemptions,
voids, expiries, double scans honoured and refused, refunds and a paid statement.

The expected figures are computed here from the model rows, one row at a time in Python,
without the reports' queries: a total that left something out, or counted it twice, differs.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

import pytest

from coupons.models import Coupon
from coupons.selectors import coupon_totals
from financement.models import Contribution, LedgerEntry
from marches.models import Redemption, Statement
from programmes.models import Program
from rapports.funding_report import (
    funding_report,
    network_scope,
    program_scope,
    territory_scope,
)
from rapports.impact_report import impact_report
from rapports.report_types import Amount, FundingFigures, FundingReport
from tests.rapports.conftest import Season

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")
SPENT = (Redemption.Status.ACCEPTED, Redemption.Status.HONOURED)


def total(rows: Iterable[Decimal]) -> Decimal:
    return sum(rows, ZERO)


def counted(values: list[Decimal]) -> Amount:
    return Amount(len(values), total(values))


def expected_figures(programs: list[Program], today: datetime.date) -> FundingFigures:
    """The funding figures of `programs`, row by row."""
    ids = {program.pk for program in programs}
    entries = [e for e in LedgerEntry.objects.all() if e.program_id in ids]
    coupons = [c for c in Coupon.objects.all() if c.program_id in ids]
    redemptions = [
        r for r in Redemption.objects.select_related("coupon") if r.coupon.program_id in ids
    ]
    paid = set(Statement.objects.filter(status="paid").values_list("pk", flat=True))

    def entries_of(kind: str) -> Amount:
        return counted([e.amount for e in entries if e.kind == kind])

    def coupons_where(keep: Callable[[Coupon], bool]) -> Amount:
        return counted([c.value for c in coupons if keep(c)])

    funds = total(e.amount for e in entries)
    outstanding = coupons_where(lambda c: c.status == "issued" and c.valid_until >= today)
    redeemed = coupons_where(lambda c: c.status == "redeemed")
    return FundingFigures(
        contributions=entries_of("contribution"),
        donations=entries_of("donation"),
        sales=entries_of("sale"),
        refunds=entries_of("refund"),
        funds=Amount(None, funds),
        available=Amount(None, funds - outstanding.value - redeemed.value),
        issued=coupons_where(lambda c: c.status != "void"),
        outstanding=outstanding,
        redeemed=redeemed,
        expired=coupons_where(lambda c: c.status == "issued" and c.valid_until < today),
        void=coupons_where(lambda c: c.status == "void"),
        reimbursed=counted(
            [r.value for r in redemptions if r.status in SPENT and r.statement_id in paid]
        ),
        awaiting_reimbursement=counted(
            [r.value for r in redemptions if r.status in SPENT and r.statement_id not in paid]
        ),
        conflicts_honoured=counted([r.value for r in redemptions if r.status == "honoured"]),
    )


def network(season: Season) -> FundingReport:
    scope = network_scope()
    return funding_report(scope.programs, scope=scope.scope, label=scope.label, today=season.today)


def test_the_season_has_every_kind_of_movement(season: Season) -> None:
    """The fixture itself: what the reconciliation below must survive."""
    statuses = set(Redemption.objects.values_list("status", flat=True))
    assert statuses == {"accepted", "honoured", "refused", "undone"}
    assert set(LedgerEntry.objects.values_list("kind", flat=True)) == set(LedgerEntry.Kind.values)
    assert Statement.objects.filter(status="paid").exists()
    assert Statement.objects.filter(status="approved").exists()
    report = network(season)
    for name in ("outstanding", "redeemed", "expired", "void", "reimbursed"):
        assert getattr(report.totals, name).count > 0, name
    assert report.totals.awaiting_reimbursement.count > 0
    assert report.totals.conflicts_honoured.count == 1


def test_every_program_line_is_the_sum_of_its_rows(season: Season) -> None:
    report = network(season)

    lines = {line.slug: line.funding for line in report.programs}
    for program in season.programs:
        assert lines[program.slug] == expected_figures([program], season.today), program.slug


def test_the_network_total_is_the_sum_of_its_rows_and_of_its_programs(season: Season) -> None:
    report = network(season)

    assert report.totals == expected_figures(season.programs, season.today)
    for name in FundingFigures.__dataclass_fields__:
        lines = [getattr(line.funding, name) for line in report.programs]
        assert getattr(report.totals, name).value == total(a.value for a in lines), name


def test_issued_splits_into_outstanding_redeemed_and_expired(season: Season) -> None:
    report = network(season)

    for figures in [report.totals, *(line.funding for line in report.programs)]:
        parts = (figures.outstanding, figures.redeemed, figures.expired)
        assert figures.issued.count == sum(p.count for p in parts)
        assert figures.issued.value == total(p.value for p in parts)
        assert figures.available.value == (
            figures.funds.value - figures.outstanding.value - figures.redeemed.value
        )
        money_in = (figures.contributions, figures.donations, figures.sales, figures.refunds)
        assert figures.funds.value == total(p.value for p in money_in)


def test_the_funds_are_the_ledger_after_the_refund(season: Season) -> None:
    figures = network(season).totals

    assert figures.refunds == Amount(1, Decimal("-20.00"))
    assert figures.donations == Amount(1, Decimal("50.00"))
    assert figures.funds.value == Decimal("7850.00")  # 7 800 + 50 − 20 + 20


def test_what_is_reimbursed_is_what_the_paid_statements_say(season: Season) -> None:
    figures = network(season).totals

    paid = Statement.objects.filter(status="paid")
    assert figures.reimbursed.value == total(s.total for s in paid)
    assert figures.reimbursed.count == sum(s.redemption_count for s in paid)
    spent = Redemption.objects.filter(status__in=SPENT)
    assert figures.reimbursed.count + figures.awaiting_reimbursement.count == spent.count()


def test_the_coupon_figures_are_those_of_coupon_totals(season: Season) -> None:
    """One definition of issued, outstanding, redeemed, expired and void."""
    report = network(season)

    totals = coupon_totals(Program.objects.all(), today=season.today)
    for name in ("issued", "outstanding", "redeemed", "expired", "void"):
        figure = getattr(totals, name)
        assert getattr(report.totals, name) == Amount(figure.count, figure.value), name


def test_contributions_by_funder_add_up_to_the_contributions(season: Season) -> None:
    report = network(season)

    assert total(line.contributions.value for line in report.by_funder) == (
        report.totals.contributions.value
    )
    by_funder: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for contribution in Contribution.objects.select_related("funder"):
        by_funder[contribution.funder.name] += contribution.amount
    assert {line.funder: line.contributions.value for line in report.by_funder} == by_funder


def test_a_program_and_a_territory_reconcile_with_the_network(season: Season) -> None:
    lines = {line.slug: line.funding for line in network(season).programs}

    scope = program_scope(season.a)
    alone = funding_report(scope.programs, scope=scope.scope, label=scope.label, today=season.today)
    assert alone.totals == lines["portneuf"]
    assert [line.slug for line in alone.programs] == ["portneuf"]

    scope = territory_scope(season.portneuf)
    territory = funding_report(
        scope.programs, scope=scope.scope, label=scope.label, today=season.today
    )
    assert [line.slug for line in territory.programs] == ["portneuf", "portneuf-jeunesse"]
    assert territory.totals == expected_figures([season.a, season.c], season.today)
    assert territory.label == "MRC Portneuf"


# The impact report ----------------------------------------------------------------------------


def test_the_impact_report_counts_what_the_rows_say(season: Season) -> None:
    scope = network_scope()
    report = impact_report(scope.programs, scope=scope.scope, label=scope.label, today=season.today)

    reached = {
        c.household_id: c.household
        for c in Coupon.objects.select_related("household").exclude(status="void")
        if c.household_id is not None
    }
    assert report.households == len(reached)
    assert report.people == sum(h.adults + h.children for h in reached.values())
    assert report.households_with_children == sum(1 for h in reached.values() if h.children)
    assert sum(row.households or 0 for row in report.by_household_size) == report.households

    spent = list(Redemption.objects.filter(status__in=SPENT))
    assert report.spent_local == counted([r.value for r in spent])
    assert report.vendors == len({r.vendor_id for r in spent})
    assert report.markets == len({r.market_id for r in spent})
    for breakdown in (report.by_market, report.by_week, report.by_category):
        amounts = [row.redemptions for row in breakdown if row.redemptions is not None]
        assert sum(a.count or 0 for a in amounts) == report.spent_local.count
        assert total(a.value or ZERO for a in amounts) == report.spent_local.value

    coupons = list(Coupon.objects.exclude(status="void"))
    issued = total(c.value for c in coupons)
    redeemed = total(c.value for c in coupons if c.status == "redeemed")
    assert report.share_used == (redeemed / issued).quantize(Decimal("0.0001"))


def test_the_impact_report_of_the_network_sums_its_programs(season: Season) -> None:
    scope = network_scope()
    whole = impact_report(scope.programs, scope=scope.scope, label=scope.label, today=season.today)
    parts = []
    for program in season.programs:
        scope = program_scope(program)
        parts.append(
            impact_report(scope.programs, scope=scope.scope, label=scope.label, today=season.today)
        )

    for name in ("households", "people", "households_with_children", "repeat_households"):
        assert getattr(whole, name) == sum(getattr(part, name) for part in parts), name
    assert whole.spent_local.value == total(part.spent_local.value for part in parts)
    # A market shared by two programs is one market of the network, counted once.
    assert whole.markets < sum(part.markets for part in parts)
