"""Small cells: what a funder may not see of an impact report (DESIGN.md, invariant 7).

Any count of fewer than `REPORT_MIN_CELL` households (5 by default) is suppressed, and so are
enough other cells that none of them can be recovered by subtraction from what is published.

The report's counts are tied by equations, each one a *group*: a total and the parts that add
up to it (the households by size add up to the households; those with children and those
without; the repeat households and the others…). A part nobody publishes but anyone can compute
("households without children" = households − with children) is an *unpublished* cell: it is
protected like the others when it is small.

A hidden cell is safe when the published values and the equations leave it free. Over the
real numbers that is a question of linear algebra: the cell is determined exactly when its unit
vector lies in the row space of the equations restricted to the hidden cells. While some hidden
cell is determined, one more cell of one of its groups is suppressed (the smallest non-zero part,
else the total): this is the usual complementary suppression, and it stops, since each round
hides one more cell. Zero counts are published: they are about nobody; and since a hidden zero
could be pinned down by the fact that counts are not negative, zeros count as known.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings

from rapports.report_types import Breakdown, ImpactReport, SurveyFigure

DEFAULT_MIN_CELL = 5


def default_min_cell() -> int:
    """The smallest count of households a funder may see (`REPORT_MIN_CELL`, 5 by default)."""
    return int(getattr(settings, "REPORT_MIN_CELL", DEFAULT_MIN_CELL))


# The general part: cells, groups and complementary suppression --------------------------------


@dataclass(frozen=True)
class Group:
    """`total` = the sum of `parts`."""

    total: str
    parts: tuple[str, ...]

    def cells(self) -> tuple[str, ...]:
        return (self.total, *self.parts)


def determined_cells(groups: Sequence[Group], hidden: Collection[str]) -> set[str]:
    """The hidden cells whose value follows from the published ones through the groups'
    equations (exact rational Gaussian elimination, restricted to the hidden cells)."""
    columns = sorted(set(hidden))
    index = {cell: i for i, cell in enumerate(columns)}
    rows: list[list[Fraction]] = []
    for group in groups:
        row = [Fraction(0)] * len(columns)
        for cell, sign in [(group.total, 1), *((part, -1) for part in group.parts)]:
            if cell in index:
                row[index[cell]] += sign
        if any(row):
            rows.append(row)
    pivots = _reduce(rows, len(columns))
    # In reduced row echelon form, a unit vector e_j is in the row space exactly when j is a
    # pivot column whose row has no other non-zero entry.
    return {
        columns[column] for row, column in pivots if sum(1 for value in rows[row] if value) == 1
    }


def _reduce(rows: list[list[Fraction]], width: int) -> list[tuple[int, int]]:
    """Reduce `rows` in place to reduced row echelon form; return (row, pivot column) pairs."""
    pivots: list[tuple[int, int]] = []
    top = 0
    for column in range(width):
        found = next((r for r in range(top, len(rows)) if rows[r][column]), None)
        if found is None:
            continue
        rows[top], rows[found] = rows[found], rows[top]
        pivot = rows[top][column]
        rows[top] = [value / pivot for value in rows[top]]
        for r in range(len(rows)):
            if r != top and rows[r][column]:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[top], strict=True)]
        pivots.append((top, column))
        top += 1
        if top == len(rows):
            break
    return pivots


def cells_to_suppress(
    values: Mapping[str, int | None],
    groups: Sequence[Group],
    *,
    min_cell: int,
    unpublished: Collection[str] = (),
) -> set[str]:
    """The published cells to suppress: every count from 1 to `min_cell` − 1, and enough others
    that no suppressed cell, and no small unpublished one, follows from what stays published.

    `values` holds every cell, the unpublished ones included (a None value is unknown: never
    published, never sensitive). Deterministic: the same input gives the same cells.
    """
    unknown = {cell for cell, value in values.items() if value is None}
    never = set(unpublished) | unknown
    sensitive = {
        cell for cell, value in values.items() if value is not None and 0 < value < min_cell
    }
    suppressed = sensitive - never
    # A determined zero tells nothing about anyone, so only non-zero cells need protection.
    protected = (suppressed | (sensitive & never)) - {c for c, v in values.items() if not v}
    by_cell: dict[str, list[Group]] = {}
    for group in groups:
        for cell in group.cells():
            by_cell.setdefault(cell, []).append(group)
    # A hidden zero may be pinned down by the counts being non-negative (hidden parts that add
    # up to 0): take every zero as known. Then every hidden cell that matters is at least 1, so
    # moving along any direction the equations allow keeps the counts non-negative, and being
    # undetermined over the reals means having other non-negative solutions.
    zeros = {cell for cell, value in values.items() if value == 0}
    while True:
        exposed = sorted(determined_cells(groups, (suppressed | never) - zeros) & protected)
        if not exposed:
            return suppressed
        extra = _complement(exposed[0], values, groups, by_cell, suppressed | never)
        if extra is None:
            return suppressed  # everything that could be hidden is
        suppressed.add(extra)
        if values.get(extra):
            protected.add(extra)


def _complement(
    cell: str,
    values: Mapping[str, int | None],
    groups: Sequence[Group],
    by_cell: Mapping[str, list[Group]],
    hidden: set[str],
) -> str | None:
    """The next cell to hide to protect `cell`: in its own groups first, the smallest non-zero
    published part, else the total, else a zero; then the same in any other group."""

    def candidates(scope: Iterable[Group]) -> str | None:
        ranked = []
        for group in scope:
            for cell_, is_total in [(p, False) for p in group.parts] + [(group.total, True)]:
                value = values.get(cell_)
                if cell_ in hidden or value is None:
                    continue
                ranked.append((value == 0, is_total, value, cell_))
        return min(ranked)[3] if ranked else None

    return candidates(by_cell.get(cell, [])) or candidates(groups)


# The impact report -----------------------------------------------------------------------------

HOUSEHOLDS = "households"
PEOPLE = "people"
WITH_CHILDREN = "households_with_children"
WITHOUT_CHILDREN = "households_without_children"  # unpublished
REPEAT = "repeat_households"
NOT_REPEAT = "households_not_repeat"  # unpublished
LOYAL = "loyal_households"
REPEAT_NOT_LOYAL = "repeat_not_loyal_households"  # unpublished
BREAKDOWNS = ("by_household_size", "by_market", "by_week", "by_category")


def _difference(total: int | None, part: int | None) -> int | None:
    return None if total is None or part is None else total - part


def _survey_key(figure: SurveyFigure, moment: str, part: str = "") -> str:
    return f"survey:{figure.key}:{moment}" + (f":{part}" if part else "")


MOMENTS = ("before", "after")


def _survey_cells(
    figures: Sequence[SurveyFigure],
) -> tuple[dict[str, int | None], list[Group], set[str]]:
    """The survey's household counts: each figure's respondents and, for a share, the
    households it counts ("counted") and the others ("rest", unpublished: respondents −
    counted). The shares of one moment have the same respondents (equal cells: a group of one
    part), and the very low food security households are some of the food-insecure ones."""
    values: dict[str, int | None] = {}
    groups: list[Group] = []
    unpublished: set[str] = set()
    for moment in MOMENTS:
        shares: list[SurveyFigure] = []
        for figure in figures:
            respondents = getattr(figure, f"{moment}_respondents")
            values[_survey_key(figure, moment)] = respondents
            counted = getattr(figure, f"{moment}_count")
            if figure.measure != "share" or counted is None or respondents is None:
                continue
            values[_survey_key(figure, moment, "counted")] = counted
            values[_survey_key(figure, moment, "rest")] = respondents - counted
            unpublished.add(_survey_key(figure, moment, "rest"))
            groups.append(
                Group(
                    _survey_key(figure, moment),
                    (_survey_key(figure, moment, "counted"), _survey_key(figure, moment, "rest")),
                )
            )
            shares.append(figure)
        for first, other in itertools.pairwise(shares):
            groups.append(Group(_survey_key(first, moment), (_survey_key(other, moment),)))
        keyed = {figure.key: figure for figure in shares}
        if "food_insecurity" in keyed and "very_low_food_security" in keyed:
            insecure, very_low = keyed["food_insecurity"], keyed["very_low_food_security"]
            low = f"survey:low_food_security:{moment}"  # unpublished
            values[low] = _difference(
                values[_survey_key(insecure, moment, "counted")],
                values[_survey_key(very_low, moment, "counted")],
            )
            unpublished.add(low)
            groups.append(
                Group(
                    _survey_key(insecure, moment, "counted"),
                    (_survey_key(very_low, moment, "counted"), low),
                )
            )
    return values, groups, unpublished


def _cells(report: ImpactReport) -> tuple[dict[str, int | None], list[Group], set[str]]:
    values: dict[str, int | None] = {
        HOUSEHOLDS: report.households,
        WITH_CHILDREN: report.households_with_children,
        WITHOUT_CHILDREN: _difference(report.households, report.households_with_children),
        REPEAT: report.repeat_households,
        NOT_REPEAT: _difference(report.households, report.repeat_households),
        LOYAL: report.loyal_households,
        REPEAT_NOT_LOYAL: _difference(report.repeat_households, report.loyal_households),
    }
    for name in BREAKDOWNS:
        for row in getattr(report, name):
            if row.households is not None:
                values[f"{name}:{row.key}"] = row.households
    survey_values, survey_groups, survey_unpublished = _survey_cells(report.survey)
    values.update(survey_values)
    sizes = tuple(
        f"by_household_size:{row.key}"
        for row in report.by_household_size
        if row.households is not None
    )
    groups = [
        Group(HOUSEHOLDS, (WITH_CHILDREN, WITHOUT_CHILDREN)),
        Group(HOUSEHOLDS, (REPEAT, NOT_REPEAT)),
        Group(REPEAT, (LOYAL, REPEAT_NOT_LOYAL)),
    ]
    if sizes:
        groups.append(Group(HOUSEHOLDS, sizes))
    groups.extend(survey_groups)
    return values, groups, {WITHOUT_CHILDREN, NOT_REPEAT, REPEAT_NOT_LOYAL, *survey_unpublished}


def _hide_rows(rows: list[Breakdown], name: str, hidden: set[str]) -> list[Breakdown]:
    return [
        dataclasses.replace(row, households=None) if f"{name}:{row.key}" in hidden else row
        for row in rows
    ]


def _without(figure: SurveyFigure, moment: str, *, respondents: bool) -> SurveyFigure:
    """`figure` with its value (and count) at `moment` hidden, and its respondents too."""
    if moment == "before":
        return dataclasses.replace(
            figure,
            before_value=None,
            before_count=None,
            before_respondents=None if respondents else figure.before_respondents,
        )
    return dataclasses.replace(
        figure,
        after_value=None,
        after_count=None,
        after_respondents=None if respondents else figure.after_respondents,
    )


def _hide_survey(figure: SurveyFigure, hidden: set[str]) -> SurveyFigure:
    """A mean or share of fewer than min_cell answers says too much about those who answered,
    and a share gives its households away with its respondents: either hidden hides it."""
    for moment in MOMENTS:
        if _survey_key(figure, moment) in hidden:
            figure = _without(figure, moment, respondents=True)
        elif _survey_key(figure, moment, "counted") in hidden:
            figure = _without(figure, moment, respondents=False)
    return figure


def suppress_for_funder(report: ImpactReport, min_cell: int | None = None) -> ImpactReport:
    """The funder's copy of `report`: small household counts and the cells that would give
    them away are None, and `suppressed` lists their keys. Money and the counts of coupons,
    vendors and markets are kept: they are not counts of households."""
    limit = default_min_cell() if min_cell is None else min_cell
    values, groups, unpublished = _cells(report)
    hidden = cells_to_suppress(values, groups, min_cell=limit, unpublished=unpublished)
    # People are counted from the households by size: a hidden size (or the households
    # themselves) could be recovered from the people (Σ size × households), so they go too.
    sizes_hidden = any(key.startswith("by_household_size:") for key in hidden)
    if report.people is not None and (HOUSEHOLDS in hidden or sizes_hidden):
        hidden.add(PEOPLE)
    return dataclasses.replace(
        report,
        households=None if HOUSEHOLDS in hidden else report.households,
        people=None if PEOPLE in hidden else report.people,
        households_with_children=(
            None if WITH_CHILDREN in hidden else report.households_with_children
        ),
        repeat_households=None if REPEAT in hidden else report.repeat_households,
        loyal_households=None if LOYAL in hidden else report.loyal_households,
        by_household_size=_hide_rows(report.by_household_size, "by_household_size", hidden),
        by_market=_hide_rows(report.by_market, "by_market", hidden),
        by_week=_hide_rows(report.by_week, "by_week", hidden),
        by_category=_hide_rows(report.by_category, "by_category", hidden),
        survey=[_hide_survey(figure, hidden) for figure in report.survey],
        suppressed=sorted(set(report.suppressed) | hidden),
    )
