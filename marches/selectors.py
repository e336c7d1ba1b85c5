"""Reads of the markets app, always scoped to the requesting user (docs/architecture.md)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from marches.models import Device, Market, MarketDay, Redemption, Vendor
from marches.redemptions import UNDO_WINDOW
from programmes.models import ProductCategory, Program
from programmes.money import ZERO, quantize

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

    AnyUser = User | AnonymousUser


# Scopes ----------------------------------------------------------------------------------------


def _is_admin(user: AnyUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_network_admin", False))


def coordinated_programs(user: AnyUser) -> QuerySet[Program]:
    """The programs whose markets `user` may set up: all for a network admin."""
    if _is_admin(user):
        return Program.objects.all()
    if not user.is_authenticated:
        return Program.objects.none()
    return Program.objects.filter(coordinators=user)


def markets_for(user: AnyUser) -> QuerySet[Market]:
    """Markets accepting the user's programs (coordinator) and the markets they manage."""
    if _is_admin(user):
        return Market.objects.all()
    if not user.is_authenticated:
        return Market.objects.none()
    ids = Market.objects.filter(Q(programs__coordinators=user) | Q(managers=user)).values("pk")
    return Market.objects.filter(pk__in=ids)


def vendors_for(user: AnyUser) -> QuerySet[Vendor]:
    """Vendors at the user's markets (coordinator, manager) and the vendors they belong to."""
    if _is_admin(user):
        return Vendor.objects.all()
    if not user.is_authenticated:
        return Vendor.objects.none()
    ids = Vendor.objects.filter(
        Q(markets__programs__coordinators=user) | Q(markets__managers=user) | Q(members=user)
    ).values("pk")
    return Vendor.objects.filter(pk__in=ids)


def editable_vendors(user: AnyUser) -> QuerySet[Vendor]:
    """Vendors whose business details `user` may change: those selling at a market they manage
    or that accepts a program they coordinate (all for a network admin). Working for a vendor
    is not enough: its markets and products are what the markets and programs vouch for."""
    if _is_admin(user):
        return Vendor.objects.all()
    if not user.is_authenticated:
        return Vendor.objects.none()
    ids = Vendor.objects.filter(
        Q(markets__programs__coordinators=user) | Q(markets__managers=user)
    ).values("pk")
    return Vendor.objects.filter(pk__in=ids)


def assignable_markets(user: AnyUser) -> QuerySet[Market]:
    """The markets `user` may add a vendor to or take it from: those they see (manage, or whose
    programs they coordinate), as for adding a new vendor on the market's page."""
    return markets_for(user).order_by("name", "city", "pk")


def invitable_markets(user: AnyUser) -> QuerySet[Market]:
    """Where `user` may invite market managers: all (admin); the markets they manage; for a
    coordinator, the markets that accept their programs and no one else's.

    Seeing a market is not owning it: a coordinator whose program a shared market accepts must
    not become its manager by inviting themselves (they would see the other programs' money).
    """
    if _is_admin(user):
        return Market.objects.all()
    if not user.is_authenticated:
        return Market.objects.none()
    return Market.objects.filter(pk__in=_invitable_market_ids(user.pk))


def invitable_vendors(user: AnyUser) -> QuerySet[Vendor]:
    """Where `user` may invite vendor staff: all (admin); the vendors they belong to; vendors
    that sell only at markets the user may invite managers into."""
    if _is_admin(user):
        return Vendor.objects.all()
    if not user.is_authenticated:
        return Vendor.objects.none()
    markets = _invitable_market_ids(user.pk)
    # Every (vendor, market) pair of the vendors selling at one of those markets.
    pairs = Vendor.markets.through.objects.filter(vendor__markets__in=markets).values_list(
        "vendor_id", "market_id"
    )
    elsewhere = {vendor for vendor, market in pairs if market not in markets}
    only_here = {vendor for vendor, _market in pairs} - elsewhere
    return Vendor.objects.filter(Q(pk__in=only_here) | Q(members=user)).distinct()


def _invitable_market_ids(user: int) -> set[int]:
    """The markets `user` manages, and those accepting only programs they coordinate."""
    accepted = Market.programs.through.objects.filter(
        market__programs__coordinators=user
    ).values_list("market_id", "program_id")
    mine = set(Program.objects.filter(coordinators=user).values_list("pk", flat=True))
    shared = {market for market, program in accepted if program not in mine}
    coordinated_only = {market for market, _program in accepted} - shared
    managed = set(Market.objects.filter(managers=user).values_list("pk", flat=True))
    return coordinated_only | managed


def scanning_vendors_for(user: AnyUser) -> QuerySet[Vendor]:
    """Vendors for whom `user` may scan coupons on the web scanner: members and admins only."""
    if _is_admin(user):
        return Vendor.objects.all()
    if not user.is_authenticated:
        return Vendor.objects.none()
    return Vendor.objects.filter(members=user)


def devices_for(user: AnyUser) -> QuerySet[Device]:
    """Devices the user may see: their vendors', those at their markets or their programs'."""
    base = Device.objects.select_related("vendor", "market", "created_by")
    if _is_admin(user):
        return base.all()
    if not user.is_authenticated:
        return base.none()
    ids = Device.objects.filter(
        Q(vendor__members=user) | Q(market__managers=user) | Q(market__programs__coordinators=user)
    ).values("pk")
    return base.filter(pk__in=ids)


def manageable_devices(user: AnyUser) -> QuerySet[Device]:
    """Devices the user may revoke: their vendors' and those at the markets they manage."""
    base = Device.objects.select_related("vendor", "market")
    if _is_admin(user):
        return base.all()
    if not user.is_authenticated:
        return base.none()
    ids = Device.objects.filter(Q(vendor__members=user) | Q(market__managers=user)).values("pk")
    return base.filter(pk__in=ids)


def device_markets_for(user: AnyUser, vendor: Vendor) -> QuerySet[Market]:
    """The markets where `user` may create a device for `vendor` (empty: they cannot)."""
    markets = vendor.markets.all()
    if _is_admin(user) or vendor.members.filter(pk=user.pk).exists():
        return markets
    if not user.is_authenticated:
        return Market.objects.none()
    return markets.filter(managers=user)


def redemptions_for(user: AnyUser) -> QuerySet[Redemption]:
    """Redemptions of the user's programs' coupons, at their markets, or by their vendors."""
    base = Redemption.objects.select_related("coupon", "vendor", "market", "category")
    if _is_admin(user):
        return base.all()
    if not user.is_authenticated:
        return base.none()
    ids = Redemption.objects.filter(
        Q(program__coordinators=user) | Q(market__managers=user) | Q(vendor__members=user)
    ).values("pk")
    return base.filter(pk__in=ids)


def market_categories(market: Market) -> QuerySet[ProductCategory]:
    """The product categories eligible in at least one program accepted at `market`."""
    ids = ProductCategory.objects.filter(programs__markets=market).values("pk")
    return ProductCategory.objects.filter(pk__in=ids)


# Periods and totals ----------------------------------------------------------------------------


def day_bounds(
    start: datetime.date, end: datetime.date | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """The aware instants [start 00:00, day after `end` 00:00) in the current time zone."""
    end = end or start
    first = timezone.make_aware(datetime.datetime.combine(start, datetime.time.min))
    after = timezone.make_aware(
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min)
    )
    return first, after


@dataclass(frozen=True)
class Total:
    label: str
    count: int
    value: Decimal
    slug: str = ""


@dataclass(frozen=True)
class VendorDay:
    vendor: Vendor
    date: datetime.date
    redemptions: QuerySet[Redemption]  # lazy: the view paginates it
    count: int
    value: Decimal
    by_category: list[Total]


@dataclass(frozen=True)
class MarketPeriod:
    market: Market
    start: datetime.date
    end: datetime.date
    redemptions: QuerySet[Redemption]  # lazy: the view paginates it
    count: int
    value: Decimal
    by_vendor: list[Total]


def _category_label(name_fr: str | None, name_en: str | None) -> str:
    if name_fr is None:
        return _("Sans catégorie")
    return ProductCategory.name_in_language(name_fr, name_en)


def _in_period(
    queryset: QuerySet[Redemption], start: datetime.date, end: datetime.date
) -> QuerySet[Redemption]:
    first, after = day_bounds(start, end)
    return queryset.filter(
        status=Redemption.Status.ACCEPTED, scanned_at__gte=first, scanned_at__lt=after
    )


def vendor_day(
    vendor: Vendor,
    date: datetime.date,
    *,
    market: Market | None = None,
    user: AnyUser | None = None,
) -> VendorDay:
    """The vendor's redemptions of `date` (at `market` if given; only those `user` may see),
    with their count, value and totals by product category: three queries whatever the size."""
    base = redemptions_for(user) if user is not None else Redemption.objects.all()
    redemptions = _in_period(base.filter(vendor=vendor), date, date)
    if market is not None:
        redemptions = redemptions.filter(market=market)
    totals = redemptions.aggregate(count=Count("pk"), value=Sum("value"))
    rows = (
        redemptions.order_by()
        .values("category__slug", "category__name_fr", "category__name_en")
        .annotate(count=Count("pk"), value=Sum("value"))
        .order_by(F("category__name_fr").asc(nulls_last=True))
    )
    by_category = [
        Total(
            label=_category_label(row["category__name_fr"], row["category__name_en"]),
            count=row["count"],
            value=quantize(row["value"] or ZERO),
            slug=row["category__slug"] or "",
        )
        for row in rows
    ]
    return VendorDay(
        vendor=vendor,
        date=date,
        redemptions=redemptions.select_related("coupon", "market", "category").order_by(
            "-scanned_at", "-pk"
        ),
        count=totals["count"] or 0,
        value=quantize(totals["value"] or ZERO),
        by_category=by_category,
    )


def market_redemptions(
    market: Market,
    start: datetime.date,
    end: datetime.date,
    *,
    user: AnyUser | None = None,
) -> MarketPeriod:
    """Redemptions at `market` from `start` to `end` (inclusive; only those `user` may see),
    with the grand total and the totals per vendor: three queries whatever the size."""
    base = redemptions_for(user) if user is not None else Redemption.objects.all()
    redemptions = _in_period(base.filter(market=market), start, end)
    totals = redemptions.aggregate(count=Count("pk"), value=Sum("value"))
    rows = (
        redemptions.order_by()
        .values("vendor__slug", "vendor__name")
        .annotate(count=Count("pk"), value=Sum("value"))
        .order_by("vendor__name")
    )
    by_vendor = [
        Total(
            label=row["vendor__name"],
            count=row["count"],
            value=quantize(row["value"] or ZERO),
            slug=row["vendor__slug"],
        )
        for row in rows
    ]
    return MarketPeriod(
        market=market,
        start=start,
        end=end,
        redemptions=redemptions.select_related("coupon", "vendor", "category").order_by(
            "-scanned_at", "-pk"
        ),
        count=totals["count"] or 0,
        value=quantize(totals["value"] or ZERO),
        by_vendor=by_vendor,
    )


def program_markets(program: Program) -> QuerySet[Market]:
    """The markets accepting `program`'s coupons, with their number of vendors."""
    return program.markets.annotate(vendor_count=Count("vendors", distinct=True)).order_by(
        "name", "pk"
    )


def addable_markets(program: Program) -> QuerySet[Market]:
    """Existing markets that do not accept `program` yet (a market is public information)."""
    return Market.objects.exclude(programs=program).order_by("name", "city")


def market_vendors(market: Market) -> QuerySet[Vendor]:
    return market.vendors.prefetch_related("categories").order_by("name", "pk")


def local_currency_programs(markets: Iterable[Market]) -> QuerySet[Program]:
    """The programs accepted at `markets` that name a local currency (a vendor there may then be
    reimbursed in it)."""
    ids = Program.objects.filter(markets__in=list(markets)).exclude(local_currency="").values("pk")
    return Program.objects.filter(pk__in=ids).order_by("name", "pk")


# Market days -----------------------------------------------------------------------------------


def market_days(market: Market, *, since: datetime.date | None = None) -> QuerySet[MarketDay]:
    """The market's days in date order (from `since` on, when given)."""
    days = MarketDay.objects.filter(market=market)
    if since is not None:
        days = days.filter(date__gte=since)
    return days.order_by("date", "pk")


def market_days_with_redemptions(
    market: Market, dates: Iterable[datetime.date]
) -> set[datetime.date]:
    """Which of `dates` had coupons redeemed at `market` (such days cannot be removed): one
    query, grouped by local day in the database."""
    wanted = set(dates)
    if not wanted:
        return set()
    first, after = day_bounds(min(wanted), max(wanted))
    days = (
        Redemption.objects.filter(market=market, scanned_at__gte=first, scanned_at__lt=after)
        .annotate(day=TruncDate("scanned_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day", flat=True)
        .order_by()
        .distinct()
    )
    return set(days) & wanted


# The vendor's day: undo and conflicts ----------------------------------------------------------

# What a vendor's scan in review became (a redemption made offline, or one whose coupon was
# voided after the scan).
CONFLICT_STATUSES = (
    Redemption.Status.CONFLICT,
    Redemption.Status.HONOURED,
    Redemption.Status.REFUSED,
)


def vendor_scans(vendor: Vendor, date: datetime.date, *, user: AnyUser) -> QuerySet[Redemption]:
    """Every scan the vendor recorded on `date` that `user` may see, whatever became of it
    (accepted, undone, in review…), newest first."""
    first, after = day_bounds(date)
    return (
        redemptions_for(user)
        .filter(vendor=vendor, scanned_at__gte=first, scanned_at__lt=after)
        .select_related("coupon", "market", "category")
        .order_by("-scanned_at", "-pk")
    )


def undoable_redemption_ids(
    vendor: Vendor, *, user: AnyUser, now: datetime.datetime | None = None
) -> set[int]:
    """The vendor's redemptions that `user` may undo now: accepted less than UNDO_WINDOW ago,
    not on a statement, and `user` scans for the vendor (its members, network admins)."""
    if not scanning_vendors_for(user).filter(pk=vendor.pk).exists():
        return set()
    since = (now or timezone.now()) - UNDO_WINDOW
    return set(
        Redemption.objects.filter(
            vendor=vendor,
            status=Redemption.Status.ACCEPTED,
            statement__isnull=True,
            recorded_at__gte=since,
        ).values_list("pk", flat=True)
    )


def vendor_conflicts(vendor: Vendor, *, user: AnyUser) -> QuerySet[Redemption]:
    """The vendor's scans that went to review and their outcome, newest first."""
    return (
        redemptions_for(user)
        .filter(vendor=vendor, status__in=CONFLICT_STATUSES)
        .select_related("coupon", "market")
        .order_by("-scanned_at", "-pk")
    )


def program_conflicts(program: Program) -> QuerySet[Redemption]:
    """The program's scans awaiting a decision, oldest first."""
    return (
        Redemption.objects.filter(program=program, status=Redemption.Status.CONFLICT)
        .select_related("coupon", "vendor", "market", "device")
        .order_by("scanned_at", "pk")
    )


def program_decided_conflicts(program: Program) -> QuerySet[Redemption]:
    """The program's scans in review that were decided, latest decision first."""
    return (
        Redemption.objects.filter(
            program=program,
            status__in=[Redemption.Status.HONOURED, Redemption.Status.REFUSED],
        )
        .select_related("coupon", "vendor", "market", "decided_by")
        .order_by("-decided_at", "-pk")
    )


def accepted_scans(coupon_ids: Iterable[int]) -> dict[int, Redemption]:
    """The accepted redemption of each of these coupons that has one, by coupon id."""
    return {
        redemption.coupon_id: redemption
        for redemption in Redemption.objects.filter(
            coupon_id__in=list(coupon_ids), status=Redemption.Status.ACCEPTED
        ).select_related("vendor", "market")
    }
