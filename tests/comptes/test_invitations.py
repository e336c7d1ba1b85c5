"""Invitations: create, email, accept, refuse, revoke; the pages and the admin."""

from __future__ import annotations

import datetime
import hashlib
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from comptes import services
from comptes.models import Invitation, Role, User
from comptes.services import InvitationError
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "framboises-et-bleuets-2026"


def link_path(mail: Any) -> str:
    match = re.search(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def invite(inviter: Any, scope: Any, role: str = Role.MARKET_MANAGER, **kwargs: Any) -> Any:
    return services.create_invitation(
        inviter=inviter,
        email=kwargs.pop("email", "nouvelle@example.org"),
        role=role,
        scope=scope,
        **kwargs,
    )


# --- Services -------------------------------------------------------------------------------


def test_create_stores_only_a_hash_and_emails_a_french_link(
    world: Any, mailoutbox: list[Any]
) -> None:
    invitation, token = invite(
        world.a.manager,
        world.a.market,
        email=" Nouvelle@Example.org ",
        absolute_url=lambda path: "https://coupons.example" + path,
    )
    assert invitation.email == "nouvelle@example.org"
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=14)
    assert invitation.is_pending
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["nouvelle@example.org"]
    assert f"https://coupons.example/invitations/{token}/" in mail.body
    assert "Gestion de marché" in mail.subject and world.a.market.name in mail.subject
    assert "Pour accepter l'invitation" in mail.body


def test_inviting_into_a_scope_you_do_not_control_is_refused(
    world: Any, mailoutbox: list[Any]
) -> None:
    with pytest.raises(InvitationError) as error:
        invite(world.a.manager, world.b.market)
    assert error.value.code == "forbidden_scope"
    with pytest.raises(InvitationError) as error:
        invite(world.nobody, world.a.market)
    assert error.value.code == "forbidden_scope"
    # A vendor member cannot make someone a market manager.
    with pytest.raises(InvitationError) as error:
        invite(world.a.vendor_user, world.a.market)
    assert error.value.code == "forbidden_scope"
    # The scope must be of the role's model.
    with pytest.raises(InvitationError) as error:
        invite(world.a.manager, world.a.vendor, role=Role.MARKET_MANAGER)
    assert error.value.code == "forbidden_scope"
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_unknown_role_and_bad_email_are_refused(world: Any) -> None:
    with pytest.raises(InvitationError) as error:
        invite(world.admin, world.a.market, role="not_a_role")
    assert error.value.code == "unknown_role"
    with pytest.raises(InvitationError) as error:
        invite(world.admin, world.a.market, email="pas-un-courriel")
    assert error.value.code == "invalid_email"
    assert not Invitation.objects.exists()


def test_a_second_pending_invitation_is_refused(world: Any) -> None:
    invite(world.a.manager, world.a.market)
    with pytest.raises(InvitationError) as error:
        invite(world.a.manager, world.a.market, email="NOUVELLE@example.org")
    assert error.value.code == "already_invited"
    assert Invitation.objects.count() == 1


def test_after_expiry_or_revocation_one_can_invite_again(world: Any) -> None:
    first, _ = invite(world.a.manager, world.a.market)
    services.revoke_invitation(invitation=first, by=world.a.manager)
    second, _ = invite(world.a.manager, world.a.market)
    Invitation.objects.filter(pk=second.pk).update(expires_at=timezone.now())
    invite(world.a.manager, world.a.market)
    assert Invitation.objects.count() == 3


def test_admin_invites_into_any_scope_of_any_role(world: Any) -> None:
    for role, scope in [
        (Role.COORDINATOR, world.b.program),
        (Role.INTERVENANT, world.b.organization),
        (Role.MARKET_MANAGER, world.b.market),
        (Role.VENDOR, world.b.vendor),
    ]:
        invitation, _ = invite(world.admin, scope, role=role)
        assert invitation.scope == scope


def test_accept_creates_the_user_grants_the_role_and_is_single_use(world: Any) -> None:
    _, token = invite(world.a.manager, world.a.market)
    user = services.accept_invitation(
        token=token, password=NEW_PASSWORD, first_name="Léa", last_name="Roy"
    )
    assert user.email == "nouvelle@example.org"
    assert user.get_full_name() == "Léa Roy"
    assert user.check_password(NEW_PASSWORD)
    assert world.a.market.managers.filter(pk=user.pk).exists()
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == user
    assert invitation.status == Invitation.Status.ACCEPTED

    with pytest.raises(InvitationError) as error:
        services.accept_invitation(token=token, password=NEW_PASSWORD)
    assert error.value.code == "already_accepted"
    assert User.objects.filter(email="nouvelle@example.org").count() == 1


def test_accept_for_an_existing_account_keeps_its_password(world: Any) -> None:
    _, token = invite(world.a.manager, world.a.market, email=world.a.vendor_user.email)
    user = services.accept_invitation(token=token, password="ignoré-ignoré-2026")
    assert user == world.a.vendor_user
    assert user.check_password(PASSWORD)
    assert world.a.market.managers.filter(pk=user.pk).exists()


@pytest.mark.parametrize(
    ("password", "code"),
    [(None, "password_required"), ("", "password_required"), ("123", "invalid_password")],
)
def test_accept_needs_a_valid_password_for_a_new_account(
    world: Any, password: str | None, code: str
) -> None:
    _, token = invite(world.a.manager, world.a.market)
    with pytest.raises(InvitationError) as error:
        services.accept_invitation(token=token, password=password)
    assert error.value.code == code
    assert not User.objects.filter(email="nouvelle@example.org").exists()
    assert Invitation.objects.get().is_pending


def test_expired_revoked_and_unknown_tokens_grant_nothing(world: Any) -> None:
    expired, expired_token = invite(world.a.manager, world.a.market, email="a@example.org")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    revoked, revoked_token = invite(world.a.manager, world.a.market, email="b@example.org")
    services.revoke_invitation(invitation=revoked, by=world.a.manager)

    for token, code in [
        (expired_token, "expired"),
        (revoked_token, "revoked"),
        ("pas-un-jeton", "invalid"),
        ("", "invalid"),
    ]:
        with pytest.raises(InvitationError) as error:
            services.accept_invitation(token=token, password=NEW_PASSWORD)
        assert error.value.code == code
    assert not User.objects.filter(email__in=["a@example.org", "b@example.org"]).exists()
    assert set(world.a.market.managers.all()) == {world.a.manager}


def test_revoke_rules(world: Any) -> None:
    invitation, _ = invite(world.a.manager, world.a.market)
    with pytest.raises(InvitationError) as error:
        services.revoke_invitation(invitation=invitation, by=world.b.manager)
    assert error.value.code == "forbidden"
    # A coordinator of the market's program may revoke it too.
    services.revoke_invitation(invitation=invitation, by=world.a.coordinator)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    with pytest.raises(InvitationError) as error:
        services.revoke_invitation(invitation=invitation, by=world.a.manager)
    assert error.value.code == "revoked"


def test_a_failing_mail_server_leaves_no_invitation(world: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard: nothing listens
    settings.EMAIL_TIMEOUT = 1
    with pytest.raises(InvitationError) as error:
        invite(world.a.manager, world.a.market)
    assert error.value.code == "email_failed"
    assert not Invitation.objects.exists()


# --- Pages ----------------------------------------------------------------------------------


def test_full_journey_invite_by_page_accept_and_log_in(
    client: Any, world: Any, mailoutbox: list[Any]
) -> None:
    client.force_login(world.a.manager)
    form = client.get(reverse("comptes_invitation_create"))
    assert form.status_code == 200
    value = f"market_manager:{world.a.market.pk}"
    assert f'value="{value}"' in form.content.decode()
    assert f'value="market_manager:{world.b.market.pk}"' not in form.content.decode()

    response = client.post(
        reverse("comptes_invitation_create"),
        {"email": "nouvelle@example.org", "role": "market_manager", "scope": value},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("comptes_invitations")
    assert len(mailoutbox) == 1
    path = link_path(mailoutbox[0])
    assert "http://testserver/invitations/" in mailoutbox[0].body
    client.logout()

    page = client.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert world.a.market.name in html and "Gestion de marché" in html
    assert 'name="password1"' in html

    mismatch = client.post(
        path,
        {
            "first_name": "Léa",
            "last_name": "Roy",
            "password1": NEW_PASSWORD,
            "password2": "autre-chose-2026",
        },
    )
    assert mismatch.status_code == 200
    assert "ne correspondent pas" in mismatch.content.decode()
    assert not User.objects.filter(email="nouvelle@example.org").exists()

    accepted = client.post(
        path,
        {
            "first_name": "Léa",
            "last_name": "Roy",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        follow=True,
    )
    # A market manager must set up a second factor before anything else.
    assert accepted.redirect_chain[-1][0] == reverse("mfa_index")
    html = accepted.content.decode()
    assert "Invitation acceptée" in html
    assert world.a.market.name in html  # the new workspace
    user = User.objects.get(email="nouvelle@example.org")
    assert world.a.market.managers.filter(pk=user.pk).exists()

    client.logout()
    login = client.post(
        reverse("account_login"), {"login": "nouvelle@example.org", "password": NEW_PASSWORD}
    )
    assert login.status_code == 302 and login["Location"] == reverse("accueil")

    # A used invitation is gone (seen signed out: signed in, a manager first sets up MFA).
    client.logout()
    again = client.get(path)
    assert again.status_code == 410
    assert "déjà été acceptée" in again.content.decode()


def test_weak_password_on_the_accept_page_is_a_form_error(client: Any, world: Any) -> None:
    _, token = invite(world.a.manager, world.a.market)
    response = client.post(
        f"/invitations/{token}/",
        {"first_name": "Léa", "last_name": "Roy", "password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 200
    assert "field__error" in response.content.decode()
    assert not User.objects.filter(email="nouvelle@example.org").exists()


@pytest.mark.parametrize(
    ("state", "status", "text"),
    [
        ("expired", 410, "a expiré"),
        ("revoked", 410, "a été annulée"),
        ("unknown", 404, "n'est pas valide"),
    ],
)
def test_unusable_links_explain_why_in_french(
    client: Any, world: Any, state: str, status: int, text: str
) -> None:
    invitation, token = invite(world.a.manager, world.a.market)
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - datetime.timedelta(minutes=1)
        )
    elif state == "revoked":
        services.revoke_invitation(invitation=invitation, by=world.a.manager)
    else:
        token = "x" * 43
    for method in (client.get, client.post):
        response = method(
            f"/invitations/{token}/",
            {
                "first_name": "Léa",
                "last_name": "Roy",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )
        assert response.status_code == status
        assert text in response.content.decode().replace("&#x27;", "'")
    assert not User.objects.filter(email="nouvelle@example.org").exists()


def test_an_existing_account_must_sign_in_as_the_invited_email(client: Any, world: Any) -> None:
    invitee = world.a.vendor_user
    _, token = invite(world.a.manager, world.a.market, email=invitee.email)
    path = f"/invitations/{token}/"

    anonymous = client.get(path).content.decode()
    assert "Un compte existe déjà" in anonymous
    assert 'name="password1"' not in anonymous
    assert client.post(path).status_code == 200
    assert not world.a.market.managers.filter(pk=invitee.pk).exists()

    client.force_login(world.b.vendor_user)
    other = client.post(path).content.decode()
    assert "cette invitation est adressée à" in other
    assert not world.a.market.managers.filter(pk=invitee.pk).exists()

    client.force_login(invitee)
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == reverse("accueil")
    assert world.a.market.managers.filter(pk=invitee.pk).exists()


def test_forged_scope_in_the_form_is_refused(client: Any, world: Any) -> None:
    client.force_login(world.a.manager)
    response = client.post(
        reverse("comptes_invitation_create"),
        {
            "email": "nouvelle@example.org",
            "role": "market_manager",
            "scope": f"market_manager:{world.b.market.pk}",
        },
    )
    assert response.status_code == 200
    assert "field__error" in response.content.decode()
    mismatched = client.post(
        reverse("comptes_invitation_create"),
        {
            "email": "nouvelle@example.org",
            "role": "vendor",
            "scope": f"market_manager:{world.a.market.pk}",
        },
    )
    assert "ne correspond pas au rôle choisi" in mismatched.content.decode()
    for junk in ["", "market_manager:", "market_manager:abc", "x" * 500]:
        response = client.post(
            reverse("comptes_invitation_create"),
            {"email": "pas un courriel", "role": "zzz", "scope": junk},
        )
        assert response.status_code == 200
    assert not Invitation.objects.exists()


def test_new_page_preselects_from_the_query_string(client: Any, world: Any) -> None:
    client.force_login(world.a.coordinator)
    html = client.get(
        reverse("comptes_invitation_create"),
        {"role": "market_manager", "scope": world.a.market.pk},
    ).content.decode()
    assert f'value="market_manager:{world.a.market.pk}" selected' in html
    assert '<option value="market_manager" selected>' in html
    # A scope outside the user's reach is simply not preselected.
    html = client.get(
        reverse("comptes_invitation_create"),
        {"role": "market_manager", "scope": world.b.market.pk},
    ).content.decode()
    assert re.search(r'value="\w+:\d+" selected', html) is None
    assert f'value="market_manager:{world.b.market.pk}"' not in html


def test_people_who_cannot_invite_are_told_so(client: Any, world: Any) -> None:
    client.force_login(world.nobody)
    html = client.get(reverse("comptes_invitation_create")).content.decode()
    assert "Vous ne pouvez inviter personne" in html
    assert '<form method="post" class="stacked"' not in html
    listing = client.get(reverse("comptes_invitations"))
    assert listing.status_code == 200
    assert "Aucune invitation" in listing.content.decode()


def test_list_is_scoped_and_revocation_goes_through_a_confirmation(client: Any, world: Any) -> None:
    invitation, token = invite(world.a.manager, world.a.market)
    accepted, accepted_token = invite(world.a.manager, world.a.market, email="ok@example.org")
    services.accept_invitation(token=accepted_token, password=NEW_PASSWORD)

    client.force_login(world.b.manager)
    assert "nouvelle@example.org" not in client.get(reverse("comptes_invitations")).content.decode()
    revoke_url = reverse("comptes_invitation_revoke", args=[invitation.pk])
    assert client.get(revoke_url).status_code == 404
    assert client.post(revoke_url).status_code == 404

    client.force_login(world.a.coordinator)  # not the sender, but may invite into the market
    html = client.get(reverse("comptes_invitations")).content.decode()
    assert "nouvelle@example.org" in html and "En attente" in html and "Acceptée" in html
    assert html.count(">Révoquer</a>") == 1

    confirm = client.get(revoke_url)
    assert confirm.status_code == 200
    assert "Révoquer l'invitation" in confirm.content.decode().replace("&#x27;", "'")
    invitation.refresh_from_db()
    assert invitation.is_pending

    done = client.post(revoke_url, follow=True)
    assert "est révoquée" in done.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    assert "Révoquée" in done.content.decode()
    assert client.get(f"/invitations/{token}/").status_code == 410

    # Revoking twice, or an accepted one, is a clear message, not an error page.
    again = client.post(revoke_url, follow=True)
    assert "a été annulée" in again.content.decode().replace("&#x27;", "'")
    accepted_url = reverse("comptes_invitation_revoke", args=[accepted.pk])
    assert client.get(accepted_url, follow=True).status_code == 200


def test_list_paginates(client: Any, world: Any) -> None:
    for number in range(27):
        invite(world.a.manager, world.a.market, email=f"p{number}@example.org")
    client.force_login(world.a.manager)
    first = client.get(reverse("comptes_invitations")).content.decode()
    assert first.count(">Révoquer</a>") == 25
    second = client.get(reverse("comptes_invitations"), {"page": 2}).content.decode()
    assert second.count(">Révoquer</a>") == 2
    assert client.get(reverse("comptes_invitations"), {"page": "zzz"}).status_code == 200


def test_pages_need_a_login(client: Any) -> None:
    for name in ["comptes_invitations", "comptes_invitation_create"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


# --- Admin and command ----------------------------------------------------------------------


def test_admin_pages_work(client: Any, world: Any) -> None:
    root = UserFactory(email="root@example.org", is_staff=True, is_superuser=True)
    invite(world.a.manager, world.a.market)
    client.force_login(root)
    for url in [
        "/admin/comptes/user/",
        "/admin/comptes/user/add/",
        f"/admin/comptes/user/{world.a.manager.pk}/change/",
        "/admin/comptes/invitation/",
        f"/admin/comptes/invitation/{Invitation.objects.get().pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url
    response = client.post(
        "/admin/comptes/user/add/",
        {
            "email": "ajout@example.org",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="ajout@example.org").check_password(NEW_PASSWORD)


def test_create_network_admin_command(db: Any) -> None:
    out = StringIO()
    call_command("create_network_admin", "--email", "Admin2@Example.org", stdout=out)
    password = re.search(r"Password: (\S+)", out.getvalue()).group(1)  # type: ignore[union-attr]
    user = User.objects.get(email="admin2@example.org")
    assert user.is_network_admin and not user.is_staff
    assert user.check_password(password)

    call_command("create_network_admin", "--email", "admin2@example.org", stdout=StringIO())
    user.refresh_from_db()
    assert user.check_password(password)  # promotion keeps the password

    existing = UserFactory(email="promue@example.org")
    call_command(
        "create_network_admin",
        "--email",
        "promue@example.org",
        "--password",
        NEW_PASSWORD,
        "--staff",
        stdout=StringIO(),
    )
    existing.refresh_from_db()
    assert existing.is_network_admin and existing.is_staff and existing.is_superuser
    assert existing.check_password(NEW_PASSWORD)

    with pytest.raises(CommandError):
        call_command("create_network_admin", "--email", "x@example.org", "--password", "123")
    with pytest.raises(CommandError):
        call_command("create_network_admin", "--email", "pas-un-courriel")
    assert not User.objects.filter(email="x@example.org").exists()
