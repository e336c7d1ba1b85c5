"""The impact report of a program, a territory or the whole network: the households reached, how
much of the coupons was spent with local producers, where, when and on what, and how often the
households came back.

Every figure is aggregated in the database: seven queries whatever the number of programs,
households or redemptions (households by size, coupon totals, the money spent by market, vendor,
week and category, the names of those markets and categories, repeat use, the evaluation
survey). A query over the redemptions reads every redemption of the programs, found by their
own program column and its index (bench/reports.py times them on a season of the whole
network); repeat use reads their household column (both copied from the coupon when the scan
is recorded), so no query over the redemptions joins the coupons. The money spent, the
vendors and markets paid and the breakdowns by market, by week and by category are all sums of
one query's cells (at most vendors × weeks × categories rows), grouped by keys only. The
household counts are plain here; `rapports.suppression` hides the small cells of a funder's
copy.

Money spent is what vendors are reimbursed for: accepted redemptions and double scans honoured.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from beneficiaires.models import Household, SurveyResponse
from beneficiaires.survey import PhaseTotals, survey_totals
from coupons.models import Coupon
from coupons.selectors import coupon_totals
from marches.models import Market, Redemption
from programmes.models import ProductCategory, Program
from programmes.money import ZERO
from rapports.funding_report import amount, program_ids
from rapports.report_types import Amount, Breakdown, ImpactReport, SurveyFigure

# Households of this size or more share the last row of the breakdown by size.
LARGEST_SIZE = 5
# Households that redeemed on at least this many different weeks.
REPEAT_WEEKS = 2
LOYAL_WEEKS = 4
SHARE_PLACES = Decimal("0.0001")
MEAN_PLACES = Decimal("0.01")
NO_CATEGORY = "none"


def _spent(programs: QuerySet[Program]) -> QuerySet[Redemption]:
    """The redemptions that spent the programs' coupons: accepted, and double scans honoured."""
    return Redemption.objects.filter(
        program__in=program_ids(programs), status__in=Redemption.REIMBURSABLE
    ).order_by()


def _week(field: str = "scanned_at") -> TruncWeek:
    """The Monday of the local week (ISO weeks start on Monday)."""
    return TruncWeek(field, output_field=DateField(), tzinfo=timezone.get_current_timezone())


# Households ----------------------------------------------------------------------------------


def _size_label(size: int) -> str:
    if size >= LARGEST_SIZE:
        return _("{size} personnes ou plus").format(size=LARGEST_SIZE)
    if size == 1:
        return _("1 personne")
    return _("{size} personnes").format(size=size)


def _households(programs: QuerySet[Program]) -> tuple[list[Breakdown], int, int, int]:
    """Households reached (at least one coupon issued to them and not voided), by size; and
    their number, the people in them, those with children."""
    issued = Coupon.objects.filter(household=OuterRef("pk")).exclude(status=Coupon.Status.VOID)
    rows = (
        Household.objects.filter(Exists(issued), program__in=program_ids(programs))
        .order_by()
        .annotate(members=F("adults") + F("children"))
        .annotate(
            bucket=Case(
                When(members__gte=LARGEST_SIZE, then=Value(LARGEST_SIZE)),
                default=F("members"),
                output_field=IntegerField(),
            )
        )
        .values("bucket")
        .annotate(
            n=Count("pk"),
            people=Sum("members"),
            with_children=Count("pk", filter=Q(children__gt=0)),
        )
    )
    by_bucket = {row["bucket"]: row for row in rows}
    breakdown = [
        Breakdown(
            key=str(size_) if size_ < LARGEST_SIZE else f"{LARGEST_SIZE}+",
            label=_size_label(size_),
            households=by_bucket.get(size_, {}).get("n", 0),
        )
        for size_ in range(1, LARGEST_SIZE + 1)
    ]
    households = sum(row["n"] for row in by_bucket.values())
    people = sum(row["people"] or 0 for row in by_bucket.values())
    with_children = sum(row["with_children"] for row in by_bucket.values())
    return breakdown, households, people, with_children


def _repeat_use(programs: QuerySet[Program]) -> tuple[int, int]:
    """Households whose coupons were spent on at least REPEAT_WEEKS different weeks, and on at
    least LOYAL_WEEKS (bearer coupons belong to no household and count for none).

    The distinct (household, week) pairs first, then the weeks of each household, then the
    households counted: three levels of grouping, each hashed, where COUNT(DISTINCT week) per
    household made PostgreSQL sort every redemption (and spill to disk) on a province's season.
    The ORM nests one level of aggregation only, so the two outer ones wrap its SQL."""
    pairs = (
        _spent(programs)
        # The redemption's own copy of its coupon's household: no join of the coupons.
        .filter(household__isnull=False)
        .annotate(week=_week())
        .values("household", "week")
        .annotate(n=Count("pk"))
        .values("household", "week")
    )
    inner, params = pairs.query.sql_with_params()
    sql = (
        "SELECT COALESCE(SUM(CASE WHEN weeks >= %s THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN weeks >= %s THEN 1 ELSE 0 END), 0)"
        f" FROM (SELECT household, COUNT(*) AS weeks FROM ({inner}) pairs GROUP BY household) w"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [REPEAT_WEEKS, LOYAL_WEEKS, *params])
        repeat, loyal = cursor.fetchone()
    return int(repeat), int(loyal)


# Money spent --------------------------------------------------------------------------------


def _cells(spent: QuerySet[Redemption]) -> list[dict[str, Any]]:
    """The money spent by market, vendor, week and category: one row per cell that has any,
    whatever the number of redemptions, with the market's and the category's names. The query
    groups by keys only (grouping by names as well made PostgreSQL sort every row); the names
    come from two small queries."""
    cells = list(
        spent.annotate(week=_week())
        .values("market_id", "vendor_id", "week", "category_id")
        .annotate(n=Count("pk"), v=Sum("value"))
    )
    markets = {
        pk: (slug, name)
        for pk, slug, name in Market.objects.filter(
            pk__in={cell["market_id"] for cell in cells}
        ).values_list("pk", "slug", "name")
    }
    categories = {
        pk: (slug, name_fr, name_en)
        for pk, slug, name_fr, name_en in ProductCategory.objects.filter(
            pk__in={cell["category_id"] for cell in cells if cell["category_id"] is not None}
        ).values_list("pk", "slug", "name_fr", "name_en")
    }
    for cell in cells:
        cell["market__slug"], cell["market__name"] = markets[cell["market_id"]]
        category = categories.get(cell["category_id"], (None, None, None))
        cell["category__slug"], cell["category__name_fr"], cell["category__name_en"] = category
    return cells


def _sums(cells: Iterable[dict[str, Any]], *fields: str) -> dict[tuple[Any, ...], Amount]:
    """The cells' redemptions summed by the values of `fields`."""
    counts: dict[tuple[Any, ...], int] = {}
    values: dict[tuple[Any, ...], Decimal] = {}
    for cell in cells:
        key = tuple(cell[name] for name in fields)
        counts[key] = counts.get(key, 0) + cell["n"]
        values[key] = values.get(key, ZERO) + (cell["v"] or ZERO)
    return {key: amount(counts[key], values[key]) for key in counts}


def _by_market(cells: list[dict[str, Any]]) -> list[Breakdown]:
    breakdown = [
        Breakdown(key=slug, label=name, redemptions=spent)
        for (slug, name), spent in _sums(cells, "market__slug", "market__name").items()
    ]
    # By name the same way on every database (collations differ).
    return sorted(breakdown, key=lambda row: (row.label.casefold(), row.key))


def _week_label(monday: datetime.date) -> str:
    return _("Semaine du {date}").format(date=formats.date_format(monday, "DATE_FORMAT"))


def _by_week(cells: list[dict[str, Any]]) -> list[Breakdown]:
    """One row per week from the first to the last with redemptions, quiet weeks included (a
    chart's axis has no holes), keyed by the Monday's ISO date."""
    found = {week: spent for (week,), spent in _sums(cells, "week").items()}
    if not found:
        return []
    monday, last = min(found), max(found)
    breakdown = []
    while monday <= last:
        breakdown.append(
            Breakdown(
                key=monday.isoformat(),
                label=_week_label(monday),
                redemptions=found.get(monday, amount(0, ZERO)),
            )
        )
        monday += datetime.timedelta(days=7)
    return breakdown


def _category_label(name_fr: str | None, name_en: str | None) -> str:
    if name_fr is None:
        return _("Non précisée")
    return ProductCategory.name_in_language(name_fr, name_en)


def _by_category(cells: list[dict[str, Any]]) -> list[Breakdown]:
    """By product category; a scan that named none is "Non précisée" (listed last)."""
    sums = _sums(cells, "category__slug", "category__name_fr", "category__name_en")
    breakdown = [
        Breakdown(
            key=slug or NO_CATEGORY,
            label=_category_label(name_fr, name_en),
            redemptions=spent,
        )
        for (slug, name_fr, name_en), spent in sums.items()
    ]
    return sorted(
        breakdown, key=lambda row: (row.key == NO_CATEGORY, row.label.casefold(), row.key)
    )


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part / whole).quantize(SHARE_PLACES)


# The evaluation survey ------------------------------------------------------------------------


def _mean(total: Decimal, count: int) -> Decimal | None:
    return (total / count).quantize(MEAN_PLACES) if count else None


def _survey(programs: QuerySet[Program]) -> list[SurveyFigure]:
    """Before (at enrollment) and after (at the end of the season), in aggregate: the share of
    food-insecure households (raw score of 2 or more: low or very low food security), the share
    with very low food security (5 or more) and the mean fruit and vegetable servings a day.
    The respondents are household counts (one answer per household and phase); the phases are
    compared as groups, not household by household. No figures when nobody answered."""
    totals = survey_totals(program_ids(programs))
    before = totals[SurveyResponse.Phase.ENROLLMENT]
    after = totals[SurveyResponse.Phase.END_OF_SEASON]
    if not (before.responses or after.responses):
        return []

    def share(key: str, label: str, part: str) -> SurveyFigure:
        def value(phase: PhaseTotals) -> Decimal | None:
            return _share(Decimal(getattr(phase, part)), Decimal(phase.scored))

        return SurveyFigure(
            key=key,
            label=label,
            before_respondents=before.scored,
            before_value=value(before),
            after_respondents=after.scored,
            after_value=value(after),
            measure="share",
            before_count=getattr(before, part),
            after_count=getattr(after, part),
        )

    return [
        share(
            "food_insecurity",
            _("Ménages en insécurité alimentaire (sécurité alimentaire faible ou très faible)"),
            "food_insecure",
        ),
        share(
            "very_low_food_security",
            _("Ménages en sécurité alimentaire très faible"),
            "very_low",
        ),
        SurveyFigure(
            key="fruit_vegetables",
            label=_("Portions de fruits et légumes par jour (moyenne)"),
            before_respondents=before.servings_respondents,
            before_value=_mean(before.servings_total, before.servings_respondents),
            after_respondents=after.servings_respondents,
            after_value=_mean(after.servings_total, after.servings_respondents),
        ),
    ]


def impact_report(
    programs: QuerySet[Program],
    *,
    scope: str,
    label: str,
    today: datetime.date | None = None,
) -> ImpactReport:
    """The impact report of `programs` (already scoped to the reader), in seven queries."""
    today = today or timezone.localdate()
    by_size, households, people, with_children = _households(programs)
    coupons = coupon_totals(programs, today=today)
    cells = _cells(_spent(programs))
    repeat, loyal = _repeat_use(programs)
    return ImpactReport(
        scope=scope,
        label=label,
        today=today,
        households=households,
        people=people,
        households_with_children=with_children,
        by_household_size=by_size,
        share_used=_share(coupons.redeemed.value, coupons.issued.value),
        spent_local=_sums(cells).get((), amount(0, ZERO)),
        vendors=len({cell["vendor_id"] for cell in cells}),
        markets=len({cell["market_id"] for cell in cells}),
        by_market=_by_market(cells),
        by_week=_by_week(cells),
        by_category=_by_category(cells),
        repeat_households=repeat,
        loyal_households=loyal,
        survey=_survey(programs),
    )
