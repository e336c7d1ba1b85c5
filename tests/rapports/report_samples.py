"""Hand-made funding and impact reports for the renderers' tests (no database needed)."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal

from rapports.report_types import (
    Amount,
    Breakdown,
    FunderLine,
    FundingFigures,
    FundingReport,
    ImpactReport,
    ProgramLine,
    SurveyFigure,
)

TODAY = datetime.date(2026, 8, 14)


def amount(count: int | None, value: str | None) -> Amount:
    return Amount(count, None if value is None else Decimal(value))


def figures(scale: int = 1) -> FundingFigures:
    def money(value: str) -> str:
        return str(Decimal(value) * scale)

    return FundingFigures(
        contributions=amount(2 * scale, money("12000.00")),
        donations=amount(3 * scale, money("450.00")),
        sales=amount(4 * scale, money("80.00")),
        refunds=amount(1 * scale, money("-20.00")),
        funds=amount(None, money("12510.00")),
        available=amount(None, money("7275.50")),
        issued=amount(1100 * scale, money("5500.00")),
        outstanding=amount(300 * scale, money("1500.00")),
        redeemed=amount(746 * scale, money("3734.50")),
        expired=amount(54 * scale, money("265.50")),
        void=amount(10 * scale, money("50.00")),
        reimbursed=amount(600 * scale, money("3000.00")),
        awaiting_reimbursement=amount(146 * scale, money("734.50")),
        conflicts_honoured=amount(2 * scale, money("10.00")),
    )


def funding_report(scope: str = "program", label: str = "Programme de Portneuf") -> FundingReport:
    programs = []
    if scope != "program":
        programs = [
            ProgramLine("portneuf", "Programme de Portneuf", "MRC Portneuf", figures()),
            ProgramLine("=cmd", "=cmd|' /C calc'!A0", "MRC Kamouraska", figures(2)),
        ]
    return FundingReport(
        scope=scope,
        label=label,
        currency="CAD",
        today=TODAY,
        programs=programs,
        totals=figures(3 if programs else 1),
        by_funder=[
            FunderLine("Fondation Lucie", "foundation", amount(1, "10000.00")),
            FunderLine("MRC de Portneuf", "municipal", amount(1, "2000.00")),
        ],
    )


def breakdown(key: str, label: str, households: int | None, count: int, value: str) -> Breakdown:
    return Breakdown(key, label, households, amount(count, value))


def impact_report(scope: str = "program", label: str = "Programme de Portneuf") -> ImpactReport:
    return ImpactReport(
        scope=scope,
        label=label,
        today=TODAY,
        households=212,
        people=587,
        households_with_children=96,
        by_household_size=[
            Breakdown("1", "1 personne", households=40),
            Breakdown("2", "2 personnes", households=72),
            Breakdown("3", "3 personnes", households=100),
        ],
        share_used=Decimal("0.7850"),
        spent_local=amount(746, "3734.50"),
        vendors=23,
        markets=3,
        by_market=[
            breakdown("saint-casimir", "Marché de Saint-Casimir", 80, 300, "1500.00"),
            breakdown("deschambault", "Marché de Deschambault-Grondines", 70, 246, "1234.50"),
            breakdown("saint-raymond", "Marché de Saint-Raymond", 62, 200, "1000.00"),
        ],
        by_week=[
            breakdown("2026-06-01", "Semaine du 1er juin", 120, 400, "2000.00"),
            breakdown("2026-06-08", "Semaine du 8 juin", 110, 346, "1734.50"),
        ],
        by_category=[
            breakdown("fruits-legumes", "Fruits et légumes", 200, 500, "2500.00"),
            breakdown("oeufs", "Œufs", 90, 246, "1234.50"),
        ],
        repeat_households=150,
        loyal_households=80,
        survey=[
            SurveyFigure(
                "fruits",
                "Portions de fruits et légumes par jour",
                180,
                Decimal("2.40"),
                150,
                Decimal("3.10"),
            )
        ],
    )


def suppressed(report: ImpactReport) -> ImpactReport:
    """The funder's copy: the Saint-Raymond market (3 households) and its complement hidden."""
    markets = [
        dataclasses.replace(row, households=None) if row.key != "saint-casimir" else row
        for row in report.by_market
    ]
    markets[2] = dataclasses.replace(markets[2], households=None)
    return dataclasses.replace(
        report,
        by_market=markets,
        households_with_children=None,
        suppressed=[
            "households_with_children",
            "by_market:deschambault",
            "by_market:saint-raymond",
        ],
    )
