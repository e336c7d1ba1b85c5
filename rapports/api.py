"""The reports API for funders: a program's funding and impact figures, as JSON.

    GET /api/v1/reports/programs/<slug>
    Authorization: Bearer <funder token>   (python manage.py create_funder_token)

A funder reaches only the programs it funds (any other slug is a 404, like one that does not
exist), sees aggregates only, and every count of fewer than REPORT_MIN_CELL households is null
(with the cells that would give it away): see rapports/suppression.py.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.security import HttpBearer

from financement.access import funded_programs, resolve_funder_token
from financement.models import FunderToken
from rapports.funding_report import funding_report
from rapports.impact_report import impact_report
from rapports.report_types import Amount, Breakdown, ImpactReport, SurveyFigure
from rapports.suppression import default_min_cell, suppress_for_funder


def _refused() -> HttpError:
    # Raised rather than returned: the API's default 401 speaks of device tokens.
    return HttpError(401, _("Jeton de bailleur de fonds absent, invalide ou révoqué."))


class FunderBearer(HttpBearer):
    def __call__(self, request: HttpRequest) -> FunderToken:
        # No header, or not a bearer one: the same answer as a bad token.
        row = super().__call__(request)
        if row is None:
            raise _refused()
        return row

    def authenticate(self, request: HttpRequest, token: str) -> FunderToken | None:
        row = resolve_funder_token(token)
        if row is None:
            raise _refused()
        return row


router = Router(auth=FunderBearer(), tags=["reports"])


class AmountOut(Schema):
    count: int | None = Field(
        ..., description="How many (coupons, redemptions…); null where none applies."
    )
    value: str | None = Field(..., description="Dollars, a decimal string with two places.")


class BreakdownOut(Schema):
    key: str = Field(..., description="A slug, an ISO date (a week's Monday) or a size.")
    label: str
    households: int | None = Field(
        None, description="Households; null when suppressed or not counted."
    )
    redemptions: AmountOut | None = None


class SurveyOut(Schema):
    key: str
    label: str
    before_respondents: int | None
    before_value: str | None
    after_respondents: int | None
    after_value: str | None


class FunderLineOut(Schema):
    funder: str
    kind: str
    contributions: AmountOut


class ImpactOut(Schema):
    households: int | None = Field(..., description="Households reached; null when suppressed.")
    people: int | None
    households_with_children: int | None
    share_used: str | None = Field(..., description="Redeemed value / issued value, 0 to 1.")
    spent_local: AmountOut
    vendors: int
    markets: int
    repeat_households: int | None = Field(
        ..., description="Households that spent coupons on at least 2 different weeks."
    )
    loyal_households: int | None = Field(..., description="… on at least 4 different weeks.")
    by_household_size: list[BreakdownOut]
    by_market: list[BreakdownOut]
    by_week: list[BreakdownOut]
    by_category: list[BreakdownOut]
    survey: list[SurveyOut]
    suppressed: list[str] = Field(..., description="The keys of the cells set to null.")


class ProgramReportOut(Schema):
    program: str = Field(..., description="The program's slug.")
    name: str
    territory: str
    currency: str
    today: datetime.date = Field(..., description="The day the figures are counted on.")
    min_cell: int = Field(..., description="Counts of fewer households than this are null.")
    funds: AmountOut = Field(..., description="The program's ledger: every dollar received.")
    available: AmountOut
    contributions: AmountOut
    donations: AmountOut
    sales: AmountOut
    refunds: AmountOut
    issued: AmountOut = Field(..., description="Coupons issued, not void.")
    outstanding: AmountOut = Field(..., description="Issued, not redeemed, still valid.")
    redeemed: AmountOut
    expired: AmountOut = Field(..., description="Never redeemed before their end date.")
    void: AmountOut
    reimbursed: AmountOut = Field(..., description="Paid to vendors on approved statements.")
    awaiting_reimbursement: AmountOut
    conflicts_honoured: AmountOut
    by_funder: list[FunderLineOut]
    impact: ImpactOut


class ErrorOut(Schema):
    detail: str


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _amount(amount: Amount) -> dict[str, object]:
    return {"count": amount.count, "value": _money(amount.value)}


def _row(row: Breakdown) -> dict[str, object]:
    return {
        "key": row.key,
        "label": row.label,
        "households": row.households,
        "redemptions": _amount(row.redemptions) if row.redemptions else None,
    }


def _survey(figure: SurveyFigure) -> dict[str, object]:
    return {
        "key": figure.key,
        "label": figure.label,
        "before_respondents": figure.before_respondents,
        "before_value": None if figure.before_value is None else str(figure.before_value),
        "after_respondents": figure.after_respondents,
        "after_value": None if figure.after_value is None else str(figure.after_value),
    }


def _impact(report: ImpactReport) -> dict[str, object]:
    return {
        "households": report.households,
        "people": report.people,
        "households_with_children": report.households_with_children,
        "share_used": None if report.share_used is None else str(report.share_used),
        "spent_local": _amount(report.spent_local),
        "vendors": report.vendors,
        "markets": report.markets,
        "repeat_households": report.repeat_households,
        "loyal_households": report.loyal_households,
        "by_household_size": [_row(row) for row in report.by_household_size],
        "by_market": [_row(row) for row in report.by_market],
        "by_week": [_row(row) for row in report.by_week],
        "by_category": [_row(row) for row in report.by_category],
        "survey": [_survey(figure) for figure in report.survey],
        "suppressed": report.suppressed,
    }


@router.get(
    "/reports/programs/{slug}",
    response={200: ProgramReportOut, 401: ErrorOut, 404: ErrorOut},
    summary="A funded program's funding and impact report",
    description=(
        "For a funder's token: the funding figures of a program it funds and its impact in "
        "aggregate, small cells suppressed. 404 for any program the funder does not fund."
    ),
)
def program_report(request: HttpRequest, slug: str) -> dict[str, object]:
    token: FunderToken = request.auth  # type: ignore[attr-defined]
    program = funded_programs(token.funder).filter(slug=slug).first()
    if program is None:
        raise HttpError(404, _("Programme introuvable."))
    programs = type(program).objects.filter(pk=program.pk)
    funding = funding_report(programs, scope="program", label=program.name)
    limit = default_min_cell()
    impact = suppress_for_funder(
        impact_report(programs, scope="program", label=program.name, today=funding.today), limit
    )
    totals = funding.totals
    return {
        "program": program.slug,
        "name": program.name,
        "territory": str(program.territory),
        "currency": funding.currency,
        "today": funding.today,
        "min_cell": limit,
        **{
            name: _amount(getattr(totals, name))
            for name in (
                "funds",
                "available",
                "contributions",
                "donations",
                "sales",
                "refunds",
                "issued",
                "outstanding",
                "redeemed",
                "expired",
                "void",
                "reimbursed",
                "awaiting_reimbursement",
                "conflicts_honoured",
            )
        },
        "by_funder": [
            {"funder": line.funder, "kind": line.kind, "contributions": _amount(line.contributions)}
            for line in funding.by_funder
        ],
        "impact": _impact(impact),
    }
