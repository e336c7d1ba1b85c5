"""A season for the reports: money in, coupons issued, spent, voided, expired, double scans
decided, vendors paid; and a quick way to make many redemptions for the query-count tests."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from beneficiaires.models import Household, Organization
from comptes.models import User
from coupons import codes
from coupons.models import Coupon, IssuanceBatch
from coupons.services import (
    BearerRequest,
    issue_bearer_batch,
    issue_household_allotment,
    void_coupons,
)
from financement.models import Donation, Funder, LedgerEntry
from financement.services import record_contribution, record_entry
from marches.models import Market, Redemption, Vendor
from marches.redemptions import decide_conflict, redeem_coupon, undo_redemption
from marches.statements import approve_statement, create_statement, mark_statement_paid
from programmes.models import ProductCategory, Program, Territory
from tests import factories as f

D = Decimal


def scan(
    coupon: Coupon,
    vendor: Vendor,
    market: Market,
    *,
    days_ago: int = 0,
    category: ProductCategory | None = None,
    offline: bool = False,
    expect: str = "accepted",
) -> Redemption:
    """Redeem `coupon` as a scanner would, `days_ago` days back (at noon, local time)."""
    noon = timezone.make_aware(
        datetime.datetime.combine(
            timezone.localdate() - datetime.timedelta(days=days_ago), datetime.time(12)
        )
    )
    at = min(noon, timezone.now())
    verdict = redeem_coupon(
        code=coupon.code,
        vendor=vendor,
        market=market,
        client_id=uuid.uuid4(),
        category=category,
        scanned_at=at,
        offline=offline,
    )
    assert verdict.status == expect, verdict.reason
    assert verdict.redemption is not None
    return verdict.redemption


def allotment(household: Household, by: User) -> list[Coupon]:
    batch = issue_household_allotment(
        household=household, issued_by=by, idempotency_key=uuid.uuid4()
    )
    return list(batch.coupons.order_by("serial"))


@dataclass
class Season:
    today: datetime.date  # the day the reports are read: two days after the last scans
    portneuf: Territory
    mitis: Territory
    a: Program  # busy, in Portneuf
    b: Program  # a little movement, in La Mitis
    c: Program  # funded, nothing else yet, in Portneuf
    coordinator: User
    fruits: ProductCategory
    eggs: ProductCategory
    # Made by the factories (typed as factories by their stubs).
    markets: dict[str, Any] = field(default_factory=dict)
    vendors: dict[str, Any] = field(default_factory=dict)
    households: dict[str, Any] = field(default_factory=dict)

    @property
    def programs(self) -> list[Program]:
        return [self.a, self.b, self.c]


def _program(name: str, slug: str, territory: Territory, start: datetime.date) -> Program:
    return f.ProgramFactory(
        name=name,
        slug=slug,
        territory=territory,
        season_start=start,
        season_end=start + datetime.timedelta(days=70),
        budget=D("0.00"),
    )


@pytest.fixture
def season(db: Any) -> Season:
    """Three programs over five weeks.

    a: three contributions from two funders, an online donation partly refunded, a sale
    payment; six households reached (sizes 1, 2, 3, 5 and 6, one of them with every coupon
    voided, so not reached) and one never issued anything; a bearer batch that expires the day
    before the report; scans over five weeks, at two markets, by three vendors, in two
    categories and none; one scan undone; a double scan honoured, one refused; a statement paid,
    one approved only, the rest on none. b: a contribution, one household, scans at a market
    it shares with a. c: a contribution only.
    """
    today = timezone.localdate()
    start = today - datetime.timedelta(days=35)
    portneuf = f.TerritoryFactory(name="Portneuf")
    mitis = f.TerritoryFactory(name="La Mitis")
    a = _program("Programme Portneuf", "portneuf", portneuf, start)
    b = _program("Programme La Mitis", "mitis", mitis, start)
    c = _program("Programme Portneuf jeunesse", "portneuf-jeunesse", portneuf, start)
    fruits = f.CategoryFactory()
    eggs = f.CategoryFactory(slug="oeufs", name_fr="Œufs", name_en="Eggs")
    for program in (a, b, c):
        program.categories.add(eggs)
    coordinator = f.UserFactory(email="coordination@example.org")
    for program in (a, b, c):
        program.coordinators.add(coordinator)
    s = Season(
        today=today + datetime.timedelta(days=2),
        portneuf=portneuf,
        mitis=mitis,
        a=a,
        b=b,
        c=c,
        coordinator=coordinator,
        fruits=fruits,
        eggs=eggs,
    )

    # Money in.
    fondation = Funder.objects.create(name="Fondation Lucie", kind=Funder.Kind.FOUNDATION)
    ministere = Funder.objects.create(name="Ministère de l'Agriculture", kind="government")
    received = start - datetime.timedelta(days=1)
    for program, funder, value in (
        (a, fondation, "3000.00"),
        (a, ministere, "2000.00"),
        (a, fondation, "500.00"),
        (b, ministere, "1500.00"),
        (c, fondation, "800.00"),
    ):
        record_contribution(
            program=program, funder=funder, amount=D(value), received_on=received, recorded_by=None
        )
    donation = Donation.objects.create(
        program=a,
        amount=D("50.00"),
        donor_name="Dominique Roy",
        donor_email="dominique@example.org",
        status=Donation.Status.PAID,
    )
    record_entry(
        program=a, kind=LedgerEntry.Kind.DONATION, amount=D("50.00"), donation_id=donation.pk
    )
    record_entry(
        program=a, kind=LedgerEntry.Kind.REFUND, amount=D("-20.00"), donation_id=donation.pk
    )
    record_entry(program=a, kind=LedgerEntry.Kind.SALE, amount=D("20.00"), source="sale:1")

    # Markets and vendors: M2 takes both a and b.
    m1 = f.MarketFactory(name="Marché de Saint-Casimir", slug="saint-casimir", program=a)
    m2 = f.MarketFactory(name="Marché de Deschambault", slug="deschambault", program=a)
    m2.programs.add(b)
    m3 = f.MarketFactory(name="Marché de Sainte-Flavie", slug="sainte-flavie", program=b)
    v1 = f.VendorFactory(name="Ferme du Rang", slug="ferme-du-rang", market=m1)
    v2 = f.VendorFactory(name="Jardins Boréals", slug="jardins-boreals", market=m1)
    v2.markets.add(m2)
    v3 = f.VendorFactory(name="Vergers de la Mer", slug="vergers-mer", market=m3)
    s.markets = {"m1": m1, "m2": m2, "m3": m3}
    s.vendors = {"v1": v1, "v2": v2, "v3": v3}

    # Households of a (one organization) and b.
    organization = f.OrganizationFactory(name="Entraide Portneuf", slug="entraide", program=a)
    organization_b = f.OrganizationFactory(name="Entraide Mitis", slug="entraide-b", program=b)
    for key, program, org, adults, children in (
        ("h1", a, organization, 1, 0),
        ("h2", a, organization, 1, 1),
        ("h3", a, organization, 2, 1),
        ("h5", a, organization, 2, 3),
        ("h6", a, organization, 4, 2),
        ("voided", a, organization, 1, 0),
        ("never", a, organization, 2, 0),
        ("b1", b, organization_b, 1, 2),
    ):
        household = f.HouseholdFactory(
            program=program,
            organization=org,
            adults=adults,
            children=children,
            enrolled_by=coordinator,
        )
        s.households[key] = household
    h = {key: allotment(s.households[key], coordinator) for key in s.households if key != "never"}

    bearer = issue_bearer_batch(
        request=BearerRequest(
            program=a,
            organization=organization,
            counts={D("5.00"): 4, D("2.00"): 3},
            valid_from=start,
            valid_until=today + datetime.timedelta(days=1),
        ),
        issued_by=coordinator,
        idempotency_key=uuid.uuid4(),
    )
    bearer_coupons = list(bearer.coupons.order_by("serial"))

    # Voids: every coupon of one household, and one coupon of h6.
    void_coupons(coupons=h["voided"], reason="lost", voided_by=coordinator)
    void_coupons(coupons=h["h6"][-1:], reason="damaged", voided_by=coordinator)

    # Scans. h1: four different weeks; h2: twice the same week; h3: two weeks.
    for coupon, days_ago in zip(h["h1"], (34, 27, 20, 13), strict=False):
        scan(coupon, v1, m1, days_ago=days_ago, category=fruits)
    scan(h["h2"][0], v1, m1, days_ago=20, category=eggs)
    scan(h["h2"][1], v2, m1, days_ago=20)
    scan(h["h3"][0], v2, m2, days_ago=13, category=fruits)
    honoured = scan(h["h3"][1], v1, m1, days_ago=6, category=fruits)
    scan(h["h5"][0], v2, m2, days_ago=6, category=eggs)
    scan(bearer_coupons[0], v2, m2, days_ago=6)
    scan(bearer_coupons[1], v1, m1, days_ago=6, category=fruits)
    # A mistaken scan, undone at once: the coupon is spendable again.
    undone = scan(h["h6"][0], v2, m1, days_ago=0)
    undo_redemption(redemption=undone, undone_by=coordinator)
    # Double scans made offline after the accepted ones: one honoured, one refused.
    second = scan(h["h3"][1], v2, m2, days_ago=5, offline=True, expect="conflict")
    decide_conflict(redemption=second, honour=True, reason="Bonne foi", decided_by=coordinator)
    refused = scan(h["h1"][3], v2, m1, days_ago=12, offline=True, expect="conflict")
    decide_conflict(redemption=refused, honour=False, reason="Déjà payé", decided_by=coordinator)
    assert honoured.status == Redemption.Status.ACCEPTED
    # b: its household spends at the market shared with a, and at its own.
    scan(h["b1"][0], v2, m2, days_ago=20, category=fruits)
    scan(h["b1"][1], v3, m3, days_ago=6)

    # Statements: v1 for a, until ten days ago, paid; v2 for a, approved only.
    paid = create_statement(
        vendor=v1,
        program=a,
        period_start=start,
        period_end=today - datetime.timedelta(days=10),
        created_by=coordinator,
    )
    approve_statement(statement=paid, approved_by=coordinator)
    mark_statement_paid(statement=paid, reference="VIR-0001", paid_by=coordinator)
    approved = create_statement(
        vendor=v2, program=a, period_start=start, period_end=today, created_by=coordinator
    )
    approve_statement(statement=approved, approved_by=coordinator)
    return s


# Many redemptions, quickly (for the query counts) ---------------------------------------------


BulkMaker = Callable[..., list[Redemption]]


@pytest.fixture
def make_redemptions(db: Any) -> BulkMaker:
    """`make(program, n)`: n households of sizes 1 to 7, one coupon each, each redeemed at one
    of three markets by one of three vendors over the last seven days, in a category or none.
    Rows are written in bulk: only the reports' queries matter here."""

    def make(program: Program, n: int) -> list[Redemption]:
        # Unique to this call: the same program may be given more than once.
        run = uuid.uuid4().hex[:8]
        organization = Organization.objects.create(name=f"Organisme {run}", slug=f"org-{run}")
        by = f.UserFactory()
        markets = [f.MarketFactory(slug=f"m{i}-{run}", program=program) for i in range(3)]
        vendors = [f.VendorFactory(slug=f"v{i}-{run}", market=markets[i]) for i in range(3)]
        category = f.CategoryFactory()
        households = Household.objects.bulk_create(
            Household(
                program=program,
                organization=organization,
                reference=f"{run}-{i}",
                adults=1 + i % 3,
                children=i % 5,
                postal_code="G0A 1A0",
                enrolled_by=by,
            )
            for i in range(n)
        )
        batch = IssuanceBatch.objects.create(
            program=program,
            organization=organization,
            issued_by=by,
            idempotency_key=uuid.uuid4(),
            coupon_count=n,
            total_value=D("5.00") * n,
        )
        now = timezone.now()
        coupons = Coupon.objects.bulk_create(
            Coupon(
                program=program,
                batch=batch,
                household=households[i],
                serial=f"{run}-{i:05d}",
                code=codes.generate_code(),
                value=D("5.00"),
                valid_from=program.season_start,
                valid_until=program.season_end,
                status=Coupon.Status.REDEEMED,
                redeemed_at=now,
            )
            for i in range(n)
        )
        return Redemption.objects.bulk_create(
            Redemption(
                coupon=coupon,
                program=program,
                vendor=vendors[i % 3],
                market=markets[i % 3],
                category=category if i % 2 else None,
                client_id=uuid.uuid4(),
                value=coupon.value,
                scanned_at=now - datetime.timedelta(days=i % 7),
            )
            for i, coupon in enumerate(coupons)
        )

    return make
