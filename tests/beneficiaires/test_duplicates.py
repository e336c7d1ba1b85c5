"""The same person enrolled by two organizations: the intervenant is warned without learning
anything about the other enrollment, and the coordinator decides."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beneficiaires.models import AuditEntry, Household
from beneficiaires.services import EnrollmentError, enroll_household
from tests.factories import HouseholdFactory, OrganizationFactory, ProgramFactory, UserFactory
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

NAME = "Marie-Ève Côté"


class TwoOrganizations:
    """One program, organizations A and B, an intervenant in each and a coordinator."""

    def __init__(self) -> None:
        self.program = ProgramFactory()
        self.a = OrganizationFactory(name="Entraide A", program=self.program)
        self.b = OrganizationFactory(name="Partage B", program=self.program)
        self.intervenant_a, self.intervenant_b = UserFactory(), UserFactory()
        self.a.members.add(self.intervenant_a)
        self.b.members.add(self.intervenant_b)
        self.coordinator = UserFactory()
        self.program.coordinators.add(self.coordinator)

    def enroll(self, organization: Any, by: Any, **overrides: Any) -> Household:
        kwargs: dict[str, Any] = {
            "organization": organization,
            "program": self.program,
            "name": NAME,
            "adults": 1,
            "children": 2,
            "postal_code": "G0A 1A0",
            "year_of_birth": 1984,
            "preferred_language": "fr",
            "consent_given": True,
            "enrolled_by": by,
        }
        kwargs.update(overrides)
        return enroll_household(**kwargs)

    def twice(self) -> tuple[Household, Household]:
        """The same person enrolled by A, then by B after the warning."""
        first = self.enroll(self.a, self.intervenant_a)
        second = self.enroll(
            self.b, self.intervenant_b, name="  marie eve COTE ", acknowledge_duplicate=True
        )
        return first, second


@pytest.fixture
def two(db: Any) -> TwoOrganizations:
    return TwoOrganizations()


def duplicates_url(program: Any) -> str:
    return reverse("beneficiaires:duplicates", kwargs={"slug": program.slug})


def resolve_url(household: Household) -> str:
    return reverse(
        "beneficiaires:duplicate_resolve",
        kwargs={"slug": household.program.slug, "pk": household.pk},
    )


def test_the_second_organization_is_warned_without_learning_who(two: TwoOrganizations) -> None:
    first = two.enroll(two.a, two.intervenant_a)

    with pytest.raises(EnrollmentError) as raised:
        two.enroll(two.b, two.intervenant_b, name="Marie Eve Cote")

    assert raised.value.code == "possible_duplicate"
    message = raised.value.message
    assert "peut-être déjà inscrit à ce programme par un autre organisme" in message
    assert first.reference not in message
    assert NAME not in message and "Marie Eve Cote" not in message
    assert two.a.name not in message
    assert Household.objects.filter(program=two.program).count() == 1


def test_once_acknowledged_the_enrollment_awaits_the_coordinators_review(
    two: TwoOrganizations,
) -> None:
    first, second = two.twice()

    assert second.organization == two.b
    assert second.duplicate_review == Household.DuplicateReview.PENDING
    assert second.status == Household.Status.ACTIVE
    assert second.duplicate_key == first.duplicate_key
    first.refresh_from_db()
    assert first.duplicate_review == Household.DuplicateReview.NONE


def test_someone_else_is_not_a_duplicate(two: TwoOrganizations) -> None:
    two.enroll(two.a, two.intervenant_a)

    other = two.enroll(two.b, two.intervenant_b, year_of_birth=1990)

    assert other.duplicate_review == Household.DuplicateReview.NONE


def test_the_coordinator_sees_the_pending_household_beside_the_other(
    client: Client, two: TwoOrganizations
) -> None:
    first, second = two.twice()
    unrelated = two.enroll(two.a, two.intervenant_a, name="Lou Pelletier")
    client.force_login(two.coordinator)

    response = client.get(duplicates_url(two.program))

    page = text(response)
    assert response.status_code == 200
    assert first.reference in page and second.reference in page
    assert two.a.name in page and two.b.name in page
    assert NAME in page  # the coordinator sees every household of their program
    assert unrelated.reference not in page
    assert "Doublon : retirer " + second.reference in page
    assert "retirée du programme et ne pourra plus recevoir de coupons" in page
    (entry,) = response.context["page_obj"].object_list
    assert entry["household"] == second and entry["others"] == [first]
    audited = AuditEntry.objects.filter(action=AuditEntry.Action.LIST, user=two.coordinator)
    assert sorted(audited.values_list("household_id", flat=True)) == sorted([first.pk, second.pk])
    assert all(entry.fields == ["name"] for entry in audited)


def test_a_program_without_pending_duplicates_says_so(
    client: Client, two: TwoOrganizations
) -> None:
    client.force_login(two.coordinator)

    response = client.get(duplicates_url(two.program))

    assert "Aucun doublon possible à vérifier." in text(response)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.LIST).exists()


def test_the_duplicates_page_costs_the_same_queries_for_2_or_10_pending(
    client: Client, two: TwoOrganizations
) -> None:
    client.force_login(two.coordinator)

    def count(total: int) -> int:
        existing = Household.objects.filter(duplicate_review="pending").count()
        for n in range(existing, total):
            key = f"{n:064x}"
            HouseholdFactory(program=two.program, organization=two.a, duplicate_key=key)
            HouseholdFactory(
                program=two.program,
                organization=OrganizationFactory(program=two.program),
                duplicate_key=key,
                duplicate_review=Household.DuplicateReview.PENDING,
            )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(duplicates_url(two.program))
        assert response.status_code == 200
        assert len(response.context["page_obj"].object_list) == total
        return len(queries)

    assert count(2) == count(10)


def test_the_coordinator_decides_they_are_distinct(client: Client, two: TwoOrganizations) -> None:
    _first, second = two.twice()
    client.force_login(two.coordinator)

    response = client.post(resolve_url(second), {"resolution": "distinct"}, follow=True)

    second.refresh_from_db()
    assert second.duplicate_review == Household.DuplicateReview.DISTINCT
    assert second.status == Household.Status.ACTIVE
    assert any(second.reference in m for m in messages_of(response))
    assert "Aucun doublon possible à vérifier." in text(response)


def test_the_coordinator_confirms_a_duplicate_and_that_enrollment_is_withdrawn(
    client: Client, two: TwoOrganizations
) -> None:
    first, second = two.twice()
    client.force_login(two.coordinator)

    response = client.post(resolve_url(second), {"resolution": "duplicate"}, follow=True)

    second.refresh_from_db()
    first.refresh_from_db()
    assert second.duplicate_review == Household.DuplicateReview.DUPLICATE
    assert second.status == Household.Status.WITHDRAWN
    assert first.status == Household.Status.ACTIVE
    assert (
        f"Doublon confirmé : l'inscription {second.reference} est retirée du programme."
        in messages_of(response)
    )


@pytest.mark.parametrize("data", [{}, {"resolution": "peut-etre"}])
def test_a_bad_decision_changes_nothing(
    client: Client, two: TwoOrganizations, data: dict[str, str]
) -> None:
    _first, second = two.twice()
    client.force_login(two.coordinator)

    response = client.post(resolve_url(second), data, follow=True)

    assert "Choisissez une décision : rien n'a été modifié." in messages_of(response)
    second.refresh_from_db()
    assert (second.duplicate_review, second.status) == ("pending", "active")


def test_a_decision_is_made_once(client: Client, two: TwoOrganizations) -> None:
    _first, second = two.twice()
    client.force_login(two.coordinator)
    client.post(resolve_url(second), {"resolution": "distinct"})

    response = client.post(resolve_url(second), {"resolution": "duplicate"}, follow=True)

    assert "Ce doublon possible a déjà été vérifié." in messages_of(response)
    second.refresh_from_db()
    assert (second.duplicate_review, second.status) == ("distinct", "active")


def test_an_intervenant_gets_404_and_decides_nothing(client: Client, two: TwoOrganizations) -> None:
    _first, second = two.twice()

    for user in (two.intervenant_b, two.intervenant_a):
        client.force_login(user)
        assert client.get(duplicates_url(two.program)).status_code == 404
        assert client.post(resolve_url(second), {"resolution": "duplicate"}).status_code == 404

    second.refresh_from_db()
    assert (second.duplicate_review, second.status) == ("pending", "active")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.LIST).exists()


def test_another_programs_coordinator_gets_404(client: Client, world: Any) -> None:
    pending = HouseholdFactory(
        program=world.a.program,
        organization=world.a.organization,
        duplicate_review=Household.DuplicateReview.PENDING,
    )
    client.force_login(world.b.coordinator)

    assert client.get(duplicates_url(world.a.program)).status_code == 404
    assert client.post(resolve_url(pending), {"resolution": "duplicate"}).status_code == 404
    # Nor can a household of program a be resolved under program b's address.
    url = reverse(
        "beneficiaires:duplicate_resolve", kwargs={"slug": world.b.program.slug, "pk": pending.pk}
    )
    assert client.post(url, {"resolution": "duplicate"}).status_code == 404
    pending.refresh_from_db()
    assert pending.duplicate_review == Household.DuplicateReview.PENDING


def test_a_network_admin_may_review_duplicates(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    assert client.get(duplicates_url(world.a.program)).status_code == 200
