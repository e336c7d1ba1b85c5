"""Small cells (invariant 7): what a funder sees hides every count of fewer than 5 households,
and no hidden cell can be recovered by subtraction from what is published."""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from rapports.report_types import Amount, Breakdown, ImpactReport, SurveyFigure
from rapports.suppression import Group, cells_to_suppress, determined_cells, suppress_for_funder

MIN = 5


def report(**changes: object) -> ImpactReport:
    sizes = {"1": 10, "2": 8, "3": 7, "4": 6, "5": 5, "6+": 6}
    base = ImpactReport(
        scope="program",
        label="Programme",
        today=datetime.date(2026, 7, 1),
        households=sum(sizes.values()),
        people=10 + 16 + 21 + 24 + 25 + 40,
        households_with_children=20,
        by_household_size=[Breakdown(key=key, label=key, households=n) for key, n in sizes.items()],
        share_used=Decimal("0.7500"),
        spent_local=Amount(40, Decimal("200.00")),
        vendors=3,
        markets=2,
        by_market=[
            Breakdown(key="a", label="A", households=30, redemptions=Amount(30, Decimal("150"))),
            Breakdown(key="b", label="B", households=3, redemptions=Amount(10, Decimal("50"))),
        ],
        by_week=[],
        by_category=[],
        repeat_households=25,
        loyal_households=12,
        survey=[SurveyFigure("fies", "FIES", 12, Decimal("2.1"), 3, Decimal("1.5"))],
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def sizes_of(impact: ImpactReport) -> dict[str, int | None]:
    return {row.key: row.households for row in impact.by_household_size}


def test_a_report_without_small_cells_is_unchanged_but_for_small_survey_and_market_rows() -> None:
    funder = suppress_for_funder(report(), MIN)

    assert funder.households == 42
    assert funder.people == 136
    assert sizes_of(funder)["5"] == 5
    assert funder.by_market[1].households is None  # 3 households redeemed at market B
    assert funder.by_market[1].redemptions == Amount(10, Decimal("50"))  # money is kept
    assert funder.survey[0].after_respondents is None
    assert funder.survey[0].after_value is None  # a mean of 3 answers goes with them
    assert funder.survey[0].before_value == Decimal("2.1")
    assert funder.suppressed == ["by_market:b", "survey:fies:after"]


def test_one_small_size_hides_the_next_smallest_size_and_the_people() -> None:
    rows = [Breakdown(key=k, label=k, households=n) for k, n in [("1", 10), ("2", 3), ("3", 7)]]
    funder = suppress_for_funder(
        report(
            by_household_size=rows,
            households=20,
            people=37,
            households_with_children=9,
            repeat_households=10,
            loyal_households=5,
            by_market=[],
            survey=[],
        ),
        MIN,
    )

    assert sizes_of(funder) == {"1": 10, "2": None, "3": None}
    assert funder.households == 20
    assert funder.people is None  # 10 × 1 + 2a + 3b = 37 with a + b = 10 would give them away
    assert set(funder.suppressed) == {"by_household_size:2", "by_household_size:3", "people"}


def test_a_small_complement_is_protected_too() -> None:
    # 42 households, 39 with children: the 3 without children would be 42 − 39.
    funder = suppress_for_funder(report(households_with_children=39), MIN)

    assert funder.households_with_children is None or funder.households is None


def test_small_households_hide_everything_that_would_give_them_away() -> None:
    rows = [
        Breakdown(key="1", label="1", households=2),
        Breakdown(key="2", label="2", households=1),
    ]
    funder = suppress_for_funder(
        report(
            by_household_size=rows,
            households=3,
            people=4,
            households_with_children=1,
            repeat_households=1,
            loyal_households=0,
            by_market=[],
            survey=[],
        ),
        MIN,
    )

    assert funder.households is None and funder.people is None
    assert funder.households_with_children is None and funder.repeat_households is None
    assert sizes_of(funder) == {"1": None, "2": None}
    assert funder.loyal_households == 0  # a zero is about nobody


def test_the_threshold_comes_from_the_argument() -> None:
    assert suppress_for_funder(report(), 2).suppressed == []


def test_zero_counts_are_published() -> None:
    assert (
        cells_to_suppress({"t": 0, "a": 0, "b": 0}, [Group("t", ("a", "b"))], min_cell=MIN) == set()
    )


# Properties ----------------------------------------------------------------------------------


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[str, int], list[Group], set[str]]:
    """A hierarchy like the report's: a total split several ways; a part split again; some
    parts unpublished (anyone can compute them by subtraction)."""
    values: dict[str, int] = {}
    groups: list[Group] = []
    unpublished: set[str] = set()
    leaf = st.integers(min_value=0, max_value=12)

    def split(total_key: str, depth: int) -> int:
        count = draw(st.integers(min_value=2, max_value=3))
        parts = []
        total = 0
        for i in range(count):
            key = f"{total_key}.{len(groups)}.{i}"
            if depth > 0 and draw(st.booleans()):
                value = split(key, depth - 1)
            else:
                value = draw(leaf)
                values[key] = value
            total += value
            parts.append(key)
            if draw(st.integers(0, 4)) == 0:
                unpublished.add(key)
        groups.append(Group(total_key, tuple(parts)))
        values[total_key] = total
        return total

    total = split("T", 2)
    # The same total split another way (sizes and, here, a second criterion).
    for _ in range(draw(st.integers(0, 2))):
        first = draw(st.integers(min_value=0, max_value=total))
        key = f"T.alt{len(groups)}"
        values[key + ".a"], values[key + ".b"] = first, total - first
        groups.append(Group("T", (key + ".a", key + ".b")))
        unpublished.add(key + ".b")
    return values, groups, unpublished


def nullspace(groups: list[Group], cells: list[str]) -> list[dict[str, Fraction]]:
    """A basis of the integer moves of the hidden `cells` that keep every equation true with
    the published cells fixed (written here again, independently of the code under test)."""
    rows = []
    for group in groups:
        row = {c: Fraction(0) for c in cells}
        for c, sign in [(group.total, 1), *((p, -1) for p in group.parts)]:
            if c in row:
                row[c] += sign
        rows.append(row)
    pivots: dict[str, dict[str, Fraction]] = {}
    for row in rows:
        for c, pivot_row in pivots.items():
            if row[c]:
                factor = row[c]
                row = {k: row[k] - factor * pivot_row[k] for k in cells}
        lead = next((c for c in cells if row[c]), None)
        if lead is None:
            continue
        row = {k: v / row[lead] for k, v in row.items()}
        for c, pivot_row in pivots.items():
            if pivot_row[lead]:
                factor = pivot_row[lead]
                pivots[c] = {k: pivot_row[k] - factor * row[k] for k in cells}
        pivots[lead] = row
    basis = []
    for free in (c for c in cells if c not in pivots):
        vector = {c: Fraction(0) for c in cells}
        vector[free] = Fraction(1)
        for c, pivot_row in pivots.items():
            vector[c] = -pivot_row[free]
        scale = math.lcm(*(v.denominator for v in vector.values()))
        basis.append({c: v * scale for c, v in vector.items()})
    return basis


def alternative_exists(
    cell: str, values: dict[str, int], groups: list[Group], hidden: set[str]
) -> bool:
    """A witness, checked by brute force: another non-negative integer solution, the published
    values fixed, in which `cell` differs (a move that keeps every equation, from the basis of
    such moves, applied to the actual values). Hidden zeros are taken as known (worst case)."""
    movable = sorted(c for c in hidden if values[c])
    for move in nullspace(groups, movable):
        if not move[cell]:
            continue
        step = math.gcd(*(int(v) for v in move.values() if v))
        for sign in (1, -1):
            moved = {c: values[c] + sign * int(move.get(c, 0)) // step for c in values}
            if min(moved.values()) >= 0 and all(
                moved[g.total] == sum(moved[p] for p in g.parts) for g in groups
            ):
                return True
    return False


@settings(max_examples=150, deadline=None, database=None)
@given(tables(), st.integers(min_value=2, max_value=6))
def test_no_hidden_cell_can_be_recovered(
    table: tuple[dict[str, int], list[Group], set[str]], min_cell: int
) -> None:
    values, groups, unpublished = table
    suppressed = cells_to_suppress(values, groups, min_cell=min_cell, unpublished=unpublished)
    hidden = suppressed | unpublished
    small = {c for c, v in values.items() if 0 < v < min_cell}

    # Every small published count is suppressed; nothing unpublished is "suppressed".
    assert small - unpublished <= suppressed
    assert not suppressed & unpublished
    # In a group whose total is published, never exactly one suppressed part.
    for group in groups:
        if group.total not in hidden:
            hidden_parts = [p for p in group.parts if p in hidden]
            assert len(hidden_parts) != 1 or hidden_parts[0] not in suppressed | small
    # No hidden non-zero cell is determined by the equations (linear algebra)…
    protected = {c for c in suppressed | (small & unpublished) if values[c]}
    zeros = {c for c, v in values.items() if v == 0}
    assert not determined_cells(groups, hidden - zeros) & protected
    # …and, checked the slow way, each has another integer solution where it differs.
    for cell in sorted(protected):
        assert alternative_exists(cell, values, groups, hidden), cell


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=6),
    st.integers(0, 30),
    st.integers(0, 30),
)
def test_a_funders_copy_hides_every_small_household_count(
    sizes: list[int], children: int, repeat: int
) -> None:
    households = sum(sizes)
    rows = [Breakdown(key=str(i + 1), label="", households=n) for i, n in enumerate(sizes)]
    raw = report(
        households=households,
        people=sum((i + 1) * n for i, n in enumerate(sizes)),
        households_with_children=min(children, households),
        by_household_size=rows,
        repeat_households=min(repeat, households),
        loyal_households=min(repeat, households) // 2,
    )
    funder = suppress_for_funder(raw, MIN)

    shown = [
        funder.households,
        funder.people,
        funder.households_with_children,
        funder.repeat_households,
        funder.loyal_households,
        *(row.households for row in funder.by_household_size),
    ]
    assert all(v is None or v == 0 or v >= MIN for v in shown)
    published_sizes = [row.households for row in funder.by_household_size]
    hidden_sizes = [n for n in published_sizes if n is None]
    if funder.households is not None:
        assert len(hidden_sizes) != 1
        if funder.households_with_children is not None:
            assert funder.households - funder.households_with_children in (0,) or (
                funder.households - funder.households_with_children >= MIN
            )
    if hidden_sizes:
        assert funder.people is None


Levels = tuple[int, int, int]  # households with high, low and very low food security


def shares(before: Levels, after: Levels) -> list[SurveyFigure]:
    """The survey's two shares as the impact report makes them, from each level's count."""

    def figure(key: str, counted: Callable[[Levels], int]) -> SurveyFigure:
        def share(levels: Levels) -> Decimal | None:
            return Decimal(counted(levels)) / sum(levels) if sum(levels) else None

        return SurveyFigure(
            key,
            key,
            sum(before),
            share(before),
            sum(after),
            share(after),
            measure="share",
            before_count=counted(before),
            after_count=counted(after),
        )

    return [
        figure("food_insecurity", lambda levels: levels[1] + levels[2]),
        figure("very_low_food_security", lambda levels: levels[2]),
    ]


LEVELS = st.tuples(*[st.integers(0, 12)] * 3)


@settings(max_examples=150, deadline=None)
@given(LEVELS, LEVELS)
def test_a_funder_never_sees_a_survey_share_of_fewer_than_five_households(
    before: Levels, after: Levels
) -> None:
    raw = report(survey=shares(before, after))

    funder = suppress_for_funder(raw, MIN)

    for moment, levels in (("before", before), ("after", after)):
        published = {}
        for figure, plain in zip(funder.survey, raw.survey, strict=True):
            respondents = getattr(figure, f"{moment}_respondents")
            assert respondents is None or respondents == 0 or respondents >= MIN
            if getattr(figure, f"{moment}_value") is None:
                continue
            published[figure.key] = figure
            # What a published share tells: the households counted and the others.
            counted = getattr(plain, f"{moment}_count")
            for households in (counted, respondents - counted):
                assert households == 0 or households >= MIN, (figure.key, moment)
        if len(published) == 2:
            # The two shares together tell the households with low food security.
            assert levels[1] == 0 or levels[1] >= MIN
