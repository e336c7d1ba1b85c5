"""A program's access log: its coordinators and network admins read every audit row of the
program's households, filtered by date and action, a page at a time, in a fixed number of
queries; nobody else sees it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from beneficiaires import services
from beneficiaires.models import AuditEntry
from beneficiaires.rights_views import AUDIT_PAGE_SIZE
from tests import factories as f
from tests.helpers import text

MFA_GATE = "comptes.security.MFARequiredMiddleware"


@pytest.fixture(autouse=True)
def _without_the_mfa_gate(settings: Any) -> None:
    """The MFA gate is tested in tests/comptes/test_mfa.py; here, the page's own scope."""
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MFA_GATE]


def audit_url(program: Any, **query: str) -> str:
    url = reverse("beneficiaires:program_audit", kwargs={"slug": program.slug})
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def record(household: Any, user: Any, action: str) -> None:
    services.record_access(user=user, households=[household], action=action, fields=["name"])


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_the_program_staff_read_the_log_of_their_program(
    client: Client, world: Any, role: str
) -> None:
    user = world.admin if role == "admin" else world.a.coordinator
    record(world.a.household, world.a.intervenant, AuditEntry.Action.VIEW)
    record(world.b.household, world.b.intervenant, AuditEntry.Action.EXPORT)
    client.force_login(user)

    response = client.get(audit_url(world.a.program))

    assert response.status_code == 200
    page = text(response)
    assert world.a.household.reference in page
    assert "intervenant-a@example.org" in page
    assert "intervenant-b@example.org" not in page
    assert response.headers["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("role", ["intervenant", "market_manager", "vendor", "funder"])
def test_nobody_else_sees_a_program_log(client: Client, world: Any, role: str) -> None:
    client.force_login(world.a.users()[role])

    assert client.get(audit_url(world.a.program)).status_code == 404


def test_a_coordinator_never_sees_another_program_log(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    assert client.get(audit_url(world.b.program)).status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client, world: Any) -> None:
    response = client.get(audit_url(world.a.program))

    assert response.status_code == 302
    assert "/login" in response.headers["Location"] or "connexion" in response.headers["Location"]


def test_it_filters_by_action_and_by_date(client: Client, world: Any) -> None:
    household, user = world.a.household, world.a.intervenant
    long_ago = timezone.make_aware(datetime.datetime(2025, 6, 2, 10, 0))
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(household=household, user=user, action="export", fields=[], at=long_ago),
            AuditEntry(household=household, user=user, action="view", fields=[], detail="json"),
        ]
    )
    client.force_login(world.a.coordinator)

    by_action = client.get(audit_url(world.a.program, action="export"))
    by_date = client.get(audit_url(world.a.program, start="2025-06-02", end="2025-06-02"))
    after = client.get(audit_url(world.a.program, start="2025-06-03"))

    assert [row.entry.action for row in by_action.context["rows"]] == ["export"]
    assert [row.entry.at for row in by_date.context["rows"]] == [long_ago]
    assert long_ago not in [row.entry.at for row in after.context["rows"]]
    assert after.context["rows"]


def test_a_bad_filter_says_why_and_lists_nothing(client: Client, world: Any) -> None:
    record(world.a.household, world.a.intervenant, AuditEntry.Action.VIEW)
    client.force_login(world.a.coordinator)

    reversed_dates = client.get(audit_url(world.a.program, start="2026-06-02", end="2026-06-01"))
    bad_action = client.get(audit_url(world.a.program, action="drop-table"))
    bad_date = client.get(audit_url(world.a.program, start="hier"))

    for response in (reversed_dates, bad_action, bad_date):
        assert response.status_code == 200
        assert response.context["rows"] == []
        assert response.context["form"].errors
    assert "La date de début doit précéder la date de fin." in text(reversed_dates)


def test_a_page_costs_the_same_queries_whatever_its_size(client: Client, world: Any) -> None:
    households = [world.a.household] + [
        f.HouseholdFactory(program=world.a.program, organization=world.a.organization)
        for _ in range(3)
    ]
    users = [f.UserFactory() for _ in range(3)]
    client.force_login(world.a.coordinator)
    services.record_access(user=users[0], households=households, action="list", fields=["name"])
    client.get(audit_url(world.a.program))  # the session's first request writes to it
    with CaptureQueriesContext(connection) as few:
        client.get(audit_url(world.a.program))
    AuditEntry.objects.bulk_create(
        AuditEntry(household=households[i % 4], user=users[i % 3], action="view", fields=["name"])
        for i in range(AUDIT_PAGE_SIZE + 10)
    )

    with CaptureQueriesContext(connection) as many:
        response = client.get(audit_url(world.a.program))

    assert len(response.context["rows"]) == AUDIT_PAGE_SIZE
    assert response.context["page_obj"].has_next()
    # The session, the user, the program, the count and one page of rows with their household
    # and person: the same however many rows the page shows.
    assert len(many) == len(few), "\n".join(q["sql"][:150] for q in many.captured_queries)


def test_the_pages_keep_the_filters(client: Client, world: Any) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(household=world.a.household, user=None, action="view", fields=[])
        for _ in range(AUDIT_PAGE_SIZE + 1)
    )
    client.force_login(world.a.coordinator)

    response = client.get(audit_url(world.a.program, action="view"))

    assert "?action=view&amp;page=2" in response.content.decode()
    assert "Tâche automatique" in text(response)
