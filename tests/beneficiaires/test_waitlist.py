"""Quotas and funds: past them a household waits, and the coordinator gives places in order."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from beneficiaires import program_services
from beneficiaires.models import AuditEntry, Household, Partnership
from beneficiaires.services import (
    EnrollmentError,
    enroll_household,
    promote_from_waitlist,
    withdraw_household,
)
from coupons.services import IssuanceError, issue_household_allotment
from tests.factories import (
    HouseholdFactory,
    OrganizationFactory,
    ProgramFactory,
    UserFactory,
    set_funds,
)
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db


class Place:
    """A program without criteria, one partner organization, its intervenant and coordinator."""

    def __init__(self, budget: Decimal = Decimal("10000.00")) -> None:
        self.program = ProgramFactory(budget=budget)  # 20 $ for 1-2 people, 30 $ for 3 or more
        self.organization = OrganizationFactory(program=self.program)
        self.partnership = Partnership.objects.get(
            organization=self.organization, program=self.program
        )
        self.intervenant = UserFactory()
        self.organization.members.add(self.intervenant)
        self.coordinator = UserFactory()
        self.program.coordinators.add(self.coordinator)

    def quota(self, households: int | None = None, value: str | None = None) -> None:
        program_services.set_partner_quota(
            partnership=self.partnership,
            household_quota=households,
            value_quota=Decimal(value) if value is not None else None,
        )

    def enroll(self, name: str, **overrides: Any) -> Household:
        kwargs: dict[str, Any] = {
            "organization": self.organization,
            "program": self.program,
            "name": name,
            "adults": 1,
            "children": 0,
            "postal_code": "G0A 1A0",
            "preferred_language": "fr",
            "consent_given": True,
            "enrolled_by": self.intervenant,
        }
        kwargs.update(overrides)
        return enroll_household(**kwargs)


@pytest.fixture
def place(db: Any) -> Place:
    return Place()


def waitlist_url(program: Any) -> str:
    return reverse("beneficiaires:waitlist", kwargs={"slug": program.slug})


def statuses(*households: Household) -> list[str]:
    return [Household.objects.get(pk=h.pk).status for h in households]


# --- Past a quota or the funds, a household waits ------------------------------------------


def test_past_a_quota_of_one_household_the_second_one_waits(place: Place) -> None:
    place.quota(households=1)

    first = place.enroll("Alix Ouellet")
    second = place.enroll("Béa Lavoie")

    assert first.status == Household.Status.ACTIVE and first.waitlisted_at is None
    assert second.status == Household.Status.WAITLISTED
    assert second.waitlisted_at is not None
    assert second.consents.filter(purpose="participation").exists()


def test_past_a_dollar_quota_the_household_waits(place: Place) -> None:
    place.quota(value="30.00")

    first = place.enroll("Alix Ouellet")  # 20 $
    second = place.enroll("Béa Lavoie")  # 20 + 20 > 30

    assert (first.status, second.status) == ("active", "waitlisted")


def test_when_the_programs_funds_are_promised_the_household_waits() -> None:
    place = Place(budget=Decimal("40.00"))

    households = [place.enroll(name) for name in ("Alix Ouellet", "Béa Lavoie", "Cyd Roy")]

    assert [h.status for h in households] == ["active", "active", "waitlisted"]


def test_a_quota_is_counted_per_organization(place: Place) -> None:
    other = OrganizationFactory(program=place.program)
    place.quota(households=1)
    place.enroll("Alix Ouellet")

    elsewhere = place.enroll("Béa Lavoie", organization=other)

    assert elsewhere.status == Household.Status.ACTIVE


def test_no_coupon_can_be_issued_to_a_waiting_household(place: Place) -> None:
    place.quota(households=0)
    waiting = place.enroll("Alix Ouellet")

    with pytest.raises(IssuanceError) as raised:
        issue_household_allotment(
            household=waiting, issued_by=place.intervenant, idempotency_key=uuid.uuid4()
        )

    assert raised.value.code == "household_not_active"
    assert not waiting.coupons.exists()


# --- Promotion in order --------------------------------------------------------------------


def test_promotion_waits_for_room_then_takes_the_oldest_first(place: Place) -> None:
    place.quota(households=1)
    first = place.enroll("Alix Ouellet")
    second = place.enroll("Béa Lavoie")
    third = place.enroll("Cyd Roy")

    with pytest.raises(EnrollmentError) as raised:
        promote_from_waitlist(program=place.program, promoted_by=place.coordinator)
    assert raised.value.code == "no_room_household_quota"
    assert second.reference in raised.value.message
    assert "Le quota de 1 ménages de l'organisme est atteint." in raised.value.message
    assert statuses(first, second, third) == ["active", "waitlisted", "waitlisted"]

    place.quota(households=2)
    promoted = promote_from_waitlist(program=place.program, promoted_by=place.coordinator)

    assert promoted == second
    assert statuses(first, second, third) == ["active", "active", "waitlisted"]
    assert AuditEntry.objects.filter(household=second, detail="promoted").exists()
    with pytest.raises(EnrollmentError):
        promote_from_waitlist(program=place.program, promoted_by=place.coordinator)

    withdraw_household(household=first, withdrawn_by=place.coordinator)
    assert promote_from_waitlist(program=place.program, promoted_by=place.coordinator) == third


def test_the_order_is_the_time_of_waiting_not_the_enrollment(place: Place) -> None:
    place.quota(households=0)
    earlier = place.enroll("Alix Ouellet")
    later = place.enroll("Béa Lavoie")
    assert later.waitlisted_at is not None
    Household.objects.filter(pk=earlier.pk).update(
        waitlisted_at=later.waitlisted_at + datetime.timedelta(days=1)
    )
    place.quota(households=1)

    assert promote_from_waitlist(program=place.program, promoted_by=place.coordinator) == later


def test_once_promoted_the_household_can_receive_its_coupons(place: Place) -> None:
    place.quota(households=0)
    waiting = place.enroll("Alix Ouellet")
    place.quota(households=None)
    promote_from_waitlist(program=place.program, promoted_by=place.coordinator)
    waiting.refresh_from_db()

    batch = issue_household_allotment(
        household=waiting, issued_by=place.intervenant, idempotency_key=uuid.uuid4()
    )

    assert batch.total_value == Decimal("20.00")


def test_a_raised_budget_makes_room_too() -> None:
    place = Place(budget=Decimal("20.00"))
    place.enroll("Alix Ouellet")
    waiting = place.enroll("Béa Lavoie")
    with pytest.raises(EnrollmentError) as raised:
        promote_from_waitlist(program=place.program, promoted_by=place.coordinator)
    assert raised.value.code == "no_room_budget"
    assert "Les fonds du programme sont engagés" in raised.value.message

    set_funds(place.program, Decimal("40.00"))

    assert promote_from_waitlist(program=place.program, promoted_by=place.coordinator) == waiting


# --- The waitlist page ---------------------------------------------------------------------


def test_the_coordinator_sees_the_waitlist_in_order_without_names(
    client: Client, place: Place
) -> None:
    place.quota(households=0)
    first = place.enroll("Alix Ouellet", adults=2, children=1)
    second = place.enroll("Béa Lavoie")
    client.force_login(place.coordinator)

    response = client.get(waitlist_url(place.program))

    page = text(response)
    assert response.status_code == 200
    assert page.index(first.reference) < page.index(second.reference)
    assert place.organization.name in page
    assert "Alix Ouellet" not in page and "Béa Lavoie" not in page
    assert "ne peut pas encore être inscrit : Le quota de 0 ménages" in page
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.LIST).exists()
    rows = response.context["page_obj"].object_list
    assert [h.pk for h in rows] == [first.pk, second.pk]


def test_promoting_from_the_page(client: Client, place: Place) -> None:
    place.quota(households=0)
    waiting = place.enroll("Alix Ouellet")
    client.force_login(place.coordinator)

    refused = client.post(waitlist_url(place.program), {"action": "promote"}, follow=True)

    assert refused.redirect_chain[-1][1] == 302
    assert any(
        waiting.reference in m and "Le quota de 0 ménages de l'organisme est atteint." in m
        for m in messages_of(refused)
    )
    assert statuses(waiting) == ["waitlisted"]

    place.quota(households=1)
    response = client.post(waitlist_url(place.program), {"action": "promote"}, follow=True)

    assert statuses(waiting) == ["active"]
    assert any(waiting.reference in m and "quitte la liste" in m for m in messages_of(response))
    assert "Aucun ménage en attente." in text(response)


def test_promoting_from_an_empty_waitlist_says_so(client: Client, place: Place) -> None:
    client.force_login(place.coordinator)

    response = client.post(waitlist_url(place.program), {"action": "promote"}, follow=True)

    assert "La liste d'attente est vide." in messages_of(response)


def test_the_waitlist_page_costs_the_same_queries_for_3_or_30_households(
    client: Client, place: Place
) -> None:
    place.quota(households=0)
    client.force_login(place.coordinator)
    start = timezone.now()

    def count(total: int) -> int:
        existing = Household.objects.filter(program=place.program).count()
        for n in range(existing, total):
            HouseholdFactory(
                program=place.program,
                organization=OrganizationFactory(program=place.program),
                status=Household.Status.WAITLISTED,
                waitlisted_at=start + datetime.timedelta(minutes=n),
            )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(waitlist_url(place.program))
        assert response.status_code == 200
        assert len(response.context["page_obj"].object_list) == min(total, 25)
        return len(queries)

    assert count(3) == count(30)


def test_the_waitlist_is_for_the_coordinator_and_the_admin_only(client: Client, world: Any) -> None:
    url = waitlist_url(world.a.program)
    for user in (
        world.a.intervenant,
        world.a.manager,
        world.a.vendor_user,
        world.b.coordinator,
        world.b.intervenant,
        world.nobody,
    ):
        client.force_login(user)
        assert client.get(url).status_code == 404, user
        assert client.post(url, {"action": "promote"}).status_code == 404, user
    client.force_login(world.admin)
    assert client.get(url).status_code == 200
