"""The allotment arithmetic: which rule applies, and which coupons make an amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from programmes.allotment import AllotmentError, amount_for_size, split_into_denominations

D = Decimal
RULES = [(1, D("20")), (3, D("30")), (5, D("60"))]


@pytest.mark.parametrize(
    ("size", "amount"),
    [(1, D("20")), (2, D("20")), (3, D("30")), (4, D("30")), (5, D("60")), (12, D("60"))],
)
def test_the_rule_with_the_largest_threshold_not_above_the_size_applies(
    size: int, amount: Decimal
) -> None:
    assert amount_for_size(RULES, size) == amount


def test_no_rule_applies_below_the_first_threshold() -> None:
    assert amount_for_size([(2, D("20"))], 1) is None
    assert amount_for_size([], 3) is None


def test_rules_may_come_in_any_order() -> None:
    assert amount_for_size(list(reversed(RULES)), 4) == D("30")


@pytest.mark.parametrize(
    ("amount", "denominations", "expected"),
    [
        (D("20"), [D("5"), D("2")], [D("5")] * 4),
        (D("6"), [D("5"), D("2")], [D("2")] * 3),  # greedy (5+?) would fail
        (D("9"), [D("5"), D("2")], [D("5"), D("2"), D("2")]),
        (D("27"), [D("3")], [D("3")] * 9),
        (D("7.50"), [D("5"), D("2.50")], [D("5"), D("2.50")]),
        (D("12"), [D("10"), D("6"), D("1")], [D("6"), D("6")]),  # fewest coupons
    ],
)
def test_an_amount_is_made_with_the_fewest_coupons(
    amount: Decimal, denominations: list[Decimal], expected: list[Decimal]
) -> None:
    values = split_into_denominations(amount, denominations)
    assert values == expected
    assert sum(values) == amount


@pytest.mark.parametrize(
    ("amount", "denominations", "code"),
    [
        (D("3"), [D("5"), D("2")], "not_representable"),
        (D("7"), [D("5")], "not_representable"),
        (D("0.01"), [D("0.05")], "not_representable"),
        (D("10"), [], "no_denominations"),
        (D("0"), [D("5")], "no_denominations"),
        (D("10"), [D("-5"), D("0")], "no_denominations"),
    ],
)
def test_an_amount_no_mix_can_make_is_refused(
    amount: Decimal, denominations: list[Decimal], code: str
) -> None:
    with pytest.raises(AllotmentError) as raised:
        split_into_denominations(amount, denominations)
    assert raised.value.code == code
