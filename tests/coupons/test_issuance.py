"""Issuing a household's allotment from its page: once per form, never beyond the budget."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from coupons.models import Coupon, IssuanceBatch
from coupons.services import plan_household_allotment
from tests.factories import set_funds
from tests.helpers import text

pytestmark = pytest.mark.django_db


def issue_url(household: Any) -> str:
    return reverse("coupons:household_issue", kwargs={"pk": household.pk})


def detail_url(household: Any) -> str:
    return reverse("coupons:household_detail", kwargs={"pk": household.pk})


def rendered_key(client: Client, household: Any) -> str:
    """The idempotency key the household page put in its form."""
    return str(client.get(detail_url(household)).context["issue_key"])


def test_the_same_form_posted_twice_issues_the_planned_coupons_once(
    client: Client, world: Any
) -> None:
    household = world.a.household
    planned = plan_household_allotment(program=household.program, household_size=household.size)
    client.force_login(world.a.intervenant)
    key = rendered_key(client, household)

    first = client.post(issue_url(household), {"idempotency_key": key}, follow=True)
    second = client.post(issue_url(household), {"idempotency_key": key}, follow=True)

    assert IssuanceBatch.objects.filter(household=household).count() == 1
    coupons = Coupon.objects.filter(household=household)
    assert sorted(c.value for c in coupons) == sorted(p.value for p in planned)
    assert coupons.count() == len(planned) == 4  # 20 $ in 5 $ coupons
    batch = IssuanceBatch.objects.get(household=household)
    assert batch.idempotency_key == uuid.UUID(key)
    assert batch.issued_by == world.a.intervenant
    assert batch.total_value == Decimal("20.00")
    for response in (first, second):
        assert "4 coupons émis, d'une valeur totale de 20,00\xa0$." in text(response)


def test_a_coordinator_may_issue_too(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    key = rendered_key(client, world.a.household)
    client.post(issue_url(world.a.household), {"idempotency_key": key})
    assert Coupon.objects.filter(household=world.a.household).count() == 4


def test_a_second_issuance_with_a_new_form_is_refused(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    client.post(issue_url(world.a.household), {"idempotency_key": str(uuid.uuid4())})

    response = client.post(
        issue_url(world.a.household), {"idempotency_key": str(uuid.uuid4())}, follow=True
    )

    assert "Ce ménage a déjà reçu son allocation pour la saison." in text(response)
    assert IssuanceBatch.objects.filter(household=world.a.household).count() == 1


def test_issuing_beyond_the_budget_says_how_much_is_left_and_writes_nothing(
    client: Client, world: Any
) -> None:
    program = world.a.program
    set_funds(program, Decimal("12.50"))
    client.force_login(world.a.intervenant)

    response = client.post(
        issue_url(world.a.household), {"idempotency_key": str(uuid.uuid4())}, follow=True
    )

    assert response.redirect_chain == [(detail_url(world.a.household), 302)]
    page = text(response)
    assert (
        "Fonds insuffisants : cette allocation vaut 20,00\xa0$, il reste 12,50\xa0$ au programme."
        in page
    )
    assert 'class="message message--error"' in page
    assert not IssuanceBatch.objects.exists()
    assert not Coupon.objects.exists()


def test_the_budget_left_counts_coupons_already_issued(client: Client, world: Any) -> None:
    from tests.factories import HouseholdFactory

    program = world.a.program
    set_funds(program, Decimal("30.00"))
    client.force_login(world.a.intervenant)
    client.post(issue_url(world.a.household), {"idempotency_key": str(uuid.uuid4())})
    other: Any = HouseholdFactory(program=program, organization=world.a.organization)

    response = client.post(issue_url(other), {"idempotency_key": str(uuid.uuid4())}, follow=True)

    assert "il reste 10,00\xa0$ au programme." in text(response)
    assert not Coupon.objects.filter(household=other).exists()


@pytest.mark.parametrize("key", [None, "", "pas-un-uuid", "1234"])
def test_a_missing_or_bad_key_issues_nothing(client: Client, world: Any, key: str | None) -> None:
    client.force_login(world.a.intervenant)
    data = {} if key is None else {"idempotency_key": key}

    response = client.post(issue_url(world.a.household), data, follow=True)

    assert response.status_code == 200
    assert "Demande incomplète : rechargez la page et réessayez." in text(response)
    assert not IssuanceBatch.objects.exists()


def test_a_key_used_for_another_household_is_refused(client: Client, world: Any) -> None:
    from tests.factories import HouseholdFactory

    other: Any = HouseholdFactory(program=world.a.program, organization=world.a.organization)
    client.force_login(world.a.intervenant)
    key = str(uuid.uuid4())
    client.post(issue_url(world.a.household), {"idempotency_key": key})

    response = client.post(issue_url(other), {"idempotency_key": key}, follow=True)

    assert "Cette demande a déjà servi pour une autre émission." in text(response)
    assert not Coupon.objects.filter(household=other).exists()


def test_issuing_is_a_post(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    assert client.get(issue_url(world.a.household)).status_code == 405
    assert not IssuanceBatch.objects.exists()


@pytest.mark.parametrize("who", ["intervenant", "coordinator", "manager", "vendor_user"])
def test_nobody_issues_to_a_household_outside_their_scope(
    client: Client, world: Any, who: str
) -> None:
    client.force_login(getattr(world.a, who))
    response = client.post(issue_url(world.b.household), {"idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 404
    assert not IssuanceBatch.objects.exists()


def test_anonymous_visitors_issue_nothing(client: Client, world: Any) -> None:
    response = client.post(issue_url(world.a.household), {"idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 302
    assert not IssuanceBatch.objects.exists()
