"""Organization pages, a program's partners, scopes, roles and workspaces."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beneficiaires.models import Household, Organization, Partnership
from comptes.registry import role_definition, workspaces_for
from tests.factories import HouseholdFactory, OrganizationFactory
from tests.helpers import text

pytestmark = pytest.mark.django_db


def org_url(organization: Any) -> str:
    return reverse("beneficiaires:organization_detail", kwargs={"slug": organization.slug})


def partners_url(program: Any) -> str:
    return reverse("beneficiaires:program_partners", kwargs={"slug": program.slug})


# The organization page -------------------------------------------------------------------------


def test_the_organization_page_lists_its_households(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.get(org_url(world.a.organization))

    page = text(response)
    assert response.status_code == 200
    assert world.a.household.reference in page
    assert world.a.household.name in page
    assert reverse("coupons:household_detail", kwargs={"pk": world.a.household.pk}) in page
    assert reverse("beneficiaires:household_create", kwargs={"slug": "organisme-a"}) in page
    assert world.b.household.reference not in page


def test_households_can_be_searched_by_reference(client: Client, world: Any) -> None:
    other: Any = HouseholdFactory(
        program=world.a.program, organization=world.a.organization, reference="M-0777"
    )
    client.force_login(world.a.intervenant)

    page = text(client.get(org_url(world.a.organization), {"q": "0777"}))

    assert other.reference in page
    assert world.a.household.reference not in page
    empty = text(client.get(org_url(world.a.organization), {"q": "ZZZ"}))
    assert "Aucun ménage trouvé pour « ZZZ » (référence ou nom complet)." in empty


def test_an_organization_without_households_says_so(client: Client, world: Any) -> None:
    organization: Any = OrganizationFactory(program=world.a.program)
    organization.members.add(world.a.intervenant)
    client.force_login(world.a.intervenant)

    assert "Aucun ménage inscrit pour l'instant." in text(client.get(org_url(organization)))


def test_the_household_list_costs_the_same_queries_for_5_or_30_households(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    organization: Any = OrganizationFactory(program=world.a.program)
    organization.members.add(world.a.intervenant)
    client.force_login(world.a.intervenant)
    url = org_url(organization)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    HouseholdFactory.create_batch(
        5, program=world.a.program, organization=organization, enrolled_by=world.a.intervenant
    )
    with django_assert_max_num_queries(15):
        client.get(url)
    with_five = count()
    HouseholdFactory.create_batch(
        25, program=world.a.program, organization=organization, enrolled_by=world.a.intervenant
    )
    with django_assert_max_num_queries(15):
        client.get(url)
    assert count() == with_five


def test_a_coordinator_sees_only_their_programs_households_at_a_shared_organization(
    client: Client, world: Any
) -> None:
    # Organization a also works with program b: program a's coordinator must not see b's people.
    Partnership.objects.create(organization=world.a.organization, program=world.b.program)
    of_b: Any = HouseholdFactory(
        program=world.b.program, organization=world.a.organization, reference="M-0999"
    )
    client.force_login(world.a.coordinator)

    page = text(client.get(org_url(world.a.organization)))

    assert world.a.household.reference in page
    assert of_b.reference not in page
    assert (
        client.get(reverse("coupons:household_detail", kwargs={"pk": of_b.pk})).status_code == 404
    )
    # And their enrollment form offers only their own program.
    form_page = text(
        client.get(reverse("beneficiaires:household_create", kwargs={"slug": "organisme-a"}))
    )
    assert world.a.program.slug in form_page
    assert world.b.program.slug not in form_page
    # The organization's own intervenant sees both.
    client.force_login(world.a.intervenant)
    assert of_b.reference in text(client.get(org_url(world.a.organization)))


# Scopes: outside is a 404 ----------------------------------------------------------------------


def outside_urls(world: Any) -> list[str]:
    return [
        org_url(world.b.organization),
        reverse("beneficiaires:household_create", kwargs={"slug": world.b.organization.slug}),
        reverse("coupons:household_detail", kwargs={"pk": world.b.household.pk}),
        reverse("coupons:household_pdf", kwargs={"pk": world.b.household.pk}),
        partners_url(world.b.program),
    ]


@pytest.mark.parametrize("who", ["intervenant", "coordinator", "manager", "vendor_user"])
def test_pages_of_another_scope_are_404(client: Client, world: Any, who: str) -> None:
    client.force_login(getattr(world.a, who))
    for url in outside_urls(world):
        assert client.get(url).status_code == 404, url
    before = Household.objects.count()
    response = client.post(
        reverse("beneficiaires:household_create", kwargs={"slug": world.b.organization.slug}),
        {
            "program": world.b.program.slug,
            "name": "X",
            "adults": 1,
            "children": 0,
            "postal_code": "G0A 1A0",
            "preferred_language": "fr",
            "consent": "on",
        },
    )
    assert response.status_code == 404
    assert Household.objects.count() == before


def test_someone_without_a_role_sees_nothing(client: Client, world: Any) -> None:
    client.force_login(world.nobody)
    for url in [*outside_urls(world), org_url(world.a.organization)]:
        assert client.get(url).status_code == 404, url


def test_a_network_admin_sees_every_organization(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    assert world.b.household.reference in text(client.get(org_url(world.b.organization)))


def test_an_intervenant_may_not_manage_a_programs_partners(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    assert client.get(partners_url(world.a.program)).status_code == 404
    response = client.post(partners_url(world.a.program), {"action": "create", "new-name": "X"})
    assert response.status_code == 404
    assert not Organization.objects.filter(name="X").exists()


# A program's partners --------------------------------------------------------------------------


def test_a_coordinator_creates_a_partner_organization(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        partners_url(world.a.program), {"action": "create", "new-name": "Carrefour Solidaire"}
    )

    assert response.status_code == 302
    organization = Organization.objects.get(name="Carrefour Solidaire")
    assert organization.slug == "carrefour-solidaire"
    assert list(organization.programs.all()) == [world.a.program]
    page = text(client.get(partners_url(world.a.program)))
    assert "Carrefour Solidaire" in page and "Organisme a" in page


def test_an_existing_name_is_refused_with_a_hint(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        partners_url(world.a.program), {"action": "create", "new-name": "organisme B"}
    )

    assert response.status_code == 400
    assert "existe déjà : ajoutez-le comme partenaire" in text(response)
    assert Organization.objects.count() == 2


def test_a_coordinator_partners_an_organization_they_can_see(client: Client, world: Any) -> None:
    from tests.factories import ProgramFactory

    second: Any = ProgramFactory(name="Deuxième programme")
    second.coordinators.add(world.a.coordinator)
    client.force_login(world.a.coordinator)

    response = client.post(
        partners_url(second), {"action": "add", "existing-organization": "organisme-a"}
    )

    assert response.status_code == 302
    assert second in world.a.organization.programs.all()
    # An organization of another coordinator's program is not offered, and cannot be forced.
    page = text(client.get(partners_url(second)))
    assert "Organisme b" not in page
    forced = client.post(
        partners_url(second), {"action": "add", "existing-organization": "organisme-b"}
    )
    assert forced.status_code == 400
    assert "Cet organisme n'existe pas ou est déjà partenaire du programme." in text(forced)
    assert second not in world.b.organization.programs.all()


def test_an_unknown_action_changes_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    response = client.post(partners_url(world.a.program), {"action": "drop"})
    assert response.status_code == 400
    assert Organization.objects.count() == 2


# Roles and workspaces --------------------------------------------------------------------------


def test_the_intervenant_role_is_registered(world: Any) -> None:
    definition = role_definition("intervenant")
    assert definition.scope_model is Organization
    assert set(definition.invitable_scopes(world.admin)) == {
        world.a.organization,
        world.b.organization,
    }
    assert list(definition.invitable_scopes(world.a.coordinator)) == [world.a.organization]
    assert list(definition.invitable_scopes(world.a.intervenant)) == []
    assert list(definition.invitable_scopes(world.nobody)) == []
    definition.grant(world.nobody, world.b.organization)
    definition.grant(world.nobody, world.b.organization)
    assert world.b.organization.members.filter(pk=world.nobody.pk).count() == 1


def test_an_intervenant_has_one_workspace_per_organization(world: Any) -> None:
    spaces = [w for w in workspaces_for(world.a.intervenant) if w.role == "intervenant"]
    assert [(w.label, w.url) for w in spaces] == [("Organisme a", org_url(world.a.organization))]
    assert not [w for w in workspaces_for(world.a.coordinator) if w.role == "intervenant"]
