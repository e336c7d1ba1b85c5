"""The impact report: households reached, money spent locally, where, when, on what, how often;
and a number of queries that does not grow."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from coupons.models import Coupon
from marches.models import Market, Redemption, Vendor
from programmes.models import Program
from rapports.funding_report import ReportScope, network_scope, program_scope, territory_scope
from rapports.impact_report import impact_report
from rapports.report_types import Amount, Breakdown, ImpactReport
from tests import factories as f
from tests.rapports.conftest import BulkMaker, Season

pytestmark = pytest.mark.django_db

# Households by size, coupon totals, money spent, by market, by week, by category, repeat use.
IMPACT_QUERIES = 8


def report_of(scope: ReportScope, today: datetime.date | None = None) -> ImpactReport:
    return impact_report(scope.programs, scope=scope.scope, label=scope.label, today=today)


def count_queries(run: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as context:
        run()
    return len(context.captured_queries)


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def spend(
    program: Program,
    market: Market,
    vendor: Vendor,
    at: datetime.datetime,
    *,
    household: Any = None,
    status: str = "accepted",
    value: str = "5.00",
) -> Redemption:
    """A coupon of `program` redeemed at `at` (rows written directly: only the report's reading
    of them is under test here)."""
    coupon = f.CouponFactory(
        program=program,
        household=household,
        value=Decimal(value),
        status="redeemed",
        redeemed_at=at,
        valid_from=program.season_start,
        valid_until=program.season_end,
    )
    return Redemption.objects.create(
        coupon=coupon,
        program=program,
        vendor=vendor,
        market=market,
        client_id=uuid.uuid4(),
        value=coupon.value,
        status=status,
        scanned_at=at,
    )


# Households -------------------------------------------------------------------------------------


def test_households_reached_by_size_with_children_and_people(season: Season) -> None:
    report = report_of(program_scope(season.a), season.today)

    # h1 (1), h2 (2), h3 (3), h5 (5), h6 (6); "voided" had every coupon voided, "never" none.
    assert report.households == 5
    assert report.people == 1 + 2 + 3 + 5 + 6
    assert report.households_with_children == 4
    assert report.by_household_size == [
        Breakdown(key="1", label="1 personne", households=1),
        Breakdown(key="2", label="2 personnes", households=1),
        Breakdown(key="3", label="3 personnes", households=1),
        Breakdown(key="4", label="4 personnes", households=0),
        Breakdown(key="5+", label="5 personnes ou plus", households=2),
    ]


def test_a_household_whose_last_live_coupon_is_voided_is_no_longer_reached() -> None:
    program = f.ProgramFactory()
    household = f.HouseholdFactory(program=program)
    coupon = f.CouponFactory(program=program, household=household)
    assert report_of(program_scope(program)).households == 1

    Coupon.objects.filter(pk=coupon.pk).update(status="void", voided_at=timezone.now())

    assert report_of(program_scope(program)).households == 0


def test_an_empty_program_reports_zeros_and_no_share() -> None:
    program = f.ProgramFactory()

    report = report_of(program_scope(program))

    assert (report.households, report.people, report.households_with_children) == (0, 0, 0)
    assert [row.households for row in report.by_household_size] == [0, 0, 0, 0, 0]
    assert report.share_used is None
    assert report.spent_local == Amount(0, Decimal("0.00"))
    assert (report.vendors, report.markets) == (0, 0)
    assert report.by_market == report.by_week == report.by_category == []
    assert (report.repeat_households, report.loyal_households) == (0, 0)
    assert report.suppressed == []


# Money spent ------------------------------------------------------------------------------------


def test_money_spent_counts_accepted_and_honoured_scans_only(season: Season) -> None:
    report = report_of(program_scope(season.a), season.today)

    spent = Redemption.objects.filter(coupon__program=season.a, status__in=["accepted", "honoured"])
    assert report.spent_local == Amount(spent.count(), sum(r.value for r in spent))
    assert report.vendors == 2  # v1 and v2 (v3 sells for b only)
    assert report.markets == 2


def test_the_share_used_is_redeemed_over_issued(season: Season) -> None:
    report = report_of(program_scope(season.b), season.today)

    # b1 (3 people): $30 as six $5 coupons, two spent.
    assert report.share_used == Decimal("0.3333")


def test_by_market_sorted_by_name(season: Season) -> None:
    report = report_of(network_scope(), season.today)

    assert [(row.key, row.label) for row in report.by_market] == [
        ("deschambault", "Marché de Deschambault"),
        ("saint-casimir", "Marché de Saint-Casimir"),
        ("sainte-flavie", "Marché de Sainte-Flavie"),
    ]
    # Deschambault takes a and b: the territory's report counts a's scans there only.
    portneuf = report_of(territory_scope(season.portneuf), season.today)
    shared = {row.key: row.redemptions for row in portneuf.by_market}["deschambault"]
    whole = {row.key: row.redemptions for row in report.by_market}["deschambault"]
    assert shared is not None and whole is not None
    assert shared.count == whole.count - 1


def test_by_category_with_the_unnamed_last_and_translated(season: Season) -> None:
    report = report_of(program_scope(season.a), season.today)

    assert [(row.key, row.label) for row in report.by_category] == [
        ("fruits-legumes", "Fruits et légumes"),
        ("oeufs", "Œufs"),
        ("none", "Non précisée"),
    ]
    with translation.override("en"):
        english = report_of(program_scope(season.a), season.today)
    # Sorted by the reader's language; the unnamed stay last.
    assert [(row.key, row.label) for row in english.by_category] == [
        ("oeufs", "Eggs"),
        ("fruits-legumes", "Fruits and vegetables"),
        ("none", "Not specified"),
    ]


def test_weeks_are_keyed_by_their_local_monday_with_quiet_weeks_filled() -> None:
    program = f.ProgramFactory(season_start=datetime.date(2026, 6, 1))
    market = f.MarketFactory(program=program)
    vendor = f.VendorFactory(market=market)
    # Sunday 5 July, 23:30 in Quebec is already Monday in UTC: it belongs to the week of 29 June.
    spend(program, market, vendor, local(datetime.date(2026, 7, 5), 23, 30))
    spend(program, market, vendor, local(datetime.date(2026, 6, 29), 0, 15))
    spend(program, market, vendor, local(datetime.date(2026, 7, 14), 10), value="2.00")
    spend(program, market, vendor, local(datetime.date(2026, 7, 27), 10), status="refused")

    report = report_of(program_scope(program))

    assert [(row.key, row.label, row.redemptions) for row in report.by_week] == [
        ("2026-06-29", "Semaine du 29 juin 2026", Amount(2, Decimal("10.00"))),
        ("2026-07-06", "Semaine du 6 juillet 2026", Amount(0, Decimal("0.00"))),
        ("2026-07-13", "Semaine du 13 juillet 2026", Amount(1, Decimal("2.00"))),
    ]


def test_repeat_use_counts_households_by_their_distinct_weeks(season: Season) -> None:
    report = report_of(program_scope(season.a), season.today)

    # h1 spent in four weeks, h3 in two; h2 twice in one week; bearer coupons have no household.
    assert (report.repeat_households, report.loyal_households) == (2, 1)


def test_refused_and_undone_scans_are_no_repeat_use() -> None:
    program = f.ProgramFactory(season_start=datetime.date(2026, 6, 1))
    market = f.MarketFactory(program=program)
    vendor = f.VendorFactory(market=market)
    household = f.HouseholdFactory(program=program)
    spend(program, market, vendor, local(datetime.date(2026, 6, 3), 10), household=household)
    for status, day in (("refused", 10), ("undone", 17), ("conflict", 24)):
        at = local(datetime.date(2026, 6, day), 10)
        spend(program, market, vendor, at, household=household, status=status)

    report = report_of(program_scope(program))

    assert (report.repeat_households, report.loyal_households) == (0, 0)
    assert report.spent_local.count == 1


def test_the_labels_and_scope_are_the_callers(season: Season) -> None:
    report = report_of(territory_scope(season.portneuf), season.today)

    assert (report.scope, report.label, report.today) == (
        "territory",
        "MRC Portneuf",
        season.today,
    )


# Queries ----------------------------------------------------------------------------------------


def test_the_report_runs_seven_queries(season: Season, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(IMPACT_QUERIES):
        report_of(network_scope(), season.today)


def test_the_number_of_queries_does_not_grow_with_the_programs(make_redemptions: BulkMaker) -> None:
    first = f.ProgramFactory(slug="premier")
    make_redemptions(first, 10)
    with_one = count_queries(lambda: report_of(network_scope()))
    for index in range(4):
        make_redemptions(f.ProgramFactory(slug=f"autre-{index}"), 10)

    with_five = count_queries(lambda: report_of(network_scope()))

    assert with_one == with_five <= IMPACT_QUERIES
    assert report_of(network_scope()).households == 50


def test_the_number_of_queries_does_not_grow_with_the_redemptions(
    make_redemptions: BulkMaker,
) -> None:
    small, large = f.ProgramFactory(slug="petit"), f.ProgramFactory(slug="grand")
    make_redemptions(small, 10)
    make_redemptions(large, 200)

    with_10 = count_queries(lambda: report_of(program_scope(small)))
    with_200 = count_queries(lambda: report_of(program_scope(large)))

    assert with_10 == with_200 <= IMPACT_QUERIES
    report = report_of(program_scope(large))
    assert report.spent_local == Amount(200, Decimal("1000.00"))
    assert report.households == 200
    assert sum(row.households or 0 for row in report.by_household_size) == 200
    assert len(report.by_market) == 3
