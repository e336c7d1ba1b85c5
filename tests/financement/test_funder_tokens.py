"""A funder's access: its members, its reports API tokens (made once, stored hashed, revoked),
the command that makes one, and the page where coordinators manage them."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import include, path, reverse
from django.utils import timezone

import config.urls
from comptes.models import Role
from comptes.registry import role_definition
from financement import access, access_urls
from financement import urls as financement_urls
from financement.models import Funder, FunderToken
from financement.services import create_funder, record_contribution
from programmes.models import Program
from rapports.scopes import report_programs_for
from tests import factories as f

# Until the lead includes access_urls in financement/urls.py: the site's URLs with it.
urlpatterns: list[Any] = [
    path("", include((financement_urls.urlpatterns + access_urls.urlpatterns, "financement"))),
    *[
        pattern
        for pattern in config.urls.urlpatterns
        if getattr(pattern, "namespace", None) != "financement"
    ],
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def fund(program: Program, funder: Funder, amount: str = "1000.00") -> None:
    record_contribution(
        program=program,
        funder=funder,
        amount=Decimal(amount),
        received_on=timezone.localdate() - datetime.timedelta(days=1),
        recorded_by=None,
    )


@pytest.fixture
def foundation(world: Any) -> Funder:
    funder = create_funder(name="Fondation Lauréat", kind="foundation", contact_email="a@f.org")
    fund(world.a.program, funder)
    return funder


# Tokens --------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_hashed(foundation: Funder, world: Any) -> None:
    row, token = access.create_funder_token(
        funder=foundation, label="Tableau de bord", created_by=world.a.coordinator
    )

    assert token.startswith(access.TOKEN_PREFIX) and len(token) > 40
    assert row.token_hash == access.hash_token(token) and token not in row.token_hash
    assert token.startswith(row.token_prefix)
    assert access.resolve_funder_token(token) == row
    assert access.resolve_funder_token(token + "x") is None
    assert access.resolve_funder_token("pcn_" + token[5:]) is None  # a device's prefix
    assert access.resolve_funder_token("") is None


def test_a_revoked_token_no_longer_resolves(foundation: Funder) -> None:
    row, token = access.create_funder_token(funder=foundation, label="", created_by=None)

    access.revoke_funder_token(token=row)
    first = row.revoked_at
    access.revoke_funder_token(token=row)

    assert access.resolve_funder_token(token) is None
    assert first is not None and row.revoked_at == first
    assert row.label  # a default name


def test_last_use_is_written_at_most_once_a_minute(
    foundation: Funder, django_assert_num_queries: Any
) -> None:
    row, token = access.create_funder_token(funder=foundation, label="x", created_by=None)

    with django_assert_num_queries(2):  # the look-up, then the mark
        access.resolve_funder_token(token)
    with django_assert_num_queries(1):  # the look-up only
        access.resolve_funder_token(token)
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_label_too_long_is_refused(foundation: Funder) -> None:
    with pytest.raises(access.FunderAccessError) as excinfo:
        access.create_funder_token(funder=foundation, label="x" * 81, created_by=None)

    assert excinfo.value.code == "label_too_long"
    assert not FunderToken.objects.exists()


def test_funded_programs_are_those_it_contributed_to(foundation: Funder, world: Any) -> None:
    assert list(access.funded_programs(foundation)) == [world.a.program]


# Members and scopes --------------------------------------------------------------------------


def test_a_coordinator_may_invite_staff_of_the_funders_of_their_programs(
    foundation: Funder, world: Any
) -> None:
    other = create_funder(name="Autre fondation", kind="foundation")
    fund(world.b.program, other)
    definition = role_definition(Role.FUNDER)

    assert definition.scope_model is Funder
    assert foundation in definition.invitable_scopes(world.a.coordinator)
    assert other not in definition.invitable_scopes(world.a.coordinator)
    assert {foundation, other} <= set(definition.invitable_scopes(world.admin))
    assert not definition.invitable_scopes(world.a.intervenant).exists()


def test_a_funders_member_reads_the_reports_of_the_programs_it_funds(
    foundation: Funder, world: Any
) -> None:
    member = f.UserFactory(email="analyste@fondation.org")
    role_definition(Role.FUNDER).grant(member, foundation)

    assert list(report_programs_for(member)) == [world.a.program]
    assert set(report_programs_for(world.admin)) == {world.a.program, world.b.program}
    assert list(report_programs_for(world.a.coordinator)) == [world.a.program]
    assert not report_programs_for(world.a.vendor_user).exists()
    assert not report_programs_for(world.nobody).exists()


# The command ---------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_funder_token", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_prints_a_working_token(foundation: Funder) -> None:
    by_name = run("--funder", "fondation lauréat", "--label", "Script")
    by_email = run("--funder", "A@F.org")

    assert access.resolve_funder_token(by_name).funder == foundation  # type: ignore[union-attr]
    assert access.resolve_funder_token(by_email).funder == foundation  # type: ignore[union-attr]
    assert FunderToken.objects.filter(label="Script").count() == 1


def test_the_command_refuses_an_unknown_or_ambiguous_funder(foundation: Funder) -> None:
    create_funder(name="Deuxième", kind="business", contact_email="a@f.org")

    with pytest.raises(CommandError, match="Aucun bailleur de fonds"):
        run("--funder", "Inconnue")
    with pytest.raises(CommandError, match="Plusieurs bailleurs de fonds"):
        run("--funder", "a@f.org")
    assert not FunderToken.objects.exists()


# The page ------------------------------------------------------------------------------------


def tokens_url(funder: Funder) -> str:
    return reverse("financement:funder_tokens", kwargs={"pk": funder.pk})


def test_a_coordinator_makes_a_token_and_sees_it_once(
    client: Any, foundation: Funder, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    made = client.post(tokens_url(foundation), {"label": "Tableau de bord"})
    again = client.get(tokens_url(foundation))

    token = FunderToken.objects.get()
    body = made.content.decode()
    assert made.status_code == 200 and "Tableau de bord" in body
    plaintext = body.split("<code>")[1].split("</code>")[0]
    assert access.resolve_funder_token(plaintext) == token
    assert plaintext not in again.content.decode()
    assert token.created_by == world.a.coordinator


def test_a_coordinator_revokes_a_token(client: Any, foundation: Funder, world: Any) -> None:
    row, token = access.create_funder_token(funder=foundation, label="x", created_by=None)
    client.force_login(world.a.coordinator)

    response = client.post(
        reverse("financement:funder_token_revoke", kwargs={"pk": foundation.pk, "token_id": row.pk})
    )

    assert response.status_code == 302
    assert access.resolve_funder_token(token) is None


def test_a_bad_label_is_a_400_that_changes_nothing(
    client: Any, foundation: Funder, world: Any
) -> None:
    client.force_login(world.admin)

    response = client.post(tokens_url(foundation), {"label": "x" * 200})

    assert response.status_code == 400
    assert "caractères" in response.content.decode()
    assert not FunderToken.objects.exists()


@pytest.mark.parametrize("who", ["coordinator_b", "intervenant", "vendor", "funder_member"])
def test_nobody_else_reaches_the_page(
    client: Any, foundation: Funder, world: Any, who: str
) -> None:
    member = f.UserFactory(email="m@fondation.org")
    foundation.members.add(member)
    row, _token = access.create_funder_token(funder=foundation, label="x", created_by=None)
    user = {
        "coordinator_b": world.b.coordinator,
        "intervenant": world.a.intervenant,
        "vendor": world.a.vendor_user,
        "funder_member": member,
    }[who]
    client.force_login(user)
    revoke = reverse(
        "financement:funder_token_revoke", kwargs={"pk": foundation.pk, "token_id": row.pk}
    )

    assert client.get(tokens_url(foundation)).status_code == 404
    assert client.post(tokens_url(foundation), {"label": "y"}).status_code == 404
    assert client.post(revoke).status_code == 404
    assert FunderToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_token_of_another_funder_is_a_404(client: Any, foundation: Funder, world: Any) -> None:
    other = create_funder(name="Autre", kind="business")
    fund(world.b.program, other)
    row, token = access.create_funder_token(funder=other, label="x", created_by=None)
    client.force_login(world.a.coordinator)

    url = reverse(
        "financement:funder_token_revoke", kwargs={"pk": foundation.pk, "token_id": row.pk}
    )

    assert client.post(url).status_code == 404
    assert access.resolve_funder_token(token) is not None
