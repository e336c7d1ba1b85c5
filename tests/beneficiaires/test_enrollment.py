"""Enrolling a household: the minimum data, a recorded consent, a reference per program."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from beneficiaires import services
from beneficiaires.consent import PARTICIPATION_CONSENT_VERSION
from beneficiaires.models import Consent, Household
from beneficiaires.services import EnrollmentError, enroll_household, normalize_postal_code
from tests.factories import OrganizationFactory, ProgramFactory
from tests.helpers import households_named, text

pytestmark = pytest.mark.django_db


def enroll_url(organization: Any) -> str:
    return reverse("beneficiaires:household_create", kwargs={"slug": organization.slug})


def form_data(scope: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "program": scope.program.slug,
        "name": "Camille Bérubé",
        "adults": "2",
        "children": "3",
        "postal_code": "g5l 2x9",
        "preferred_language": "fr",
        "consent": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def enroll(scope: Any, **overrides: Any) -> Household:
    kwargs: dict[str, Any] = {
        "organization": scope.organization,
        "program": scope.program,
        "name": "Camille Bérubé",
        "adults": 1,
        "children": 0,
        "postal_code": "G0A 1A0",
        "preferred_language": "fr",
        "consent_given": True,
        "enrolled_by": scope.intervenant,
    }
    kwargs.update(overrides)
    return enroll_household(**kwargs)


def test_an_intervenant_enrolls_a_household_with_its_consent(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(enroll_url(world.a.organization), form_data(world.a))

    household = households_named("Camille Bérubé").get()
    assert response.status_code == 302
    assert response["Location"] == reverse("coupons:household_detail", kwargs={"pk": household.pk})
    assert household.program == world.a.program
    assert household.organization == world.a.organization
    assert (household.adults, household.children, household.size) == (2, 3, 5)
    assert household.postal_code == "G5L 2X9"
    assert household.preferred_language == "fr"
    assert household.enrolled_by == world.a.intervenant
    assert re.fullmatch(r"M-\d{4,}", household.reference)
    consent = household.consents.get()
    assert consent.purpose == Consent.Purpose.PARTICIPATION
    assert consent.text_version == PARTICIPATION_CONSENT_VERSION == "2026-2"
    assert consent.recorded_by == world.a.intervenant
    assert consent.withdrawn_at is None


def test_the_enrollment_form_shows_the_consent_text_and_preselects_the_only_program(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)

    page = text(client.get(enroll_url(world.a.organization)))

    assert "servent uniquement à remettre des coupons" in page
    assert "Version du texte : 2026-2" in page
    assert f'name="program" value="{world.a.program.slug}"' in page
    assert "Choisir un autre programme" not in page
    assert 'aria-describedby="texte-consentement"' in page


def test_without_consent_nothing_is_enrolled(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    before = Household.objects.count(), Consent.objects.count()

    response = client.post(enroll_url(world.a.organization), form_data(world.a, consent=None))

    assert response.status_code == 400
    assert "Le consentement de la personne est obligatoire" in text(response)
    assert (Household.objects.count(), Consent.objects.count()) == before


def test_the_service_refuses_an_enrollment_without_consent(world: Any) -> None:
    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, consent_given=False)
    assert raised.value.code == "consent_required"
    assert not households_named("Camille Bérubé").exists()


def test_the_organization_must_be_a_partner_of_the_program(world: Any) -> None:
    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, program=world.b.program)
    assert raised.value.code == "not_partner"
    assert not households_named("Camille Bérubé").exists()


def test_a_program_of_another_organization_cannot_be_chosen(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(
        enroll_url(world.a.organization), form_data(world.a, program=world.b.program.slug)
    )

    assert response.status_code == 400
    assert "Choisissez un des programmes proposés." in text(response)
    assert not households_named("Camille Bérubé").exists()


@pytest.mark.parametrize(
    "postal_code",
    [
        "",
        "12345",
        "G0A1A",
        "G0A 1A01",
        "GOA 1A0",  # letter O where a digit goes
        "G0A 1AO",
        "D0A 1A0",  # D, F, I, O, Q, U never appear
        "F0A 1A0",
        "I0A 1A0",
        "O0A 1A0",
        "Q0A 1A0",
        "U0A 1A0",
        "W0A 1A0",  # W and Z never start a postal code
        "Z0A 1A0",
        "G0D 1A0",
        "G0A 1F0",
        "G0I 1A0",
        "G0A 1Q0",
        "G0U 1A0",
        "G0A 1O0",
        "G0A_1A0",
        "G0A 1A0 G0A 1A0",
    ],
)
def test_bad_postal_codes_are_refused(client: Client, world: Any, postal_code: str) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(
        enroll_url(world.a.organization), form_data(world.a, postal_code=postal_code)
    )

    assert response.status_code == 400
    assert response.context["form"].errors["postal_code"]
    if postal_code.strip() and len(postal_code) <= 10:
        assert "Code postal invalide : il a la forme A1A 1A1, par exemple G0A 1A0." in text(
            response
        )
    assert not households_named("Camille Bérubé").exists()
    with pytest.raises(EnrollmentError) as raised:
        normalize_postal_code(postal_code)
    assert raised.value.code == "invalid_postal_code"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("G0A 1A0", "G0A 1A0"),
        ("g0a1a0", "G0A 1A0"),
        ("  h2x 1y4 ", "H2X 1Y4"),
        ("K1A\u00a00B1", "K1A 0B1"),
        ("t2w-5z9", "T2W 5Z9"),  # W and Z are fine after the first letter
        ("X0A 0H0", "X0A 0H0"),
    ],
)
def test_good_postal_codes_are_stored_normalized(world: Any, raw: str, normalized: str) -> None:
    assert normalize_postal_code(raw) == normalized
    assert enroll(world.a, postal_code=raw).postal_code == normalized


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"adults": "0"}, "Assurez-vous que cette valeur est supérieure ou égale à 1."),
        ({"children": "-1"}, "Assurez-vous que cette valeur est supérieure ou égale à 0."),
        ({"adults": "deux"}, "Saisissez un nombre entier."),
        ({"name": "  "}, "Ce champ est obligatoire."),
        ({"preferred_language": "tlh"}, "Sélectionnez un choix valide."),
    ],
)
def test_other_bad_input_is_refused(
    client: Client, world: Any, overrides: dict[str, Any], message: str
) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(enroll_url(world.a.organization), form_data(world.a, **overrides))

    assert response.status_code == 400
    assert message in text(response)
    assert (
        not Household.objects.filter(program=world.a.program)
        .exclude(pk=world.a.household.pk)
        .exists()
    )


def test_references_follow_each_other_within_a_program() -> None:
    from tests.factories import UserFactory

    program: Any = ProgramFactory()
    organization: Any = OrganizationFactory(program=program)
    user = UserFactory()
    common: dict[str, Any] = {
        "organization": organization,
        "program": program,
        "adults": 1,
        "children": 0,
        "postal_code": "G0A 1A0",
        "preferred_language": "en",
        "consent_given": True,
        "enrolled_by": user,
    }
    first = enroll_household(name="Un", **common)
    second = enroll_household(name="Deux", **common)
    assert (first.reference, second.reference) == ("M-0001", "M-0002")
    other: Any = ProgramFactory()
    organization.programs.add(other)
    assert enroll_household(name="Trois", **{**common, "program": other}).reference == "M-0001"


def test_a_reference_taken_at_the_same_moment_is_retried(world: Any, monkeypatch: Any) -> None:
    taken = enroll(world.a, name="Premier")
    real = services._next_reference
    calls: list[str] = []

    def racing(program: Any) -> str:
        # The first attempt computes the reference another enrollment just took.
        calls.append("x")
        return taken.reference if len(calls) == 1 else real(program)

    monkeypatch.setattr(services, "_next_reference", racing)

    household = enroll(world.a, name="Second")

    assert len(calls) == 2
    assert household.reference != taken.reference
    assert households_named("Second").count() == 1
    assert Consent.objects.filter(household=household).count() == 1


def test_the_database_refuses_a_duplicate_reference(world: Any) -> None:
    taken = enroll(world.a, name="Premier")
    with pytest.raises(IntegrityError):
        Household.objects.create(
            program=world.a.program,
            organization=world.a.organization,
            reference=taken.reference,
            name="Doublon",
            postal_code="G0A 1A0",
            enrolled_by=world.a.intervenant,
        )
