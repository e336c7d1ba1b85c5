"""URL slugs for things people name (programs, organizations, markets, vendors).

Shared by the apps of the later layers. A slug is computed from the name, then the row is saved
inside a savepoint: when two people create "Marché du Vieux-Port" at the same moment, the
unique constraint refuses the second one and it simply takes the next free slug.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from django.db import IntegrityError, models, transaction
from django.utils.text import slugify

M = TypeVar("M", bound=models.Model)

ATTEMPTS = 5


def free_slug(
    model: type[models.Model], text: str, *, fallback: str, reserved: Collection[str] = ()
) -> str:
    """A slug for `text` that `model` does not use yet ("marche-x", then "marche-x-2"…)."""
    field = model._meta.get_field("slug")
    max_length = getattr(field, "max_length", None) or 50
    base = slugify(text)[: max_length - 4].strip("-") or fallback
    taken = set(model._default_manager.filter(slug__startswith=base).values_list("slug", flat=True))
    taken.update(reserved)
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def save_with_free_slug(
    model: type[M],
    text: str,
    save: Callable[[str], M],
    *,
    fallback: str,
    reserved: Collection[str] = (),
) -> M:
    """Call `save(slug)` with a free slug, again with the next one if a concurrent request took
    it first. Must run inside a transaction (the retry uses a savepoint)."""
    for attempt in range(ATTEMPTS):
        slug = free_slug(model, text, fallback=fallback, reserved=reserved)
        try:
            with transaction.atomic():
                return save(slug)
        except IntegrityError:
            still_free = not model._default_manager.filter(slug=slug).exists()
            if still_free or attempt == ATTEMPTS - 1:
                raise  # not a slug collision, or an unlucky streak: let it be seen
    raise AssertionError("unreachable")
