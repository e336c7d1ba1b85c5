"""Retention: once a program's retention period has ended, its households are anonymized, by a
daily command or a background task, and every count and dollar of the ledger stays the same."""

from __future__ import annotations

import datetime
import io
import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus

from beneficiaires.models import AuditEntry, EnrollmentPolicy, Household
from beneficiaires.privacy import duplicate_key, name_hash
from beneficiaires.retention import apply_retention, retention_steps
from beneficiaires.services import ANONYMIZED_FIELDS
from beneficiaires.tasks import apply_retention_task
from coupons.models import Coupon
from coupons.selectors import coupon_totals
from coupons.services import issue_household_allotment
from marches.redemptions import redeem_coupon
from programmes.models import Program
from rapports.selectors import program_dashboard
from tests import factories as f

pytestmark = pytest.mark.django_db

TORONTO = ZoneInfo("America/Toronto")
PERSONAL_COLUMNS = ("name", "phone", "email", "notes")


def noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12, 0), tzinfo=TORONTO)


def raw_columns(household: Household) -> tuple[Any, ...]:
    """What the database itself holds, below the encrypted fields."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(PERSONAL_COLUMNS)} FROM {Household._meta.db_table} WHERE id = %s",
            [household.pk],
        )
        return tuple(cursor.fetchone())


def enroll(scope: Any, name: str, **extra: Any) -> Household:
    details = {
        "phone": "+14185550199",
        "email": "camille@example.org",
        "notes": "Préfère le marché du samedi.",
        "year_of_birth": 1980,
        "postal_code": "G0A 1A0",
        **extra,
    }
    return f.HouseholdFactory(
        program=scope.program,
        organization=scope.organization,
        enrolled_by=scope.intervenant,
        name=name,
        name_hash=name_hash(name),
        duplicate_key=duplicate_key(name, details["year_of_birth"], details["postal_code"]),
        **details,
    )


def issue(household: Household, by: Any) -> list[Coupon]:
    batch = issue_household_allotment(
        household=household, issued_by=by, idempotency_key=uuid.uuid4()
    )
    return list(batch.coupons.order_by("serial"))


def redeem(coupon: Coupon, scope: Any) -> None:
    verdict = redeem_coupon(
        code=coupon.code, vendor=scope.vendor, market=scope.market, client_id=uuid.uuid4()
    )
    assert verdict.status == "accepted", verdict.reason


def figures(program: Program, today: datetime.date) -> dict[str, Any]:
    """Every count and dollar the ledger and the reports show for the program."""
    totals = coupon_totals(Program.objects.filter(pk=program.pk), today=today)
    dashboard = program_dashboard(program, today=today)
    return {
        "totals": totals,
        "available": dashboard.available,
        "redemptions": (dashboard.redemption_count, dashboard.redemption_value),
        "by_market": dashboard.by_market,
        "by_vendor": dashboard.by_vendor,
        "by_organization": dashboard.by_organization,
        "households": dashboard.households,
        "coupons": sorted(
            Coupon.objects.filter(program=program).values_list(
                "serial", "status", "value", "household_id"
            )
        ),
    }


@pytest.fixture
def season(world: Any) -> Any:
    """Program a keeps data 30 days after its season; program b has no saved policy (the
    default, 180 days). Each has households with coupons issued, some of them redeemed."""
    a, b = world.a, world.b
    EnrollmentPolicy.objects.create(program=a.program, notes_allowed=True, retention_days=30)
    a.camille = enroll(a, "Camille Gagnon")
    a.dominique = enroll(a, "Dominique Roy", adults=2, children=2)
    a.leaving = enroll(a, "Sacha Côté", status=Household.Status.WITHDRAWN)
    a.coupons = issue(a.camille, a.intervenant) + issue(a.dominique, a.intervenant)
    redeem(a.coupons[0], a)
    redeem(a.coupons[1], a)
    redeem(a.coupons[-1], a)
    b.camille = enroll(b, "Camille Gagnon")
    redeem(issue(b.camille, b.intervenant)[0], b)
    world.expired_day = a.program.season_end + datetime.timedelta(days=31)
    return world


def assert_anonymous(household: Household) -> None:
    household.refresh_from_db()
    assert household.anonymized_at is not None
    assert not any(getattr(household, column) for column in PERSONAL_COLUMNS)
    assert raw_columns(household) == (None,) * 4
    assert household.name_hash == household.duplicate_key == ""
    assert household.year_of_birth is None
    assert household.postal_code == "G0A"
    assert household.eligibility == {}
    entry = AuditEntry.objects.get(household=household, action=AuditEntry.Action.ANONYMIZE)
    assert entry.user is None
    assert sorted(entry.fields) == sorted(ANONYMIZED_FIELDS)


def assert_untouched(household: Household, name: str) -> None:
    household.refresh_from_db()
    assert household.anonymized_at is None
    assert household.name == name
    assert household.phone == "+14185550199"
    assert household.postal_code == "G0A 1A0"
    assert household.name_hash == name_hash(name)
    assert all(value is not None for value in raw_columns(household))
    assert name not in str(raw_columns(household))  # encrypted at rest
    assert not AuditEntry.objects.filter(
        household=household, action=AuditEntry.Action.ANONYMIZE
    ).exists()


def test_past_retention_the_command_anonymizes_and_every_total_stays(season: Any) -> None:
    a, b = season.a, season.b
    day = season.expired_day
    with time_machine.travel(noon(day), tick=False):
        assert timezone.localdate() == day
        before_a, before_b = figures(a.program, day), figures(b.program, day)
        out = io.StringIO()

        call_command("apply_retention", stdout=out)

        after_a, after_b = figures(a.program, day), figures(b.program, day)
    for household in (a.camille, a.dominique, a.leaving):
        assert_anonymous(household)
    assert_untouched(b.camille, "Camille Gagnon")
    assert after_a == before_a
    assert after_b == before_b
    totals = after_a["totals"]
    assert (totals.issued.count, str(totals.issued.value)) == (10, "50.00")  # $20 + $30
    assert (totals.redeemed.count, str(totals.redeemed.value)) == (3, "15.00")
    assert totals.outstanding.count == 0  # the season is over: unspent coupons expired
    assert (totals.expired.count, str(totals.expired.value)) == (7, "35.00")
    assert after_a["households"] == 4
    assert "programme-a: 4 household(s) anonymized" in out.getvalue()
    assert "programme-b" not in out.getvalue()


def test_the_totals_are_those_of_the_season_whatever_the_day_they_are_read(
    season: Any,
) -> None:
    a = season.a
    issued_before = coupon_totals(Program.objects.filter(pk=a.program.pk)).issued
    redeemed_before = coupon_totals(Program.objects.filter(pk=a.program.pk)).redeemed

    with time_machine.travel(noon(season.expired_day), tick=False):
        apply_retention()
    totals = coupon_totals(Program.objects.filter(pk=a.program.pk))

    assert totals.issued == issued_before
    assert totals.redeemed == redeemed_before
    assert Household.objects.filter(program=a.program, anonymized_at__isnull=False).count() == 4


def test_nothing_happens_on_the_last_day_of_retention(season: Any) -> None:
    last_day = season.a.program.season_end + datetime.timedelta(days=30)
    with time_machine.travel(noon(last_day), tick=False):
        report = apply_retention()

    assert report.anonymized == report.due == 0
    assert_untouched(season.a.camille, "Camille Gagnon")


def test_without_a_saved_policy_the_default_retention_applies(season: Any) -> None:
    b = season.b
    default = EnrollmentPolicy().retention_days
    assert not EnrollmentPolicy.objects.filter(program=b.program).exists()

    with time_machine.travel(noon(b.program.season_end + datetime.timedelta(days=default))):
        apply_retention()
    assert_untouched(b.camille, "Camille Gagnon")

    after = b.program.season_end + datetime.timedelta(days=default + 1)
    with time_machine.travel(noon(after)):
        before = figures(b.program, after)
        report = apply_retention()
        assert figures(b.program, after) == before
    assert_anonymous(b.camille)
    assert [(line.slug, line.retention_days, line.anonymized) for line in report.programs] == [
        ("programme-b", default, 2)  # its household from the world too
    ]


def test_a_dry_run_says_what_would_be_anonymized_and_writes_nothing(season: Any) -> None:
    audit_rows = AuditEntry.objects.count()
    out = io.StringIO()
    with time_machine.travel(noon(season.expired_day), tick=False):
        call_command("apply_retention", "--dry-run", stdout=out)

    assert "programme-a: 4 household(s) would be anonymized" in out.getvalue()
    assert "retention of 30 days ended" in out.getvalue()
    assert AuditEntry.objects.count() == audit_rows
    assert not Household.objects.filter(anonymized_at__isnull=False).exists()
    assert_untouched(season.a.camille, "Camille Gagnon")


def test_a_second_run_anonymizes_nothing(season: Any) -> None:
    with time_machine.travel(noon(season.expired_day), tick=False):
        call_command("apply_retention", stdout=io.StringIO())
        anonymized_at = Household.objects.get(pk=season.a.camille.pk).anonymized_at
        audit_rows = AuditEntry.objects.count()
        out = io.StringIO()

        call_command("apply_retention", stdout=out)
        report = apply_retention()

    assert "no household to anonymize" in out.getvalue()
    assert report.programs == []
    assert AuditEntry.objects.count() == audit_rows
    assert Household.objects.get(pk=season.a.camille.pk).anonymized_at == anonymized_at


def test_before_the_season_ends_nothing_is_selected(season: Any) -> None:
    out = io.StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    assert "no household to anonymize" in out.getvalue()


def test_the_background_task_anonymizes_and_returns_a_json_summary(
    season: Any, settings: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with time_machine.travel(noon(season.expired_day), tick=False):
        result = apply_retention_task.enqueue()

    assert result.status == TaskResultStatus.SUCCESSFUL
    summary = result.return_value
    assert json.loads(json.dumps(summary)) == summary
    assert summary["anonymized"] == 4
    assert summary["dry_run"] is False
    assert [(p["program"], p["due"], p["anonymized"]) for p in summary["programs"]] == [
        ("programme-a", 4, 4)
    ]
    assert (
        summary["programs"][0]["expired_on"]
        == (season.a.program.season_end + datetime.timedelta(days=30)).isoformat()
    )
    assert_anonymous(season.a.camille)
    assert_untouched(season.b.camille, "Camille Gagnon")


@pytest.mark.parametrize("programs", [1, 4])
def test_finding_what_has_expired_costs_the_same_queries_whatever_the_size(
    db: Any, programs: int, django_assert_num_queries: Any
) -> None:
    today = timezone.localdate()
    for index in range(programs):
        program = f.ProgramFactory(
            season_start=today - datetime.timedelta(days=400),
            season_end=today - datetime.timedelta(days=300),
        )
        if index % 2:
            EnrollmentPolicy.objects.create(program=program, retention_days=10)
        for _n in range(3 * programs):
            f.HouseholdFactory(program=program)

    # Two for the households, then the other steps: a count of the donors, one of the Stripe
    # events, the programs past retention and a count of their buyers.
    assert len(retention_steps()) == 3
    with django_assert_num_queries(2 + 4):
        report = apply_retention(dry_run=True)

    assert report.due == 3 * programs * programs
    assert len(report.programs) == programs
