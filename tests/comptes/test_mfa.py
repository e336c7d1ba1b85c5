"""MFA: required of network admins, coordinators and market managers, offered to everyone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32, as an authenticator app stores it


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # allauth's sign-in limits and its used-TOTP-code memory live in the cache.
    cache.clear()


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238 (30 s, 6 digits, SHA-1), computed here as a phone's app would."""
    counter = int((time.time() if at is None else at) // 30)
    key = base64.b32decode(secret)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def sign_in(client: Any, email: str) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": PASSWORD})


@pytest.mark.parametrize("role", ["coordinator", "market_manager", "admin"])
def test_staff_roles_without_mfa_are_sent_to_set_it_up(client: Any, world: Any, role: str) -> None:
    user = world.admin if role == "admin" else world.a.users()[role]
    assert sign_in(client, user.email).status_code == 302
    response = client.get(reverse("accueil"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    # Every page, not only the home page.
    assert client.get(reverse("comptes_invitations"))["Location"] == reverse("mfa_index")
    page = client.get(reverse("mfa_index"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "exige l&#x27;authentification à deux facteurs" in html
    assert 'class="site-header"' in html  # our layout
    assert reverse("mfa_activate_totp") in html and reverse("mfa_add_webauthn") in html
    # Signing out stays possible.
    assert client.post(reverse("account_logout")).status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", ["intervenant", "vendor", "funder"])
def test_other_roles_are_not_forced(client: Any, world: Any, role: str) -> None:
    sign_in(client, world.a.users()[role].email)
    assert client.get(reverse("accueil")).status_code == 200
    # …but MFA is offered to them too.
    assert client.get(reverse("mfa_index")).status_code == 200


def test_the_header_links_to_the_security_page(client: Any, world: Any) -> None:
    sign_in(client, world.a.intervenant.email)
    html = client.get(reverse("accueil")).content.decode()
    assert f'href="{reverse("mfa_index")}"' in html


def test_a_coordinator_sets_up_totp_then_signs_in_with_a_code(client: Any, world: Any) -> None:
    coordinator = world.a.coordinator
    sign_in(client, coordinator.email)
    # allauth asks for the password again before adding a factor (that page stays reachable).
    page = client.get(reverse("mfa_activate_totp"))
    assert page["Location"].startswith(reverse("account_reauthenticate"))
    reauthenticate = client.get(page["Location"])
    assert reauthenticate.status_code == 200
    assert 'class="site-header"' in reauthenticate.content.decode()
    client.post(page["Location"], {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert "data:image/svg+xml" in page.content.decode()  # the QR code, no inline script
    secret = client.session["mfa.totp.secret"]
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=coordinator, type="totp").exists()
    assert Authenticator.objects.filter(user=coordinator, type="recovery_codes").exists()
    # Set up during this session: no need to sign in again.
    assert client.get(reverse("accueil")).status_code == 200
    client.post(reverse("account_logout"))

    # Next sign-in: the password is not enough.
    response = sign_in(client, coordinator.email)
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("accueil")).status_code == 302
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    # A code from the next time step: the one just used cannot be replayed.
    response = client.post(
        reverse("mfa_authenticate"), {"code": totp_code(secret, time.time() + 30)}
    )
    if response.status_code == 200:  # allauth's tolerance is 0 steps: use the current code
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get(reverse("accueil")).status_code == 200


@pytest.fixture
def manager_with_mfa(world: Any) -> tuple[Any, list[str]]:
    manager = world.a.manager
    TOTP.activate(manager, SECRET)
    codes = RecoveryCodes.activate(manager).get_unused_codes()
    return manager, codes


def test_a_recovery_code_works_once(client: Any, manager_with_mfa: Any) -> None:
    manager, codes = manager_with_mfa
    sign_in(client, manager.email)
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 302
    assert client.get(reverse("accueil")).status_code == 200
    client.post(reverse("account_logout"))

    sign_in(client, manager.email)
    again = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert again.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.post(reverse("mfa_authenticate"), {"code": codes[1]}).status_code == 302


def test_a_session_that_skipped_its_second_factor_must_sign_in_again(
    client: Any, world: Any
) -> None:
    """The admin site's own form checks only the password: such a session is signed out."""
    admin = world.admin
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        TOTP.activate(admin, SECRET)
    client.force_login(admin)  # as the admin's login form does: a password, nothing more
    session = client.session
    session.pop("account_authentication_methods", None)  # whatever a shared fixture marked
    session.save()
    response = client.get(reverse("accueil"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_the_check_costs_at_most_two_queries(
    client: Any, world: Any, django_assert_max_num_queries: Any
) -> None:
    sign_in(client, world.a.intervenant.email)
    client.get(reverse("mfa_index"))  # warm the session
    from django.test import RequestFactory

    from comptes.security import MFAState, mfa_state

    request = RequestFactory().get("/")
    request.user = world.a.coordinator
    request.session = dict(client.session.items())  # type: ignore[assignment]  # no row to load
    # The roles, then the authenticators; asked twice, computed once.
    with django_assert_max_num_queries(2):
        assert mfa_state(request) == MFAState.SET_UP
        assert mfa_state(request) == MFAState.SET_UP


def test_passkey_types_are_offered() -> None:
    from django.conf import settings

    assert settings.MFA_SUPPORTED_TYPES == ["totp", "recovery_codes", "webauthn"]


def test_a_user_without_any_role_is_not_forced(client: Any) -> None:
    user = UserFactory(email="sans-role@example.org")
    sign_in(client, user.email)
    assert client.get(reverse("accueil")).status_code == 200
