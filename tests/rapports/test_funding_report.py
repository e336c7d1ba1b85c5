"""The funding report: its figures, its scopes, and a number of queries that does not grow."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coupons.models import Coupon
from financement.models import Funder
from financement.services import record_contribution
from marches.models import Redemption, Statement
from programmes.models import Program
from programmes.selectors import programs_for
from rapports.funding_report import (
    ReportScope,
    funding_report,
    network_scope,
    program_scope,
    territory_scope,
)
from rapports.report_types import Amount, FundingReport
from tests import factories as f
from tests.rapports.conftest import BulkMaker, Season

pytestmark = pytest.mark.django_db

# The programs, the ledger by program and kind, the coupons by program, the redemptions by
# program, the contributions by funder.
FUNDING_QUERIES = 5


def report_of(scope: ReportScope, today: datetime.date | None = None) -> FundingReport:
    return funding_report(scope.programs, scope=scope.scope, label=scope.label, today=today)


def count_queries(run: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as context:
        run()
    return len(context.captured_queries)


# Figures ---------------------------------------------------------------------------------------


def test_a_program_with_nothing_yet_has_zero_everywhere() -> None:
    program = f.ProgramFactory(budget=Decimal("0.00"))

    report = report_of(program_scope(program))

    figures = report.totals
    assert figures.funds == Amount(None, Decimal("0.00"))
    assert figures.available == Amount(None, Decimal("0.00"))
    assert figures.issued == Amount(0, Decimal("0.00"))
    assert figures.reimbursed == Amount(0, Decimal("0.00"))
    assert report.by_funder == []
    assert [line.slug for line in report.programs] == [program.slug]
    assert report.today == timezone.localdate()
    assert report.currency == "CAD"


def test_an_empty_scope_gives_an_empty_report() -> None:
    report = funding_report(Program.objects.none(), scope="network", label="Réseau")

    assert report.programs == []
    assert report.totals.funds == Amount(None, Decimal("0.00"))
    assert report.totals.issued == Amount(0, Decimal("0.00"))


def test_funds_not_yet_promised_to_a_coupon_are_available() -> None:
    program = f.ProgramFactory(budget=Decimal("1000.00"))
    f.CouponFactory(program=program, value=Decimal("5.00"))
    f.CouponFactory(
        program=program,
        value=Decimal("2.00"),
        status=Coupon.Status.REDEEMED,
        redeemed_at=timezone.now(),
    )
    f.CouponFactory(program=program, value=Decimal("5.00"), status="void", voided_at=timezone.now())

    figures = report_of(program_scope(program)).totals

    assert figures.funds.value == Decimal("1000.00")
    assert figures.issued == Amount(2, Decimal("7.00"))
    assert figures.void == Amount(1, Decimal("5.00"))
    assert figures.available.value == Decimal("993.00")


def test_coupons_expire_the_day_after_their_last_valid_day() -> None:
    program = f.ProgramFactory()
    today = timezone.localdate()
    f.CouponFactory(program=program, valid_from=today, valid_until=today)

    assert report_of(program_scope(program)).totals.outstanding.count == 1
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1), tick=False):
        figures = report_of(program_scope(program)).totals
    assert figures.outstanding.count == 0
    assert figures.expired == Amount(1, Decimal("5.00"))
    # An expired coupon no longer holds money: it is available again.
    assert figures.available.value == figures.funds.value


def test_only_paid_statements_count_as_reimbursed(season: Season) -> None:
    figures = report_of(program_scope(season.a), season.today).totals
    paid = Statement.objects.get(status="paid")
    approved = Statement.objects.get(status="approved")

    assert figures.reimbursed == Amount(paid.redemption_count, paid.total)
    on_none = Redemption.objects.filter(
        coupon__program=season.a, status__in=Redemption.REIMBURSABLE, statement=None
    )
    assert figures.awaiting_reimbursement.count == approved.redemption_count + on_none.count()
    assert on_none.exists()


def test_paying_a_statement_moves_its_amount_from_awaiting_to_reimbursed(season: Season) -> None:
    before = report_of(program_scope(season.a), season.today).totals
    approved = Statement.objects.get(status="approved")

    Statement.objects.filter(pk=approved.pk).update(status="paid", paid_reference="VIR-2")

    after = report_of(program_scope(season.a), season.today).totals
    assert after.reimbursed.value == before.reimbursed.value + approved.total
    assert after.awaiting_reimbursement.value == (
        before.awaiting_reimbursement.value - approved.total
    )


def test_refused_and_undone_scans_are_owed_nothing(season: Season) -> None:
    figures = report_of(program_scope(season.a), season.today).totals

    owed = Redemption.objects.filter(coupon__program=season.a, status__in=["accepted", "honoured"])
    assert figures.reimbursed.count + figures.awaiting_reimbursement.count == owed.count()
    assert Redemption.objects.filter(status="refused").exists()
    assert Redemption.objects.filter(status="undone").exists()


def test_contributions_are_grouped_by_funder_largest_first(season: Season) -> None:
    report = report_of(program_scope(season.a), season.today)

    assert [(line.funder, line.kind, line.contributions) for line in report.by_funder] == [
        ("Fondation Lucie", "foundation", Amount(2, Decimal("3500.00"))),
        ("Ministère de l'Agriculture", "government", Amount(1, Decimal("2000.00"))),
    ]


def test_a_funder_of_one_program_only_shows_in_that_programs_report(season: Season) -> None:
    newcomer = Funder.objects.create(name="Caisse Desjardins", kind="business")
    record_contribution(
        program=season.b,
        funder=newcomer,
        amount=Decimal("250.00"),
        received_on=timezone.localdate(),
        recorded_by=None,
    )

    assert "Caisse Desjardins" not in [
        line.funder for line in report_of(program_scope(season.a)).by_funder
    ]
    assert "Caisse Desjardins" in [line.funder for line in report_of(network_scope()).by_funder]


# Scopes -----------------------------------------------------------------------------------------


def test_the_scopes_name_what_they_cover(season: Season) -> None:
    program = program_scope(season.a)
    territory = territory_scope(season.portneuf)
    network = network_scope()

    assert (program.scope, program.label) == ("program", "Programme Portneuf")
    assert (territory.scope, territory.label) == ("territory", "MRC Portneuf")
    assert (network.scope, network.label) == ("network", "Ensemble du réseau")
    assert set(territory.programs) == {season.a, season.c}
    assert set(network.programs) == set(season.programs)


def test_a_territory_report_lists_its_programs_by_name_with_their_territory(season: Season) -> None:
    report = report_of(territory_scope(season.portneuf), season.today)

    assert [(line.name, line.territory) for line in report.programs] == [
        ("Programme Portneuf", "MRC Portneuf"),
        ("Programme Portneuf jeunesse", "MRC Portneuf"),
    ]
    assert report.scope == "territory"
    # c has funds and nothing else.
    assert report.programs[1].funding.funds.value == Decimal("800.00")
    assert report.programs[1].funding.issued == Amount(0, Decimal("0.00"))


def test_a_users_scoped_queryset_may_be_given_as_is(season: Season) -> None:
    """An ordered, joined queryset of the programs a user may read (a subquery of its keys)."""
    theirs = report_of(network_scope(), season.today)
    other = f.ProgramFactory()
    programs = programs_for(season.coordinator).select_related("territory").order_by("-name")

    report = funding_report(programs, scope="program", label="Mes programmes", today=season.today)

    assert other.slug not in [line.slug for line in report.programs]
    assert report.totals == theirs.totals
    assert report.programs == theirs.programs


# Queries ----------------------------------------------------------------------------------------


def test_the_report_runs_five_queries(season: Season, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(FUNDING_QUERIES):
        report_of(network_scope(), season.today)


@pytest.mark.parametrize("scope", ["program", "network"])
def test_the_number_of_queries_does_not_grow_with_the_programs(
    make_redemptions: BulkMaker, scope: str
) -> None:
    def run() -> int:
        chosen = program_scope(first) if scope == "program" else network_scope()
        return count_queries(lambda: report_of(chosen))

    first = f.ProgramFactory(slug="premier")
    make_redemptions(first, 10)
    with_one = run()
    for index in range(4):
        program = f.ProgramFactory(slug=f"autre-{index}")
        make_redemptions(program, 10)
        f.CouponFactory(program=program, status="void", voided_at=timezone.now())

    assert run() == with_one <= FUNDING_QUERIES
    assert len(report_of(network_scope()).programs) == 5


def test_the_number_of_queries_does_not_grow_with_the_redemptions(
    make_redemptions: BulkMaker,
) -> None:
    small, large = f.ProgramFactory(slug="petit"), f.ProgramFactory(slug="grand")
    make_redemptions(small, 10)
    made = make_redemptions(large, 200)
    statement = Statement.objects.create(
        program=large,
        vendor=made[0].vendor,
        period_start=large.season_start,
        period_end=timezone.localdate(),
        status="paid",
        total=Decimal("5.00"),
        redemption_count=1,
        payout="dollars",
        created_by=f.UserFactory(),
        paid_reference="VIR-1",
    )
    Redemption.objects.filter(pk=made[0].pk).update(statement=statement)
    Redemption.objects.filter(pk=made[1].pk).update(status="conflict", client_id=uuid.uuid4())

    with_10 = count_queries(lambda: report_of(program_scope(small)))
    with_200 = count_queries(lambda: report_of(program_scope(large)))

    assert with_10 == with_200 <= FUNDING_QUERIES
    figures = report_of(program_scope(large)).totals
    assert figures.reimbursed == Amount(1, Decimal("5.00"))
    assert figures.awaiting_reimbursement == Amount(198, Decimal("990.00"))
