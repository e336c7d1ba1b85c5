"""Two people naming things alike at the same moment get two slugs, not a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from marches.models import Market
from programmes import slugs
from programmes.slugs import free_slug, save_with_free_slug

pytestmark = pytest.mark.django_db


def test_a_taken_slug_gets_a_number() -> None:
    Market.objects.create(name="Marché du Vieux-Port", slug="marche-du-vieux-port", city="X")

    assert free_slug(Market, "Marché du Vieux-Port", fallback="marche") == "marche-du-vieux-port-2"
    assert free_slug(Market, "!!!", fallback="marche") == "marche"
    assert free_slug(Market, "Nouveau", fallback="m", reserved={"nouveau"}) == "nouveau-2"


def test_a_slug_taken_by_a_concurrent_request_is_retried_with_the_next(monkeypatch: Any) -> None:
    # The other request commits "marche-x" between our look-up and our insert.
    Market.objects.create(name="Marché X", slug="marche-x", city="X")
    answers = iter(["marche-x", "marche-x-2"])
    monkeypatch.setattr(slugs, "free_slug", lambda *args, **kwargs: next(answers))

    with transaction.atomic():
        market = save_with_free_slug(
            Market,
            "Marché X",
            lambda slug: Market.objects.create(name="Marché X", slug=slug, city="Y"),
            fallback="marche",
        )

    assert market.slug == "marche-x-2"
    assert Market.objects.count() == 2
