"""The enrollment page asks exactly what the program needs, records each consent, warns of a
possible duplicate without revealing it, and every look at a household leaves an audit row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beneficiaires.models import AuditEntry, Consent, EligibilityCriterion, Household
from programmes.money import format_money
from tests.factories import HouseholdFactory, OrganizationFactory
from tests.helpers import households_named, text

pytestmark = pytest.mark.django_db


def enroll_url(organization: Any) -> str:
    return reverse("beneficiaires:household_create", kwargs={"slug": organization.slug})


def form_data(scope: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "program": scope.program.slug,
        "name": "Léa Tremblay",
        "adults": "1",
        "children": "2",
        "postal_code": "G0A 1A0",
        "preferred_language": "fr",
        "consent": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_form_asks_the_programs_questions_and_refuses_what_does_not_qualify(
    client: Client, world: Any
) -> None:
    EligibilityCriterion.objects.create(
        program=world.a.program,
        kind=EligibilityCriterion.Kind.INCOME,
        key="revenu",
        income_threshold="35000.00",
    )
    EligibilityCriterion.objects.create(
        program=world.a.program,
        kind=EligibilityCriterion.Kind.TERRITORY,
        key="territoire",
        postal_prefixes="G0A, G3N",
    )
    client.force_login(world.a.intervenant)

    page = text(client.get(enroll_url(world.a.organization)))
    threshold = format_money(Decimal("35000"))
    assert f"Le revenu annuel du ménage est-il inférieur à {threshold} ?" in page
    # The territory is checked from the postal code: no extra question.
    assert 'name="critere_territoire"' not in page

    refused = client.post(enroll_url(world.a.organization), form_data(world.a))
    assert refused.status_code == 400
    assert "ne remplit pas ce critère du programme" in text(refused)
    outside = client.post(
        enroll_url(world.a.organization),
        form_data(world.a, critere_revenu="on", postal_code="H2X 1Y4"),
    )
    assert outside.status_code == 400
    assert "code postal commence par G0A, G3N" in text(outside)
    assert not households_named("Léa Tremblay").exists()

    accepted = client.post(
        enroll_url(world.a.organization), form_data(world.a, critere_revenu="on")
    )
    assert accepted.status_code == 302
    household = households_named("Léa Tremblay").get()
    assert household.eligibility == {"taille": True, "revenu": True, "territoire": True}


def test_optional_consents_are_off_by_default_and_recorded_when_given(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    page = client.get(enroll_url(world.a.organization)).content.decode()
    for name in ("consent_contact", "consent_survey"):
        tag = page[page.index(f'name="{name}"') - 60 : page.index(f'name="{name}"') + 80]
        assert "checked" not in tag

    client.post(
        enroll_url(world.a.organization),
        form_data(world.a, consent_contact="on", phone="418 555-0199", email="lea@exemple.ca"),
    )

    household = households_named("Léa Tremblay").get()
    purposes = set(household.consents.values_list("purpose", flat=True))
    assert purposes == {Consent.Purpose.PARTICIPATION, Consent.Purpose.CONTACT}
    assert household.phone == "+14185550199"
    assert household.email == "lea@exemple.ca"


def test_contact_details_need_the_consent_to_be_contacted(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(
        enroll_url(world.a.organization), form_data(world.a, phone="418 555-0199")
    )

    assert response.status_code == 400
    assert "consent à être contactée" in text(response)
    assert not households_named("Léa Tremblay").exists()


def test_notes_are_refused_unless_the_program_allows_them(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    page = text(client.get(enroll_url(world.a.organization)))
    response = client.post(enroll_url(world.a.organization), form_data(world.a, notes="Allergies"))

    assert 'name="notes"' not in page
    assert response.status_code == 302
    assert households_named("Léa Tremblay").get().notes in ("", None)


def test_a_possible_duplicate_in_another_organization_is_flagged_without_showing_it(
    client: Client, world: Any
) -> None:
    other: Any = OrganizationFactory(program=world.a.program)
    first: Any = HouseholdFactory(program=world.a.program, organization=other)
    from beneficiaires.privacy import duplicate_key, name_hash

    Household.objects.filter(pk=first.pk).update(
        name_hash=name_hash("Léa Tremblay"),
        duplicate_key=duplicate_key("Léa Tremblay", 1980, "G0A 1A0"),
    )
    client.force_login(world.a.intervenant)
    data = form_data(world.a, name="  LÉA   tremblay ", year_of_birth="1980")

    warned = client.post(enroll_url(world.a.organization), data)

    page = text(warned)
    assert warned.status_code == 400
    assert "peut-être déjà inscrit à ce programme par un autre organisme" in page
    assert first.reference not in page and other.name not in page
    assert 'name="acknowledge_duplicate"' in page
    assert households_named("Léa Tremblay").count() == 1

    enrolled = client.post(
        enroll_url(world.a.organization), {**data, "acknowledge_duplicate": "on"}
    )

    assert enrolled.status_code == 302
    mine = households_named("Léa Tremblay").get(organization=world.a.organization)
    assert mine.duplicate_review == Household.DuplicateReview.PENDING


def test_enrolling_viewing_and_listing_write_audit_rows_without_values(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    client.post(enroll_url(world.a.organization), form_data(world.a))
    household = households_named("Léa Tremblay").get()

    client.get(reverse("coupons:household_detail", kwargs={"pk": household.pk}))
    client.get(reverse("beneficiaires:organization_detail", kwargs={"slug": "organisme-a"}))

    entries = list(AuditEntry.objects.filter(household=household).order_by("pk"))
    assert [e.action for e in entries] == ["create", "view", "list"]
    assert all(e.user == world.a.intervenant for e in entries)
    assert "name" in entries[1].fields and "phone" in entries[1].fields
    dumped = repr([(e.fields, e.detail) for e in entries])
    assert "Léa" not in dumped and "Tremblay" not in dumped


def test_a_household_is_found_by_its_whole_name_despite_encryption(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    client.post(enroll_url(world.a.organization), form_data(world.a))
    url = reverse("beneficiaires:organization_detail", kwargs={"slug": "organisme-a"})

    found = text(client.get(url, {"q": "lea TREMBLAY"}))
    partial = text(client.get(url, {"q": "Tremb"}))

    reference = households_named("Léa Tremblay").get().reference
    assert reference in found and world.a.household.reference not in found
    assert reference not in partial


def test_the_list_records_its_accesses_in_a_bounded_number_of_queries(
    client: Client, world: Any
) -> None:
    organization: Any = OrganizationFactory(program=world.a.program)
    organization.members.add(world.a.intervenant)
    client.force_login(world.a.intervenant)
    url = reverse("beneficiaires:organization_detail", kwargs={"slug": organization.slug})

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    HouseholdFactory.create_batch(3, program=world.a.program, organization=organization)
    three = count()
    HouseholdFactory.create_batch(27, program=world.a.program, organization=organization)
    assert count() == three
    assert AuditEntry.objects.filter(action="list").count() == 3 + 25


def test_a_waitlisted_household_is_told_so_and_gets_no_coupons(client: Client, world: Any) -> None:
    from beneficiaires.models import Partnership

    Partnership.objects.filter(organization=world.a.organization, program=world.a.program).update(
        household_quota=1
    )
    client.force_login(world.a.intervenant)

    response = client.post(enroll_url(world.a.organization), form_data(world.a), follow=True)

    household = households_named("Léa Tremblay").get()
    assert household.status == Household.Status.WAITLISTED
    page = text(response)
    assert "inscrit en liste d'attente" in page
    assert "Le quota de 1 ménages de l'organisme est atteint." in page
    assert "(position 1)" in page
    assert "Émettre l'allocation" not in page
