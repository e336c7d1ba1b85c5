"""The register of confidentiality incidents: the eight facts, checked against each other, kept
per program, seen by its coordinators and network admins only, exported as CSV."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from beneficiaires.incidents import IncidentError, IncidentFacts, record_incident, update_incident
from beneficiaires.models import PrivacyIncident
from tests import factories as f
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today


def list_url(program: Any) -> str:
    return reverse("beneficiaires:incident_list", kwargs={"slug": program.slug})


def create_url(program: Any) -> str:
    return reverse("beneficiaires:incident_create", kwargs={"slug": program.slug})


def edit_url(incident: Any, program: Any = None) -> str:
    program = program or incident.program
    return reverse("beneficiaires:incident_edit", kwargs={"slug": program.slug, "pk": incident.pk})


def export_url(program: Any) -> str:
    return reverse("beneficiaires:incident_export", kwargs={"slug": program.slug})


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def the_facts(**changes: Any) -> dict[str, str]:
    """A complete incident as the form posts it."""
    data = {
        "description": "Références et codes postaux de 12 ménages",
        "circumstances": "Une liste imprimée a été oubliée sur une table au marché.",
        "occurred_on": days_ago(10).isoformat(),
        "occurred_until": days_ago(9).isoformat(),
        "discovered_on": days_ago(8).isoformat(),
        "people_affected": "12",
        "risk": PrivacyIncident.Risk.SERIOUS,
        "risk_assessment": "Les références ne permettent pas seules d'identifier les ménages.",
        "commission_notified_on": days_ago(7).isoformat(),
        "people_notified_on": days_ago(6).isoformat(),
        "notices": "Avis écrit à la Commission; appel aux ménages par l'organisme.",
        "measures": "Plus aucune liste imprimée au marché.",
    }
    data.update(changes)
    return data


def facts(**changes: Any) -> IncidentFacts:
    values: dict[str, Any] = {
        "description": "Registre des ménages",
        "circumstances": "Courriel envoyé au mauvais destinataire.",
        "discovered_on": days_ago(2),
    }
    values.update(changes)
    return IncidentFacts(**values)


# Recording and completing ----------------------------------------------------------------------


def test_a_coordinator_records_an_incident_with_its_eight_facts(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(create_url(world.a.program), the_facts(), follow=True)

    assert response.redirect_chain[-1][0] == list_url(world.a.program)
    incident = PrivacyIncident.objects.exclude(pk=world.a.incident.pk).get(program=world.a.program)
    assert incident.description == "Références et codes postaux de 12 ménages"
    assert incident.circumstances.startswith("Une liste imprimée")
    assert (incident.occurred_on, incident.occurred_until) == (days_ago(10), days_ago(9))
    assert incident.discovered_on == days_ago(8)
    assert incident.people_affected == 12
    assert incident.risk == PrivacyIncident.Risk.SERIOUS
    assert incident.risk_assessment.startswith("Les références")
    assert incident.commission_notified_on == days_ago(7)
    assert incident.people_notified_on == days_ago(6)
    assert incident.notices.startswith("Avis écrit")
    assert incident.measures == "Plus aucune liste imprimée au marché."
    assert incident.recorded_by == world.a.coordinator
    assert any("est inscrit au registre" in m for m in messages_of(response))
    assert "Références et codes postaux de 12 ménages" in text(response)


def test_only_what_and_how_and_when_discovered_are_needed_at_first(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    data = {
        "description": "Fichier d'importation",
        "circumstances": "Envoyé par erreur à un autre organisme.",
        "discovered_on": timezone.localdate().isoformat(),
        "risk": PrivacyIncident.Risk.UNDER_REVIEW,
    }

    response = client.post(create_url(world.a.program), data)

    assert response.status_code == 302
    incident = PrivacyIncident.objects.get(description="Fichier d'importation")
    assert incident.people_affected is None
    assert incident.occurred_on is None
    assert incident.risk == PrivacyIncident.Risk.UNDER_REVIEW


def test_the_form_groups_the_eight_facts_and_asks_not_to_name_anyone(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    response = client.get(create_url(world.a.program))

    page = text(response)
    assert response.status_code == 200
    headings = [
        "1. Les renseignements visés",
        "2. Les circonstances",
        "3. Quand l'incident a eu lieu",
        "4. Quand il a été constaté",
        "5. Les personnes concernées",
        "6. L'évaluation du risque de préjudice sérieux",
        "7. Les avis transmis",
        "8. Les mesures prises",
    ]
    positions = [page.index(f"<legend>{heading}</legend>") for heading in headings]
    assert positions == sorted(positions)
    assert "Ne nommez personne dans le registre" in page
    assert 'for="id_discovered_on"' in page
    assert 'type="date"' in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"discovered_on": (TODAY() + datetime.timedelta(days=3)).isoformat()},
            "discovered_on",
            "La date où l'incident a été constaté ne peut pas être dans le futur.",
        ),
        (
            {"occurred_on": TODAY().isoformat(), "occurred_until": ""},
            "occurred_on",
            "L'incident ne peut pas avoir commencé après avoir été constaté.",
        ),
        (
            {"occurred_until": (TODAY() - datetime.timedelta(days=30)).isoformat()},
            "occurred_until",
            "La fin de la période ne peut pas précéder son début.",
        ),
        (
            {"commission_notified_on": (TODAY() - datetime.timedelta(days=9)).isoformat()},
            "commission_notified_on",
            "Un avis ne peut pas avoir été transmis avant que l'incident soit constaté.",
        ),
        (
            {"people_notified_on": (TODAY() - datetime.timedelta(days=20)).isoformat()},
            "people_notified_on",
            "Un avis ne peut pas avoir été transmis avant que l'incident soit constaté.",
        ),
        ({"people_affected": "-1"}, "people_affected", "supérieure ou égale à 0"),
        ({"discovered_on": "hier"}, "discovered_on", "Saisissez une date valide."),
        ({"description": "   "}, "description", "Ce champ est obligatoire."),
        (
            {"circumstances": "NAS 123 456 789 visible sur la liste."},
            "circumstances",
            "n'y écrivez ni numéro d'assurance sociale",
        ),
        ({"risk": "maybe"}, "risk", "Sélectionnez un choix valide."),
    ],
)
def test_bad_facts_are_explained_beside_their_field_and_change_nothing(
    client: Client, world: Any, changes: dict[str, str], field: str, message: str
) -> None:
    client.force_login(world.a.coordinator)
    before = PrivacyIncident.objects.count()

    response = client.post(create_url(world.a.program), the_facts(**changes))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert f'id="id_{field}_error"' in text(response)
    assert PrivacyIncident.objects.count() == before


def test_a_coordinator_completes_an_incident_as_notices_go_out(client: Client, world: Any) -> None:
    incident = f.PrivacyIncidentFactory(
        program=world.a.program, recorded_by=world.a.coordinator, discovered_on=days_ago(5)
    )
    client.force_login(world.a.coordinator)
    form = client.get(edit_url(incident)).context["form"]
    assert form.initial["description"] == incident.description
    data = {
        key: ("" if value is None else str(value))
        for key, value in form.initial.items()
        if key in form.fields
    }
    data.update(
        risk=PrivacyIncident.Risk.NOT_SERIOUS,
        risk_assessment="Aucun nom sur la liste.",
        measures="Listes déchiquetées après chaque marché.",
        people_affected="3",
    )

    response = client.post(edit_url(incident), data, follow=True)

    incident.refresh_from_db()
    assert response.redirect_chain[-1][0] == list_url(world.a.program)
    assert incident.risk == PrivacyIncident.Risk.NOT_SERIOUS
    assert incident.measures == "Listes déchiquetées après chaque marché."
    assert incident.people_affected == 3
    assert incident.recorded_by == world.a.coordinator
    assert "L'incident est mis à jour au registre." in messages_of(response)


def test_saving_an_incident_unchanged_says_so(client: Client, world: Any) -> None:
    incident = world.a.incident
    client.force_login(world.a.coordinator)
    form = client.get(edit_url(incident)).context["form"]
    data = {k: ("" if v is None else str(v)) for k, v in form.initial.items()}

    response = client.post(edit_url(incident), data, follow=True)

    assert "Rien n'a changé." in messages_of(response)


def test_a_bad_correction_changes_nothing(client: Client, world: Any) -> None:
    incident = world.a.incident
    client.force_login(world.a.coordinator)
    data = the_facts(
        discovered_on=incident.discovered_on.isoformat(),
        occurred_on=(incident.discovered_on + datetime.timedelta(days=1)).isoformat(),
        occurred_until="",
        commission_notified_on="",
        people_notified_on="",
    )

    response = client.post(edit_url(incident), data)

    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.description == "Liste imprimée de références de ménages"
    assert incident.occurred_on is None


# The service's own checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        (
            {"discovered_on": TODAY() + datetime.timedelta(days=1)},
            "discovered_in_future",
            "discovered_on",
        ),
        ({"occurred_on": TODAY()}, "occurred_after_discovery", "occurred_on"),
        (
            {
                "occurred_on": TODAY() - datetime.timedelta(days=4),
                "occurred_until": TODAY() - datetime.timedelta(days=5),
            },
            "period_ends_before_start",
            "occurred_until",
        ),
        (
            {"occurred_until": TODAY() - datetime.timedelta(days=3)},
            "period_without_start",
            "occurred_on",
        ),
        (
            {"people_notified_on": TODAY() - datetime.timedelta(days=3)},
            "notified_before_discovery",
            "people_notified_on",
        ),
        (
            {"commission_notified_on": TODAY() + datetime.timedelta(days=1)},
            "notified_in_future",
            "commission_notified_on",
        ),
        ({"people_affected": -1}, "invalid_people_affected", "people_affected"),
        ({"risk": "unknown"}, "invalid_risk", "risk"),
        ({"description": ""}, "required", "description"),
        ({"measures": "x" * 5001}, "text_too_long", "measures"),
        ({"notices": "Carte RAMQ TREM 1234 5678 perdue"}, "forbidden_identifier", "notices"),
    ],
)
def test_record_incident_refuses_facts_that_contradict_each_other(
    world: Any, changes: dict[str, Any], code: str, field: str
) -> None:
    before = PrivacyIncident.objects.count()

    with pytest.raises(IncidentError) as caught:
        record_incident(
            program=world.a.program, facts=facts(**changes), recorded_by=world.a.coordinator
        )

    assert caught.value.code == code
    assert caught.value.field == field
    assert caught.value.message
    assert PrivacyIncident.objects.count() == before


def test_update_incident_returns_the_changed_facts(world: Any) -> None:
    incident = record_incident(
        program=world.a.program, facts=facts(), recorded_by=world.a.coordinator
    )

    changed = update_incident(
        incident=incident, facts=facts(people_affected=0, measures="  Mot de passe changé. ")
    )

    incident.refresh_from_db()
    assert changed == ["people_affected", "measures"]
    assert incident.people_affected == 0
    assert incident.measures == "Mot de passe changé."
    assert (
        update_incident(
            incident=incident, facts=facts(people_affected=0, measures="Mot de passe changé.")
        )
        == []
    )


# The list and its export -----------------------------------------------------------------------


def test_the_register_lists_the_programs_incidents_only(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.get(list_url(world.a.program))

    page = text(response)
    assert response.status_code == 200
    assert "Registre des incidents de confidentialité" in page
    assert world.a.incident.description in page
    assert edit_url(world.a.incident) in page
    assert edit_url(world.b.incident) not in page
    assert "1 incident inscrit au registre" in page
    assert export_url(world.a.program) in page


def test_a_serious_risk_without_notices_stands_out(client: Client, world: Any) -> None:
    f.PrivacyIncidentFactory(
        program=world.a.program,
        recorded_by=world.a.coordinator,
        risk=PrivacyIncident.Risk.SERIOUS,
    )
    client.force_login(world.a.coordinator)

    page = text(client.get(list_url(world.a.program)))

    assert "Avis à la Commission à transmettre" in page
    assert "Avis aux personnes à transmettre" in page


def test_an_empty_register_says_so(client: Client, world: Any) -> None:
    program = f.ProgramFactory()
    program.coordinators.add(world.a.coordinator)
    client.force_login(world.a.coordinator)

    page = text(client.get(list_url(program)))

    assert "Aucun incident inscrit au registre." in page
    assert reverse("beneficiaires:incident_create", kwargs={"slug": program.slug}) in page


def test_the_register_is_paginated_at_a_constant_number_of_queries(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.a.coordinator)
    url = list_url(world.a.program)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    f.PrivacyIncidentFactory.create_batch(
        2, program=world.a.program, recorded_by=world.a.coordinator
    )
    with django_assert_max_num_queries(12):
        client.get(url)
    with_three = count()
    f.PrivacyIncidentFactory.create_batch(
        27, program=world.a.program, recorded_by=world.a.coordinator
    )
    assert count() == with_three
    second = client.get(url, {"page": 2})
    assert len(second.context["page_obj"].object_list) == 5
    assert "Page 2 sur 2" in text(second)


@pytest.mark.parametrize("how", ["export", "format"])
def test_the_register_exports_as_csv(client: Client, world: Any, how: str) -> None:
    f.PrivacyIncidentFactory(
        program=world.a.program,
        recorded_by=world.a.coordinator,
        description='=HYPERLINK("http://exemple.org")',
        people_affected=4,
        risk=PrivacyIncident.Risk.NOT_SERIOUS,
        discovered_on=datetime.date(2026, 7, 10),
    )
    client.force_login(world.a.coordinator)
    url = export_url(world.a.program) if how == "export" else list_url(world.a.program)

    response = client.get(url, {"format": "csv"} if how == "format" else {})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Numéro", "Renseignements visés", "Circonstances"]
    assert len(rows) == 3  # the header and program a's two incidents, not program b's
    newest = rows[1]
    assert newest[1] == '\'=HYPERLINK("http://exemple.org")'  # never a formula
    assert newest[5] == "2026-07-10"
    assert newest[6] == "4"
    assert newest[7] == "Pas de risque de préjudice sérieux"
    assert rows[2][1] == world.a.incident.description


def test_the_export_costs_a_constant_number_of_queries(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(export_url(world.a.program)).status_code == 200
        return len(queries)

    few = count()
    f.PrivacyIncidentFactory.create_batch(
        20, program=world.a.program, recorded_by=world.a.coordinator
    )
    assert count() == few


# Who may see the register ----------------------------------------------------------------------


def every_url(world: Any) -> list[tuple[str, str]]:
    a = world.a
    return [
        ("get", list_url(a.program)),
        ("get", export_url(a.program)),
        ("get", create_url(a.program)),
        ("post", create_url(a.program)),
        ("get", edit_url(a.incident)),
        ("post", edit_url(a.incident)),
    ]


@pytest.mark.parametrize("role", ["intervenant", "market_manager", "vendor"])
def test_other_roles_of_the_program_get_a_404(client: Client, world: Any, role: str) -> None:
    client.force_login(world.a.users()[role])
    for method, url in every_url(world):
        response = getattr(client, method)(url, the_facts() if method == "post" else {})
        assert response.status_code == 404, (role, url)
    assert PrivacyIncident.objects.count() == 2


def test_another_programs_coordinator_and_a_stranger_get_a_404(client: Client, world: Any) -> None:
    for user in (world.b.coordinator, world.nobody):
        client.force_login(user)
        for method, url in every_url(world):
            response = getattr(client, method)(url, the_facts() if method == "post" else {})
            assert response.status_code == 404, (user, url)
    assert PrivacyIncident.objects.count() == 2


def test_an_incident_is_reached_only_through_its_own_program(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    assert client.get(edit_url(world.b.incident, world.a.program)).status_code == 404
    response = client.post(edit_url(world.b.incident, world.a.program), the_facts())
    assert response.status_code == 404
    world.b.incident.refresh_from_db()
    assert world.b.incident.description == "Liste imprimée de références de ménages"


def test_a_network_admin_sees_every_register(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    for program, incident in (
        (world.a.program, world.a.incident),
        (world.b.program, world.b.incident),
    ):
        assert client.get(list_url(program)).status_code == 200
        assert client.get(edit_url(incident)).status_code == 200
        assert client.get(export_url(program)).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, world: Any) -> None:
    for method, url in every_url(world):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert "/login" in response["Location"] or "connexion" in response["Location"]
