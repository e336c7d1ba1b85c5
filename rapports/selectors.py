"""Reads of the reports: a program's dashboard and the network overview.

Every figure is aggregated in the database (`values().annotate()`), so the number of queries of
a report does not grow with the number of markets, vendors, coupons or redemptions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from beneficiaires.models import Household, Organization
from coupons.models import Coupon
from coupons.selectors import CouponTotals, Figure, coupon_totals
from financement.selectors import funds_by_program, program_funds
from marches.models import Market, Redemption, Vendor
from programmes.models import Program
from programmes.money import ZERO, quantize
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from comptes.models import User


# Scopes ----------------------------------------------------------------------------------------


def is_network_admin(user: User) -> bool:
    return bool(user.is_authenticated and user.is_network_admin)


def dashboard_programs(user: User) -> QuerySet[Program]:
    """The programs whose dashboard `user` may read: all for a network admin, else those they
    coordinate (intervenants, market managers and vendors get none)."""
    return programs_for(user)


def network_programs(user: User) -> QuerySet[Program]:
    """Every program, for network admins only."""
    programs = Program.objects.select_related("territory").order_by("name", "pk")
    return programs.all() if is_network_admin(user) else programs.none()


# A program's dashboard -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a table: a count and a value (redemptions) for a market, a vendor…"""

    label: str
    slug: str
    count: int
    value: Decimal
    market: str = ""
    market_slug: str = ""


@dataclass(frozen=True)
class OrganizationRow:
    label: str
    slug: str
    households: int


@dataclass(frozen=True)
class ProgramDashboard:
    program: Program
    today: datetime.date
    totals: CouponTotals
    funds: Decimal
    # Funds not yet committed to a coupon: funds − (redeemed + outstanding).
    available: Decimal
    by_market: list[Row]
    by_vendor: list[Row]
    by_organization: list[OrganizationRow]
    households: int

    @property
    def redemption_count(self) -> int:
        return sum(row.count for row in self.by_market)

    @property
    def redemption_value(self) -> Decimal:
        return quantize(sum((row.value for row in self.by_market), ZERO))


def _by_name(row: Any) -> tuple[str, str]:
    """Rows sorted by name the same way on every database (collations differ)."""
    return (row["name"].casefold(), row["slug"])


def _accepted_redemptions(program: Program) -> QuerySet[Redemption]:
    return Redemption.objects.filter(program=program, status=Redemption.Status.ACCEPTED)


def _by_market(program: Program) -> list[Row]:
    """Every market that accepts the program (zero included) or has redeemed its coupons."""
    redemptions = _accepted_redemptions(program)
    markets = (
        Market.objects.filter(
            Q(pk__in=program.markets.values("pk")) | Q(pk__in=redemptions.values("market_id"))
        )
        .order_by()
        .values("name", "slug")
    )
    totals = {
        row["market__slug"]: row
        for row in redemptions.order_by()
        .values("market__slug")
        .annotate(count=Count("pk"), value=Sum("value"))
    }
    rows = []
    for market in sorted(markets, key=_by_name):
        total = totals.get(market["slug"], {})
        rows.append(
            Row(
                label=market["name"],
                slug=market["slug"],
                count=total.get("count", 0),
                value=quantize(total.get("value") or ZERO),
            )
        )
    return rows


def _vendor_key(row: Any) -> tuple[str, str, str, str]:
    return (row["vendor__name"], row["vendor__slug"], row["market__name"], row["market__slug"])


def _by_vendor(program: Program) -> list[Row]:
    """One row per vendor and market: vendors selling at a market that accepts the program
    (zero included), and any vendor that redeemed the program's coupons somewhere."""
    pairs = (
        Vendor.markets.through.objects.filter(market__programs=program)
        .values("vendor__name", "vendor__slug", "market__name", "market__slug")
        .distinct()
    )
    totals = (
        _accepted_redemptions(program)
        .order_by()
        .values("vendor__name", "vendor__slug", "market__name", "market__slug")
        .annotate(count=Count("pk"), value=Sum("value"))
    )
    found: dict[tuple[str, str, str, str], tuple[int, Decimal]] = {}
    for pair in pairs:
        found[_vendor_key(pair)] = (0, ZERO)
    for total in totals:
        found[_vendor_key(total)] = (total["count"], quantize(total["value"] or ZERO))
    rows = [
        Row(
            label=vendor_name,
            slug=vendor_slug,
            count=count,
            value=value,
            market=market_name,
            market_slug=market_slug,
        )
        for (vendor_name, vendor_slug, market_name, market_slug), (count, value) in found.items()
    ]
    return sorted(rows, key=lambda row: (row.label.casefold(), row.market.casefold(), row.slug))


def _by_organization(program: Program) -> list[OrganizationRow]:
    """Partner organizations (zero included) and any organization with households enrolled."""
    organizations = (
        Organization.objects.filter(
            Q(pk__in=program.organizations.values("pk"))
            | Q(pk__in=Household.objects.filter(program=program).values("organization_id"))
        )
        .annotate(household_count=Count("households", filter=Q(households__program=program)))
        .order_by()
        .values("name", "slug", "household_count")
    )
    return [
        OrganizationRow(label=row["name"], slug=row["slug"], households=row["household_count"])
        for row in sorted(organizations, key=_by_name)
    ]


def program_dashboard(program: Program, today: datetime.date | None = None) -> ProgramDashboard:
    """Funds, coupons and redemptions of one program in seven queries whatever its size: funds,
    coupon
    totals, organizations with their households, markets, redemptions by market, vendors at
    the markets, redemptions by vendor and market."""
    today = today or timezone.localdate()
    totals = coupon_totals(Program.objects.filter(pk=program.pk), today=today)
    funds = program_funds(program)
    by_organization = _by_organization(program)
    return ProgramDashboard(
        program=program,
        today=today,
        totals=totals,
        funds=funds,
        available=quantize(funds - totals.redeemed.value - totals.outstanding.value),
        by_market=_by_market(program),
        by_vendor=_by_vendor(program),
        by_organization=by_organization,
        households=sum(row.households for row in by_organization),
    )


# The network overview --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramLine:
    program: Program
    funds: Decimal
    issued: Figure
    redeemed: Figure
    outstanding: Figure

    @property
    def available(self) -> Decimal:
        return quantize(self.funds - self.redeemed.value - self.outstanding.value)


@dataclass(frozen=True)
class NetworkOverview:
    lines: list[ProgramLine]
    funds: Decimal
    issued: Figure
    redeemed: Figure
    outstanding: Figure

    @property
    def available(self) -> Decimal:
        return quantize(self.funds - self.redeemed.value - self.outstanding.value)


def network_overview(
    programs: QuerySet[Program], today: datetime.date | None = None
) -> NetworkOverview:
    """Every program side by side, and the network's totals: two queries.

    The statuses mean what they mean in `coupons.selectors.coupon_totals`.
    """
    today = today or timezone.localdate()
    issued_q = ~Q(status=Coupon.Status.VOID)
    redeemed_q = Q(status=Coupon.Status.REDEEMED)
    outstanding_q = Q(status=Coupon.Status.ISSUED, valid_until__gte=today)
    figures = {
        row["program_id"]: row
        for row in Coupon.objects.filter(program__in=programs)
        .order_by()
        .values("program_id")
        .annotate(
            issued_n=Count("pk", filter=issued_q),
            issued_v=Sum("value", filter=issued_q),
            redeemed_n=Count("pk", filter=redeemed_q),
            redeemed_v=Sum("value", filter=redeemed_q),
            outstanding_n=Count("pk", filter=outstanding_q),
            outstanding_v=Sum("value", filter=outstanding_q),
        )
    }

    def figure(row: dict[str, Any], name: str) -> Figure:
        return Figure(row.get(f"{name}_n") or 0, quantize(row.get(f"{name}_v") or ZERO))

    funds = funds_by_program(program.pk for program in programs)
    lines = []
    for program in programs:
        row = figures.get(program.pk, {})
        lines.append(
            ProgramLine(
                program=program,
                funds=funds.get(program.pk, ZERO),
                issued=figure(row, "issued"),
                redeemed=figure(row, "redeemed"),
                outstanding=figure(row, "outstanding"),
            )
        )

    def total(name: str) -> Figure:
        figures_ = [getattr(line, name) for line in lines]
        return Figure(
            sum(f.count for f in figures_), quantize(sum((f.value for f in figures_), ZERO))
        )

    return NetworkOverview(
        lines=lines,
        funds=quantize(sum((line.funds for line in lines), ZERO)),
        issued=total("issued"),
        redeemed=total("redeemed"),
        outstanding=total("outstanding"),
    )
