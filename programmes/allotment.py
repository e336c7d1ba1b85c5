"""How much a household receives, and in which coupons (coupons give no change)."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Sequence
from decimal import Decimal

from programmes.money import from_cents, to_cents


class AllotmentError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def amount_for_size(rules: Sequence[tuple[int, Decimal]], household_size: int) -> Decimal | None:
    """The amount of the rule with the largest size threshold not above `household_size`."""
    best: tuple[int, Decimal] | None = None
    for size, amount in rules:
        if size <= household_size and (best is None or size > best[0]):
            best = (size, amount)
    return best[1] if best else None


def split_into_denominations(amount: Decimal, denominations: Sequence[Decimal]) -> list[Decimal]:
    """The fewest coupons whose values add up to exactly `amount`, largest first.

    Greedy fails for some mixes ($6 with $5 and $2 coupons is 2+2+2), so this solves the small
    coin-change problem exactly. Raises AllotmentError when no mix adds up.
    """
    target = to_cents(amount)
    coins = sorted({to_cents(d) for d in denominations if d > 0}, reverse=True)
    if target <= 0 or not coins:
        raise AllotmentError("no_denominations", "No coupon value can make this amount.")
    # fewest[c] = fewest coupons making c cents; last[c] = the coin used to reach c.
    unreachable = target + 1
    fewest = [0] + [unreachable] * target
    last = [0] * (target + 1)
    for cents in range(1, target + 1):
        for coin in coins:
            if coin <= cents and fewest[cents - coin] + 1 < fewest[cents]:
                fewest[cents] = fewest[cents - coin] + 1
                last[cents] = coin
    if fewest[target] >= unreachable:
        raise AllotmentError(
            "not_representable", f"{amount} cannot be made with the coupon values."
        )
    values: list[Decimal] = []
    cents = target
    while cents:
        values.append(from_cents(last[cents]))
        cents -= last[cents]
    return sorted(values, reverse=True)


_STEP_DAYS = {"weekly": 7, "biweekly": 14}


def distribution_dates(start: datetime.date, frequency: str, count: int) -> list[datetime.date]:
    """The first day of each of `count` distributions from `start`: "once" is one distribution,
    "weekly" and "biweekly" add 7 and 14 days, "monthly" the same day of the following months
    (the last day of a shorter month: January 31, February 28, March 31)."""
    if frequency == "once" or count <= 1:
        return [start]
    if frequency == "monthly":
        dates = []
        for index in range(count):
            month_index = start.month - 1 + index
            year, month = start.year + month_index // 12, month_index % 12 + 1
            day = min(start.day, calendar.monthrange(year, month)[1])
            dates.append(datetime.date(year, month, day))
        return dates
    step = _STEP_DAYS.get(frequency)
    if step is None:
        raise ValueError(f"unknown distribution frequency {frequency!r}")
    return [start + datetime.timedelta(days=index * step) for index in range(count)]
