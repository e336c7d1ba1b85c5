"""The rights of the people enrolled: rectification, access export, consent per purpose,
withdrawal, anonymization and the access log, each one audited and kept to its scope."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beneficiaires import services
from beneficiaires.consent import CONSENT_VERSIONS
from beneficiaires.exports import (
    household_export,
    household_export_csv,
    register_export_section,
)
from beneficiaires.models import AuditEntry, Consent, EnrollmentPolicy, Household
from coupons.services import issue_household_allotment
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

PHONE = "+14185550199"
EMAIL = "camille@exemple.ca"


def url(name: str, household: Any, **kwargs: Any) -> str:
    return reverse(f"beneficiaires:{name}", kwargs={"pk": household.pk, **kwargs})


ALL_URLS = [
    ("household_edit", {}),
    ("household_export_json", {}),
    ("household_export_csv", {}),
    ("household_consent", {"purpose": "contact"}),
    ("household_consent", {"purpose": "participation"}),
    ("household_withdraw", {}),
    ("household_anonymize", {}),
    ("household_audit", {}),
]
GET_ONLY = {"household_export_json", "household_export_csv", "household_audit"}
POST_URLS = [(name, kwargs) for name, kwargs in ALL_URLS if name not in GET_ONLY]


def give_contact_consent(household: Any, user: Any) -> None:
    services.give_consent(household=household, purpose="contact", recorded_by=user)


def with_contact(household: Any, user: Any) -> Household:
    give_contact_consent(household, user)
    household.phone, household.email = PHONE, EMAIL
    household.save()
    return Household.objects.get(pk=household.pk)


def edit_data(household: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": household.name,
        "adults": str(household.adults),
        "children": str(household.children),
        "postal_code": household.postal_code,
        "year_of_birth": "",
        "preferred_language": household.preferred_language,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def snapshot(household: Any) -> dict[str, Any]:
    fresh = Household.objects.get(pk=household.pk)
    return {name: getattr(fresh, name) for name in services.PERSONAL_FIELDS}


def changes_of(household: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(household=household, action=AuditEntry.Action.CHANGE))


# Scope ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), ALL_URLS)
@pytest.mark.parametrize("role", ["b_intervenant", "b_coordinator", "manager", "vendor", "nobody"])
def test_outside_the_scope_every_rights_page_is_a_404(
    client: Client, world: Any, name: str, kwargs: dict[str, Any], role: str
) -> None:
    user = {
        "b_intervenant": world.b.intervenant,
        "b_coordinator": world.b.coordinator,
        "manager": world.a.manager,
        "vendor": world.a.vendor_user,
        "nobody": world.nobody,
    }[role]
    client.force_login(user)
    target = url(name, world.a.household, **kwargs)
    before = snapshot(world.a.household)
    entries = AuditEntry.objects.count()

    assert client.get(target).status_code == 404
    data = {"action": "withdraw", **edit_data(world.a.household, name="Autre nom")}
    # The downloads and the log answer GET only: a POST is refused before any lookup.
    expected = 405 if name in GET_ONLY else 404
    assert client.post(target, data).status_code == expected

    assert snapshot(world.a.household) == before
    assert AuditEntry.objects.count() == entries
    assert Household.objects.get(pk=world.a.household.pk).status == Household.Status.ACTIVE


@pytest.mark.parametrize(("name", "kwargs"), POST_URLS)
def test_a_post_outside_the_scope_is_a_404(
    client: Client, world: Any, name: str, kwargs: dict[str, Any]
) -> None:
    client.force_login(world.b.intervenant)

    response = client.post(url(name, world.a.household, **kwargs), {"action": "withdraw"})

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("intervenant", {"household_anonymize": 403, "household_audit": 403}),
        ("coordinator", {}),
        ("admin", {}),
    ],
)
def test_who_may_open_each_rights_page(
    client: Client, world: Any, role: str, expected: dict[str, int]
) -> None:
    user = world.admin if role == "admin" else getattr(world.a, role)
    client.force_login(user)

    for name, kwargs in ALL_URLS:
        response = client.get(url(name, world.a.household, **kwargs))
        assert response.status_code == expected.get(name, 200), (name, kwargs)


def test_an_unknown_purpose_is_a_404(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    assert (
        client.get(url("household_consent", world.a.household, purpose="ventes")).status_code == 404
    )


# Rectification ----------------------------------------------------------------------------------


def test_the_rectification_form_is_prefilled_and_its_view_is_audited(
    client: Client, world: Any
) -> None:
    household = with_contact(world.a.household, world.a.intervenant)
    client.force_login(world.a.intervenant)

    response = client.get(url("household_edit", household))

    page = text(response)
    assert response.status_code == 200
    assert household.name in page
    assert "418 555-0199" in page
    assert EMAIL in page
    assert 'name="notes"' not in page  # the program does not allow notes
    entry = AuditEntry.objects.filter(household=household, action=AuditEntry.Action.VIEW).get()
    assert entry.user == world.a.intervenant
    assert set(entry.fields) == {
        "name",
        "adults",
        "children",
        "postal_code",
        "year_of_birth",
        "preferred_language",
        "phone",
        "email",
    }
    assert "no-store" in response["Cache-Control"]


def test_without_contact_consent_the_contact_inputs_are_disabled_and_explained(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)

    page = text(client.get(url("household_edit", world.a.household)))

    assert "n'a pas consenti à être contactée" in page
    assert page.count('disabled="disabled"') == 2
    assert url("household_consent", world.a.household, purpose="contact") in page
    entry = AuditEntry.objects.get(household=world.a.household, action=AuditEntry.Action.VIEW)
    assert "phone" not in entry.fields
    assert "email" not in entry.fields


def test_a_rectification_changes_the_fields_and_audits_their_names_only(
    client: Client, world: Any
) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)

    response = client.post(
        url("household_edit", household),
        edit_data(household, name="Camille Bérubé", children="3", postal_code="g5l 2x9"),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("coupons:household_detail", kwargs={"pk": household.pk})
    fresh = Household.objects.get(pk=household.pk)
    assert (fresh.name, fresh.children, fresh.postal_code) == ("Camille Bérubé", 3, "G5L 2X9")
    [entry] = changes_of(household)
    assert sorted(entry.fields) == ["children", "name", "postal_code"]
    assert entry.user == world.a.intervenant
    stored = json.dumps(entry.fields) + entry.detail
    for value in ("Camille", "Bérubé", "G5L", "3"):
        assert value not in stored
    message = messages_of(client.get(response["Location"]))
    assert any("Nom de la personne répondante" in m and "Code postal" in m for m in message)


def test_a_rectification_with_contact_consent_stores_the_phone_and_email(
    client: Client, world: Any
) -> None:
    household = world.a.household
    give_contact_consent(household, world.a.intervenant)
    client.force_login(world.a.coordinator)

    response = client.post(
        url("household_edit", household),
        edit_data(household, phone="418 555-0199", email=EMAIL),
    )

    assert response.status_code == 302
    fresh = Household.objects.get(pk=household.pk)
    assert (fresh.phone, fresh.email) == (PHONE, EMAIL)
    assert sorted(changes_of(household)[0].fields) == ["email", "phone"]


def test_notes_are_kept_when_the_program_allows_them(client: Client, world: Any) -> None:
    EnrollmentPolicy.objects.create(program=world.a.program, notes_allowed=True)
    client.force_login(world.a.intervenant)
    assert 'name="notes"' in text(client.get(url("household_edit", world.a.household)))

    response = client.post(
        url("household_edit", world.a.household),
        edit_data(world.a.household, notes="Préfère la distribution du jeudi."),
    )

    assert response.status_code == 302
    assert Household.objects.get(pk=world.a.household.pk).notes == (
        "Préfère la distribution du jeudi."
    )


def test_saving_an_unchanged_form_changes_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(url("household_edit", world.a.household), edit_data(world.a.household))

    assert response.status_code == 302
    assert changes_of(world.a.household) == []


@pytest.mark.parametrize(
    ("notes_allowed", "overrides", "field", "message"),
    [
        (False, {"postal_code": "Z0Z 0Z0"}, "postal_code", "Code postal invalide"),
        (False, {"adults": "0"}, "adults", ""),
        (False, {"name": ""}, "name", ""),
        (False, {"year_of_birth": "1850"}, "year_of_birth", "Année de naissance invalide"),
        (False, {"phone": "418 555-0199"}, "phone", "consent à être contactée"),
        (False, {"email": EMAIL}, "email", "consent à être contactée"),
        (False, {"notes": "Allergies"}, None, "ne permet pas de notes"),
        (True, {"notes": "NAS 123 456 789"}, "notes", "numéro d'assurance sociale"),
        (True, {"notes": "Carte GAGC 1234 5678"}, "notes", "numéro d'assurance sociale"),
    ],
)
def test_invalid_rectifications_are_refused_and_change_nothing(
    client: Client,
    world: Any,
    notes_allowed: bool,
    overrides: dict[str, str],
    field: str | None,
    message: str,
) -> None:
    EnrollmentPolicy.objects.create(program=world.a.program, notes_allowed=notes_allowed)
    household = world.a.household
    before = snapshot(household)
    client.force_login(world.a.intervenant)

    response = client.post(
        url("household_edit", household),
        edit_data(household, **{"name": "Nouveau Nom", **overrides}),
    )

    assert response.status_code == 400
    form = response.context["form"]
    errors = form.errors.get(field or "__all__")
    assert errors, form.errors
    assert message in " ".join(errors)
    assert snapshot(household) == before
    assert changes_of(household) == []


def test_an_anonymized_household_cannot_be_rectified(client: Client, world: Any) -> None:
    household = world.a.household
    services.anonymize_household(household=household, by=world.a.coordinator)
    client.force_login(world.a.intervenant)

    for method, data in (("get", {}), ("post", edit_data(household, name="Réapparu"))):
        response = getattr(client, method)(url("household_edit", household), data)
        assert response.status_code == 302
        assert any("rendu anonyme" in m for m in messages_of(client.get(response["Location"])))
    assert Household.objects.get(pk=household.pk).name in ("", None)
    assert changes_of(household) == []


# Access export ----------------------------------------------------------------------------------


def expected_household_fields() -> set[str]:
    return {
        field.name
        for field in Household._meta.concrete_fields
        if field.name not in {"name_hash", "duplicate_key"}
    }


def issued(scope: Any) -> Any:
    return issue_household_allotment(
        household=scope.household, issued_by=scope.intervenant, idempotency_key=uuid.uuid4()
    )


def test_the_json_export_holds_every_field_the_consents_and_the_coupons(
    client: Client, world: Any
) -> None:
    household = with_contact(world.a.household, world.a.intervenant)
    batch = issued(world.a)
    serials = set(batch.coupons.values_list("serial", flat=True))
    client.force_login(world.a.intervenant)

    response = client.get(url("household_export_json", household))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment")
    assert household.reference in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content.decode("utf-8"))
    assert set(data["household"]) == expected_household_fields()
    assert data["household"]["name"] == household.name
    assert data["household"]["phone"] == PHONE
    assert data["household"]["reference"] == household.reference
    assert {c["purpose"] for c in data["consents"]} == {"participation", "contact"}
    contact = next(c for c in data["consents"] if c["purpose"] == "contact")
    assert contact["text_version"] == CONSENT_VERSIONS["contact"]
    assert contact["recorded_by"] == world.a.intervenant.email
    assert contact["withdrawn_at"] is None
    assert {c["serial"] for c in data["coupons"]} == serials
    assert all("code" not in c for c in data["coupons"])
    assert all(c["value"] and c["valid_until"] for c in data["coupons"])
    export = AuditEntry.objects.get(household=household, action=AuditEntry.Action.EXPORT)
    assert set(export.fields) == expected_household_fields()
    assert export.user == world.a.intervenant
    assert household.name not in json.dumps(export.fields)
    assert any(row["action"] == "export" for row in data["access_log"])


def test_the_csv_export_opens_in_a_spreadsheet_with_every_field(client: Client, world: Any) -> None:
    household = world.a.household
    batch = issued(world.a)
    client.force_login(world.a.coordinator)

    response = client.get(url("household_export_csv", household))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment")
    assert f"{household.reference}.csv" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["section", "field", "value"]
    household_rows = {field: value for section, field, value in rows[1:] if section == "household"}
    assert set(household_rows) == expected_household_fields()
    assert household_rows["name"] == household.name
    assert any(section == "consents" and value == "participation" for section, _f, value in rows)
    coupon_serials = {value for section, field, value in rows if field.endswith(".serial")}
    assert coupon_serials == set(batch.coupons.values_list("serial", flat=True))
    export = AuditEntry.objects.get(household=household, action=AuditEntry.Action.EXPORT)
    assert (export.user, export.detail) == (world.a.coordinator, "csv")


def test_a_spreadsheet_never_runs_a_value_as_a_formula(world: Any) -> None:
    household = world.a.household
    household.name = '=HYPERLINK("http://exemple.ca","x")'
    household.save()

    rows = list(csv.reader(io.StringIO(household_export_csv(household).lstrip("\ufeff"))))

    name = next(value for section, field, value in rows if field == "name")
    assert name == "'" + household.name


def test_the_export_shows_a_withdrawn_consent_and_who_withdrew_it(world: Any) -> None:
    household = world.a.household
    give_contact_consent(household, world.a.intervenant)
    services.withdraw_consent(
        household=household, purpose="contact", withdrawn_by=world.a.coordinator
    )

    consents = household_export(household)["consents"]

    contact = next(c for c in consents if c["purpose"] == "contact")
    assert contact["withdrawn_by"] == world.a.coordinator.email
    assert contact["withdrawn_at"]


def test_a_built_in_section_cannot_be_replaced() -> None:
    with pytest.raises(ValueError):
        register_export_section("household", lambda household: [])


# Consent per purpose ----------------------------------------------------------------------------


def test_the_consent_page_shows_the_text_and_its_version(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    page = text(client.get(url("household_consent", world.a.household, purpose="survey")))

    assert "sondage d'évaluation" in page
    assert CONSENT_VERSIONS["survey"] in page
    assert "Enregistrer le consentement" in page


def test_an_optional_consent_is_given_with_its_version_and_who_recorded_it(
    client: Client, world: Any
) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)
    target = url("household_consent", household, purpose="contact")

    refused = client.post(target, {"action": "give"})
    assert refused.status_code == 400
    assert not household.consents.filter(purpose="contact").exists()

    response = client.post(target, {"action": "give", "confirm": "on"})

    assert response.status_code == 302
    consent = household.consents.get(purpose="contact")
    assert consent.text_version == CONSENT_VERSIONS["contact"]
    assert consent.recorded_by == world.a.intervenant
    assert consent.withdrawn_at is None


def test_a_withdrawn_household_gives_no_new_consent(client: Client, world: Any) -> None:
    household = world.a.household
    services.withdraw_household(household=household, withdrawn_by=world.a.intervenant)
    client.force_login(world.a.intervenant)
    target = url("household_consent", household, purpose="survey")
    assert "Enregistrer le consentement" not in text(client.get(target))

    response = client.post(target, {"action": "give", "confirm": "on"})

    assert response.status_code == 400
    assert not household.consents.filter(purpose="survey").exists()


def test_participation_cannot_be_given_again_from_the_consent_page(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.intervenant)
    count = Consent.objects.count()

    response = client.post(
        url("household_consent", world.a.household, purpose="participation"),
        {"action": "give", "confirm": "on"},
    )

    assert response.status_code == 400
    assert Consent.objects.count() == count


def test_an_unknown_action_changes_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.post(
        url("household_consent", world.a.household, purpose="contact"), {"action": "erase"}
    )

    assert response.status_code == 400
    assert "Action inconnue" in text(response)


def test_withdrawing_contact_consent_erases_the_phone_and_email(client: Client, world: Any) -> None:
    household = with_contact(world.a.household, world.a.intervenant)
    client.force_login(world.a.intervenant)
    target = url("household_consent", household, purpose="contact")
    assert "efface le téléphone et le courriel" in text(client.get(target))

    response = client.post(target, {"action": "withdraw"})

    assert response.status_code == 302
    fresh = Household.objects.get(pk=household.pk)
    assert not fresh.phone
    assert not fresh.email
    consent = household.consents.get(purpose="contact")
    assert consent.withdrawn_by == world.a.intervenant
    assert any("effacés" in m for m in messages_of(client.get(response["Location"])))
    assert fresh.status == Household.Status.ACTIVE


def test_withdrawing_participation_withdraws_the_household(client: Client, world: Any) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)
    target = url("household_consent", household, purpose="participation")
    assert "retire le ménage du programme" in text(client.get(target))

    response = client.post(target, {"action": "withdraw"})

    assert response.status_code == 302
    fresh = Household.objects.get(pk=household.pk)
    assert fresh.status == Household.Status.WITHDRAWN
    assert fresh.withdrawn_at is not None
    assert not household.consents.filter(withdrawn_at__isnull=True).exists()
    assert any("retiré du programme" in m for m in messages_of(client.get(response["Location"])))


# Withdrawal -------------------------------------------------------------------------------------


def test_a_household_leaves_the_program_after_a_confirmation(client: Client, world: Any) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)

    page = text(client.get(url("household_withdraw", household)))
    assert "Retirer le ménage du programme" in page
    assert Household.objects.get(pk=household.pk).status == Household.Status.ACTIVE

    response = client.post(url("household_withdraw", household))

    assert response.status_code == 302
    assert Household.objects.get(pk=household.pk).status == Household.Status.WITHDRAWN
    again = client.post(url("household_withdraw", household))
    assert any("déjà retiré" in m for m in messages_of(client.get(again["Location"])))


# Anonymization ----------------------------------------------------------------------------------


def test_a_coordinator_anonymizes_a_household(client: Client, world: Any) -> None:
    EnrollmentPolicy.objects.create(program=world.a.program, notes_allowed=True)
    household = with_contact(world.a.household, world.a.intervenant)
    household.notes = "Préfère le jeudi."  # type: ignore[assignment]
    household.save()
    client.force_login(world.a.coordinator)

    page = text(client.get(url("household_anonymize", household)))
    assert "Ce qui est effacé" in page
    assert "Ce qui est gardé" in page

    response = client.post(url("household_anonymize", household))

    assert response.status_code == 302
    fresh = Household.objects.get(pk=household.pk)
    assert fresh.anonymized_at is not None
    for name in ("name", "phone", "email", "notes"):
        assert not getattr(fresh, name), name
    assert fresh.reference == household.reference
    assert AuditEntry.objects.filter(
        household=household, action=AuditEntry.Action.ANONYMIZE, user=world.a.coordinator
    ).exists()


def test_an_intervenant_may_not_anonymize(client: Client, world: Any) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)

    assert client.get(url("household_anonymize", household)).status_code == 403
    assert client.post(url("household_anonymize", household)).status_code == 403

    fresh = Household.objects.get(pk=household.pk)
    assert fresh.anonymized_at is None
    assert fresh.name == household.name


# Access log -------------------------------------------------------------------------------------


def test_the_access_log_lists_who_did_what_with_which_fields(client: Client, world: Any) -> None:
    household = world.a.household
    services.update_household(
        household=household,
        details=services.HouseholdDetails(
            name="Camille Bérubé", adults=1, children=1, postal_code=household.postal_code
        ),
        changed_by=world.a.intervenant,
    )
    client.force_login(world.a.coordinator)

    response = client.get(url("household_audit", household))

    page = text(response)
    assert response.status_code == 200
    assert world.a.intervenant.email in page
    assert "Modification" in page
    assert "Nom de la personne répondante" in page
    assert "Camille Bérubé" not in page


def test_an_intervenant_may_not_read_the_access_log(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    assert client.get(url("household_audit", world.a.household)).status_code == 403


def test_the_access_log_costs_the_same_queries_for_3_or_30_rows(client: Client, world: Any) -> None:
    household = world.a.household
    client.force_login(world.admin)
    target = url("household_audit", household)

    def count(rows: int) -> int:
        services.record_access(
            user=world.a.intervenant,
            households=[household] * (rows - household.audit_entries.count()),
            action=AuditEntry.Action.VIEW,
            fields=["name"],
        )
        with CaptureQueriesContext(connection) as queries:
            assert client.get(target).status_code == 200
        return len(queries)

    assert count(3) == count(30)
