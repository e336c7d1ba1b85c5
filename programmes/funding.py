"""A program's funds, as the funding app computes them (it registers itself at start-up: this
app sits below it and never imports it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from programmes.money import ZERO

FundsProvider = Callable[[Iterable[int]], dict[int, Decimal]]
_providers: list[FundsProvider] = []


def register_funds_provider(provider: FundsProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def funds_by_program(program_ids: Iterable[int]) -> dict[int, Decimal]:
    """Funds received by each program (one query whatever their number)."""
    ids = list(program_ids)
    funds = dict.fromkeys(ids, ZERO)
    for provider in _providers:
        for pk, value in provider(ids).items():
            funds[pk] = funds.get(pk, ZERO) + value
    return funds
