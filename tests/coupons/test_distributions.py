"""Allotment rules: distributions on their dates, each coupon with its validity window, and
issuing a household's whole allotment or one distribution, once."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from coupons.models import Coupon, IssuanceBatch
from coupons.services import IssuanceError, issue_household_allotment
from programmes.allotment import distribution_dates
from tests.factories import HouseholdFactory, ProgramFactory
from tests.helpers import text

pytestmark = pytest.mark.django_db

JUNE_1 = datetime.date(2026, 6, 1)


@pytest.mark.parametrize(
    ("frequency", "count", "expected"),
    [
        ("once", 5, ["2026-06-01"]),
        ("weekly", 3, ["2026-06-01", "2026-06-08", "2026-06-15"]),
        ("biweekly", 3, ["2026-06-01", "2026-06-15", "2026-06-29"]),
        ("monthly", 3, ["2026-06-01", "2026-07-01", "2026-08-01"]),
    ],
)
def test_distribution_dates_follow_the_frequency(
    frequency: str, count: int, expected: list[str]
) -> None:
    dates = distribution_dates(JUNE_1, frequency, count)
    assert [day.isoformat() for day in dates] == expected


def test_a_monthly_distribution_on_the_31st_falls_on_the_last_day_of_short_months() -> None:
    dates = distribution_dates(datetime.date(2027, 1, 31), "monthly", 4)
    assert [day.isoformat() for day in dates] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
    ]


def program(**fields: Any) -> Any:
    defaults = {
        "season_start": JUNE_1,
        "season_end": datetime.date(2026, 9, 30),
        "distribution_count": 3,
        "distribution_frequency": "biweekly",
    }
    return ProgramFactory(**{**defaults, **fields})


def test_each_coupon_is_valid_from_its_distribution_for_the_programs_number_of_days() -> None:
    season = program(coupon_validity_days=10)
    household = HouseholdFactory(program=season, adults=1, children=0)

    with time_machine.travel(datetime.datetime(2026, 6, 1, 12), tick=False):
        issue_household_allotment(
            household=household, issued_by=household.enrolled_by, idempotency_key=uuid.uuid4()
        )

    windows = set(household.coupons.values_list("distribution", "valid_from", "valid_until"))
    assert windows == {
        (1, datetime.date(2026, 6, 1), datetime.date(2026, 6, 10)),
        (2, datetime.date(2026, 6, 15), datetime.date(2026, 6, 24)),
        (3, datetime.date(2026, 6, 29), datetime.date(2026, 7, 8)),
    }


def test_without_a_validity_every_coupon_is_valid_until_the_end_of_the_season() -> None:
    season = program()
    household = HouseholdFactory(program=season, adults=1, children=0)
    with time_machine.travel(datetime.datetime(2026, 6, 1, 12), tick=False):
        issue_household_allotment(
            household=household, issued_by=household.enrolled_by, idempotency_key=uuid.uuid4()
        )
    assert set(household.coupons.values_list("valid_until", flat=True)) == {season.season_end}


def test_one_distribution_is_issued_alone_then_the_rest_once() -> None:
    season = program()
    household = HouseholdFactory(program=season, adults=1, children=0)  # 20 $ a distribution
    who = household.enrolled_by
    with time_machine.travel(datetime.datetime(2026, 6, 1, 12), tick=False):
        second = issue_household_allotment(
            household=household, issued_by=who, idempotency_key=uuid.uuid4(), distribution=2
        )
        with pytest.raises(IssuanceError) as again:
            issue_household_allotment(
                household=household, issued_by=who, idempotency_key=uuid.uuid4(), distribution=2
            )
        rest = issue_household_allotment(
            household=household, issued_by=who, idempotency_key=uuid.uuid4()
        )
        with pytest.raises(IssuanceError) as done:
            issue_household_allotment(
                household=household, issued_by=who, idempotency_key=uuid.uuid4()
            )

    assert again.value.code == "already_issued"
    assert done.value.code == "already_issued"
    assert (second.distribution, second.total_value) == (2, Decimal("20.00"))
    assert set(rest.coupons.values_list("distribution", flat=True)) == {1, 3}
    assert rest.total_value == Decimal("40.00")
    assert household.coupons.count() == 12  # 3 × 20 $ in 5 $ coupons


def test_distributions_whose_validity_has_passed_are_not_issued() -> None:
    season = program(coupon_validity_days=7)
    household = HouseholdFactory(program=season, adults=1, children=0)
    who = household.enrolled_by
    with time_machine.travel(datetime.datetime(2026, 6, 20, 12), tick=False):
        batch = issue_household_allotment(
            household=household, issued_by=who, idempotency_key=uuid.uuid4()
        )
        with pytest.raises(IssuanceError) as late:
            issue_household_allotment(
                household=household, issued_by=who, idempotency_key=uuid.uuid4(), distribution=1
            )

    # Distribution 1 ran from June 1 to 7: only 2 (June 15-21) and 3 (June 29-July 5) remain.
    assert set(batch.coupons.values_list("distribution", flat=True)) == {2, 3}
    assert late.value.code == "distribution_expired"


def test_an_unknown_distribution_is_refused_and_issues_nothing() -> None:
    household = HouseholdFactory(program=program(), adults=1, children=0)
    with pytest.raises(IssuanceError) as error:
        issue_household_allotment(
            household=household,
            issued_by=household.enrolled_by,
            idempotency_key=uuid.uuid4(),
            distribution=9,
        )
    assert error.value.code == "unknown_distribution"
    assert not IssuanceBatch.objects.exists()


def test_the_household_page_lists_the_distributions_and_issues_one(
    client: Client, world: Any
) -> None:
    season = world.a.program
    season.distribution_count = 2
    season.save()
    client.force_login(world.a.intervenant)
    url = reverse("coupons:household_detail", kwargs={"pk": world.a.household.pk})

    page = client.get(url)
    key = page.context["issue_key"]
    response = client.post(
        reverse("coupons:household_issue", kwargs={"pk": world.a.household.pk}),
        {"idempotency_key": key, "distribution": "2"},
        follow=True,
    )

    assert "Émettre la distribution 1" in text(page) and "Émettre la distribution 2" in text(page)
    assert set(Coupon.objects.values_list("distribution", flat=True)) == {2}
    after = text(response)
    assert "Émettre la distribution 1" in after and "Émettre la distribution 2" not in after
    assert "Émettre les distributions restantes" in after
