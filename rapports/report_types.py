"""What the funding and impact reports hold: plain frozen data, built by
`rapports.funding_report` and `rapports.impact_report`, suppressed for funders by
`rapports.suppression`, and rendered by the pages, the PDF, CSV, XLSX and the API.

Every money value is a `Decimal` in dollars with two places; every count an `int`. A cell that a
funder may not see (a count of fewer than `REPORT_MIN_CELL` households, or one that would let
such a count be recovered by subtraction) is `None` in the funder's copy of the report, and
`suppressed` lists its key.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Amount:
    """A count of things (coupons, contributions, redemptions) and their value. `count` is
    None where no count applies (the funds) or where it is suppressed."""

    count: int | None
    value: Decimal | None


@dataclass(frozen=True)
class FunderLine:
    funder: str
    kind: str  # financement.models.Funder.Kind value
    contributions: Amount


@dataclass(frozen=True)
class ProgramLine:
    """One program's funding figures, for a territory's or the network's report."""

    slug: str
    name: str
    territory: str
    funding: FundingFigures


@dataclass(frozen=True)
class FundingFigures:
    # Money in (the ledger): contributions, online donations, sale payments, refunds (≤ 0).
    contributions: Amount
    donations: Amount
    sales: Amount
    refunds: Amount
    funds: Amount  # the sum of the ledger (count: None)
    available: Amount  # funds − (outstanding + redeemed) (count: None)
    # The coupons (not void): issued = outstanding + redeemed + expired.
    issued: Amount
    outstanding: Amount
    redeemed: Amount
    expired: Amount
    void: Amount
    # The vendors: paid statements; accepted and honoured redemptions not on a paid statement;
    # double scans honoured as a loss.
    reimbursed: Amount
    awaiting_reimbursement: Amount
    conflicts_honoured: Amount


@dataclass(frozen=True)
class FundingReport:
    scope: str  # "program", "territory" or "network"
    label: str  # the program's or the territory's name, or the network's
    currency: str
    today: datetime.date
    programs: list[ProgramLine]
    totals: FundingFigures
    by_funder: list[FunderLine]


@dataclass(frozen=True)
class Breakdown:
    """One row of a breakdown (by market, week, category, household size…)."""

    key: str  # a slug, an ISO date or a number as text
    label: str
    households: int | None = None
    redemptions: Amount | None = None


@dataclass(frozen=True)
class SurveyFigure:
    """One survey item before and after (aggregate only): respondents and the mean score or the
    share, each None when suppressed."""

    key: str
    label: str
    before_respondents: int | None
    before_value: Decimal | None
    after_respondents: int | None
    after_value: Decimal | None
    # "share": a share of the respondents, 0 to 1 (shown as a percentage); "mean": an average.
    measure: str = "mean"
    # For a share, the households it counts (share × respondents): never published as such,
    # but a household count all the same, so small-cell suppression weighs it (None: hidden).
    before_count: int | None = None
    after_count: int | None = None


@dataclass(frozen=True)
class ImpactReport:
    scope: str
    label: str
    today: datetime.date
    households: int | None  # reached: at least one coupon issued to them
    people: int | None
    households_with_children: int | None
    by_household_size: list[Breakdown]
    share_used: Decimal | None  # redeemed value / issued value, 0 to 1 (4 places)
    spent_local: Amount  # accepted and honoured redemptions
    vendors: int  # vendors that received coupons
    markets: int
    by_market: list[Breakdown]
    by_week: list[Breakdown]
    by_category: list[Breakdown]
    # Households that redeemed on at least 2 different weeks, and on at least 4.
    repeat_households: int | None
    loyal_households: int | None
    survey: list[SurveyFigure] = field(default_factory=list)
    # The keys of the cells suppressed in this copy ("households", "by_market:saint-casimir"…).
    suppressed: list[str] = field(default_factory=list)
