"""Small helpers shared by the page tests."""

from __future__ import annotations

import html
from typing import Any


def text(response: Any) -> str:
    """The page as a reader sees it (entities such as &#x27; decoded)."""
    return html.unescape(response.content.decode())


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def households_named(name: str) -> Any:
    """Households whose name is `name` (names are encrypted: found by their keyed hash)."""
    from beneficiaires.models import Household
    from beneficiaires.privacy import name_hash

    return Household.objects.filter(name_hash=name_hash(name))
