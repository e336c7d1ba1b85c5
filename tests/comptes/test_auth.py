"""Email login, no public sign-up, password reset and change, the home page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from comptes import registry
from comptes.models import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def assert_no_inline_code(html: str) -> None:
    assert "<script" not in html
    assert "style=" not in html
    assert "onclick" not in html.lower()


def test_anonymous_home_redirects_to_login(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_login_with_email_leads_to_my_space(client: Any) -> None:
    UserFactory(email="camille@example.org")
    response = client.post(
        reverse("account_login"), {"login": "Camille@Example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accueil")
    page = client.get(reverse("accueil"))
    assert page.status_code == 200
    assert "Mon espace" in page.content.decode()


def test_wrong_password_gives_a_french_error(client: Any) -> None:
    UserFactory(email="camille@example.org")
    response = client.post(
        reverse("account_login"), {"login": "camille@example.org", "password": "mauvais"}
    )
    assert response.status_code == 200
    assert "mot de passe sont incorrects" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_page_is_french_with_a_forgotten_password_link(client: Any) -> None:
    response = client.get(reverse("account_login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Connexion</h1>" in html
    assert "Mot de passe oublié ?" in html
    assert f'href="{reverse("account_reset_password")}"' in html
    assert 'name="login"' in html and 'name="password"' in html
    assert 'class="site-header"' in html  # our layout, not allauth's
    assert_no_inline_code(html)


def test_there_is_no_public_signup(client: Any) -> None:
    response = client.get("/comptes/signup/")
    html = response.content.decode()
    assert "Inscriptions fermées" in html
    assert 'name="password1"' not in html
    assert_no_inline_code(html)
    response = client.post(
        "/comptes/signup/",
        {"email": "intrus@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert not registry_user_exists("intrus@example.org")


def registry_user_exists(email: str) -> bool:
    from comptes.models import User

    return User.objects.filter(email=email).exists()


def test_password_reset_sends_a_link_that_sets_a_new_password(
    client: Any, mailoutbox: list[Any]
) -> None:
    UserFactory(email="camille@example.org")
    page = client.get(reverse("account_reset_password"))
    assert "Réinitialisation du mot de passe" in page.content.decode()
    assert_no_inline_code(page.content.decode())

    response = client.post(reverse("account_reset_password"), {"email": "camille@example.org"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    match = re.search(r"https?://[^/\s]+(/comptes/password/reset/key/\S+)", mailoutbox[0].body)
    assert match, mailoutbox[0].body

    done = client.get(response["Location"])
    assert done.status_code == 200

    key_page = client.get(match.group(1), follow=True)
    assert key_page.status_code == 200
    assert 'name="password1"' in key_page.content.decode()
    assert_no_inline_code(key_page.content.decode())
    new_password = "nouveau-secret-marche-2026"
    changed = client.post(
        key_page.redirect_chain[-1][0] if key_page.redirect_chain else match.group(1),
        {"password1": new_password, "password2": new_password},
    )
    assert changed.status_code == 302
    assert client.login(email="camille@example.org", password=new_password)


def test_password_change_and_logout_pages(client: Any) -> None:
    user = UserFactory(email="camille@example.org")
    client.force_login(user)
    change = client.get(reverse("account_change_password"))
    assert change.status_code == 200
    assert "Modifier le mot de passe" in change.content.decode()
    assert_no_inline_code(change.content.decode())

    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": PASSWORD,
            "password1": "autre-secret-marche-2026",
            "password2": "autre-secret-marche-2026",
        },
    )
    assert response.status_code == 302

    logout_page = client.get(reverse("account_logout"))
    assert logout_page.status_code == 200
    assert "Se déconnecter" in logout_page.content.decode()
    client.post(reverse("account_logout"))
    assert client.get("/").status_code == 302


def test_home_lists_workspaces_grouped_by_role(client: Any, world: Any) -> None:
    def provider(user: Any) -> list[registry.Workspace]:
        if user == world.a.manager:
            return [registry.Workspace(Role.COORDINATOR, "Programme témoin", "/temoin/")]
        return []

    registry.register_workspace_provider(provider)
    client.force_login(world.a.manager)
    html = client.get("/").content.decode()
    assert "Gestion de marché" in html  # the market provider registered by marches
    assert world.a.market.name in html
    assert "Coordination de programme" in html
    assert 'href="/temoin/"' in html
    assert world.b.market.name not in html
    assert "aucun programme" not in html
    assert_no_inline_code(html)


def test_home_shows_an_empty_state_without_any_role(client: Any, world: Any) -> None:
    client.force_login(world.nobody)
    html = client.get("/").content.decode()
    assert "Vous n'avez encore accès à aucun programme." in html or (
        "Vous n&#x27;avez encore accès à aucun programme." in html
    )
    assert "Demandez une invitation à la coordination." in html
