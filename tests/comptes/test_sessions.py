"""Sessions end after SESSION_IDLE_SECONDS without a request and SESSION_MAX_SECONDS in all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Any) -> Any:
    user = UserFactory(email="session@example.org")  # an intervenant-like user: no MFA needed
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    return client


def test_defaults_are_thirty_minutes_idle_and_twelve_hours_in_all(settings: Any) -> None:
    assert settings.SESSION_IDLE_SECONDS == 30 * 60
    assert settings.SESSION_MAX_SECONDS == 12 * 60 * 60
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_MAX_SECONDS


def test_an_idle_session_is_signed_out_with_a_french_message(signed_in: Any) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 200
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 200
    # 29 minutes later again: active all along, so still signed in.
    with time_machine.travel(start + timedelta(minutes=58), tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 200
    with time_machine.travel(start + timedelta(minutes=58 + 31), tick=False):
        response = signed_in.get(reverse("comptes_invitations"))
        assert response.status_code == 302
        assert response["Location"] == (
            reverse("account_login") + "?next=" + reverse("comptes_invitations")
        )
        assert "_auth_user_id" not in signed_in.session
        page = signed_in.get(response["Location"])
        html = page.content.decode()
        assert "Votre session a pris fin après 30 minutes d&#x27;inactivité" in html


def test_a_busy_session_still_ends_after_twelve_hours(signed_in: Any) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 200
    elapsed = timedelta(0)
    while elapsed < timedelta(hours=11, minutes=50):
        elapsed += timedelta(minutes=20)
        with time_machine.travel(start + elapsed, tick=False):
            assert signed_in.get(reverse("accueil")).status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        response = signed_in.get(reverse("accueil"))
        assert response.status_code == 302
        assert "_auth_user_id" not in signed_in.session
        html = signed_in.get(response["Location"]).content.decode()
        assert "Votre session a pris fin après 12 heures" in html


def test_time_outs_follow_the_settings(signed_in: Any, settings: Any) -> None:
    settings.SESSION_IDLE_SECONDS = 120
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 200
    with time_machine.travel(start + timedelta(seconds=121), tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 302


def test_signing_in_again_starts_a_new_session(client: Any, signed_in: Any) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        signed_in.get(reverse("accueil"))
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        assert signed_in.get(reverse("accueil")).status_code == 302
        signed_in.post(
            reverse("account_login"), {"login": "session@example.org", "password": PASSWORD}
        )
        assert signed_in.get(reverse("accueil")).status_code == 200


def test_the_api_is_not_touched(signed_in: Any) -> None:
    """Scanners authenticate with their device token, not with this session."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        signed_in.get(reverse("accueil"))
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert signed_in.get("/api/v1/health").status_code == 200
        assert "_auth_user_id" in signed_in.session
