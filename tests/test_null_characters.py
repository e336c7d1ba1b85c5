"""A NUL character in a URL, or in a value a view reads itself, is refused with a 400, never a
server error (PostgreSQL refuses it in text), and nothing is written. (Form fields refuse it with
their own message: tests/marches/test_scanner_page.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from financement.models import FunderToken
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["financement:donation_thanks", "coupons:sale_thanks"])
def test_a_thank_you_page_asked_for_a_session_with_a_nul_is_a_400(
    client: Client, name: str
) -> None:
    program = f.ProgramFactory()

    response = client.get(reverse(name, kwargs={"slug": program.slug}), {"session_id": "cs_\x00"})

    assert response.status_code == 400
    assert "caractère nul" in response.content.decode()


def test_a_token_label_with_a_nul_is_refused_and_no_token_is_made(
    client: Client, world: Any
) -> None:
    client.force_login(world.admin)
    funder = f.FunderFactory()
    url = reverse("financement:funder_tokens", kwargs={"pk": funder.pk})

    response = client.post(url, {"label": "Jeton\x00"})

    assert response.status_code == 400
    assert "pas permis" in response.content.decode()
    assert not FunderToken.objects.exists()


def test_an_ordinary_request_goes_through(client: Client) -> None:
    program = f.ProgramFactory()
    url = reverse("financement:donation_thanks", kwargs={"slug": program.slug})

    assert client.get(url, {"session_id": "cs_inconnue"}).status_code == 404
