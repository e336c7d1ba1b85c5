"""Lockout after repeated failed sign-ins (django-axes), and the sign-in rate limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "camille-verrou@example.org"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()  # allauth's sign-in limits count in the cache


def attempt(client: Any, password: str, ip: str = "203.0.113.7", email: str = EMAIL) -> Any:
    return client.post(
        reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=ip
    )


def test_five_failures_lock_this_email_from_this_address(client: Any) -> None:
    UserFactory(email=EMAIL)
    for _ in range(4):
        response = attempt(client, "mauvais")
        assert response.status_code == 200
        assert "mot de passe sont incorrects" in response.content.decode()

    locked = attempt(client, "mauvais")
    html = locked.content.decode()
    assert locked.status_code == 429
    assert "<h1>Connexion bloquée</h1>" in html
    assert "Après 5 tentatives échouées" in html
    assert "Réessayez dans 15 minutes." in html
    assert f'href="{reverse("account_reset_password")}"' in html
    assert 'class="site-header"' in html and "<script" not in html
    assert locked["Retry-After"] == "900"

    # Even the right password is refused now, from this address…
    right = attempt(client, PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    # …but not from another one: a stranger's guesses do not lock the person out.
    elsewhere = attempt(client, PASSWORD, ip="198.51.100.20")
    assert elsewhere.status_code == 302
    assert "_auth_user_id" in client.session


def test_the_lock_lifts_after_fifteen_minutes(client: Any) -> None:
    UserFactory(email=EMAIL)
    for _ in range(5):
        attempt(client, "mauvais")
    assert attempt(client, PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        cache.clear()
        response = attempt(client, PASSWORD)
        assert response.status_code == 302
        assert response["Location"] == reverse("accueil")


def test_a_success_resets_the_count(client: Any) -> None:
    UserFactory(email=EMAIL)
    for _ in range(4):
        attempt(client, "mauvais")
    assert attempt(client, PASSWORD).status_code == 302
    client.post(reverse("account_logout"))
    for _ in range(4):
        assert attempt(client, "mauvais").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def test_unknown_emails_are_locked_the_same_way(client: Any) -> None:
    """No difference tells a guesser which emails have an account."""
    for _ in range(4):
        assert attempt(client, "mauvais", email="inconnu@example.org").status_code == 200
    assert attempt(client, "mauvais", email="inconnu@example.org").status_code == 429


def test_many_sign_ins_from_one_address_are_slowed_down(client: Any) -> None:
    """allauth's limit per address: 10 failed sign-ins a minute, whatever the emails."""
    for index in range(10):
        attempt(client, "mauvais", email=f"essai-{index}@example.org")
    response = attempt(client, "mauvais", email="encore@example.org")
    assert response.status_code in (200, 429)
    assert "incorrects" not in response.content.decode()  # refused before checking anything


# --- The API's rate limit ------------------------------------------------------------------


def test_the_api_answers_429_with_retry_after_past_its_limit(client: Any, settings: Any) -> None:
    settings.API_RATE_LIMIT = "3/60"
    with time_machine.travel(timezone.now().replace(second=10), tick=False):
        for _ in range(3):
            assert client.get("/api/v1/health").status_code == 200
        response = client.get("/api/v1/health")
        assert response.status_code == 429
        assert response["Retry-After"] == "50"  # the end of this minute's window
        body = response.json()
        assert body["reason"] == "rate_limited"
        assert body["retry_after"] == 50
        assert body["detail"] == "Trop de requêtes : réessayez dans 50 secondes."
    with time_machine.travel(timezone.now().replace(second=10) + timedelta(minutes=1)):
        assert client.get("/api/v1/health").status_code == 200


def test_each_device_token_has_its_own_allowance(client: Any, settings: Any) -> None:
    settings.API_RATE_LIMIT = "2/60"
    with time_machine.travel(timezone.now().replace(second=0), tick=False):
        for token in ("appareil-1", "appareil-2"):
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(2):
                assert client.get("/api/v1/health", headers=headers).status_code == 200
        assert client.get("/api/v1/health", headers=headers).status_code == 429
        # Without a token, the address has its own count.
        assert client.get("/api/v1/health").status_code == 200


def test_pages_are_not_counted_and_off_means_off(client: Any, settings: Any) -> None:
    settings.API_RATE_LIMIT = "1/60"
    with time_machine.travel(timezone.now().replace(second=0), tick=False):
        for _ in range(3):
            assert client.get(reverse("account_login")).status_code == 200
        settings.API_RATE_LIMIT = "off"
        for _ in range(5):
            assert client.get("/api/v1/health").status_code == 200


@pytest.mark.parametrize("setting", ["API_RATE_LIMIT", "CHECKOUT_RATE_LIMIT"])
def test_a_bad_limit_fails_at_start_up(setting: str) -> None:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django, os; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            setting: "beaucoup",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert setting in result.stderr
