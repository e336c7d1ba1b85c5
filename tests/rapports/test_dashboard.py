"""The program dashboard and the network overview: figures, rows, scope and query counts."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comptes.models import User
from comptes.registry import workspaces_for
from coupons.models import Coupon
from coupons.selectors import Figure
from coupons.services import issue_household_allotment
from marches.models import Market, Vendor
from marches.redemptions import redeem_coupon
from programmes.money import format_money
from rapports import selectors
from tests import factories as f

pytestmark = pytest.mark.django_db


def dashboard_url(program: Any) -> str:
    return reverse("rapports:program_dashboard", args=[program.slug])


def issue(household: Any, by: Any) -> list[Coupon]:
    batch = issue_household_allotment(
        household=household, issued_by=by, idempotency_key=uuid.uuid4()
    )
    return list(batch.coupons.order_by("serial"))


def redeem(coupon: Coupon, vendor: Vendor, market: Market) -> None:
    verdict = redeem_coupon(code=coupon.code, vendor=vendor, market=market, client_id=uuid.uuid4())
    assert verdict.status == "accepted", verdict.reason


@pytest.fixture
def busy(world: Any) -> Any:
    """Program a: 4 coupons of $5 issued to its household, 2 redeemed at its market, 1 more
    coupon expired unused; a second market and vendor with no redemption, a second partner
    organization with no household. Program b has movement of its own that must not show."""
    a = world.a
    a.market2 = f.MarketFactory(name="Marché Zéro", slug="marche-zero", program=a.program)
    a.vendor2 = f.VendorFactory(name="Abeilles Zéro", slug="abeilles-zero", market=a.market2)
    a.organization2 = f.OrganizationFactory(
        name="Organisme Zéro", slug="organisme-zero", program=a.program
    )
    coupons = issue(a.household, a.intervenant)  # household of 2: $20 as 4 × $5
    redeem(coupons[0], a.vendor, a.market)
    redeem(coupons[1], a.vendor, a.market)
    today = timezone.localdate()
    f.CouponFactory(
        program=a.program,
        batch=f.BatchFactory(program=a.program, organization=a.organization),
        valid_from=today - datetime.timedelta(days=10),
        valid_until=today - datetime.timedelta(days=1),
    )
    b_coupons = issue(world.b.household, world.b.intervenant)
    redeem(b_coupons[0], world.b.vendor, world.b.market)
    return world


# Figures ---------------------------------------------------------------------------------------


def test_totals_follow_issuance_and_redemptions(busy: Any) -> None:
    dashboard = selectors.program_dashboard(busy.a.program)

    totals = dashboard.totals
    assert totals.issued == Figure(5, Decimal("25.00"))
    assert totals.redeemed == Figure(2, Decimal("10.00"))
    assert totals.outstanding == Figure(2, Decimal("10.00"))
    assert totals.expired == Figure(1, Decimal("5.00"))
    assert dashboard.funds == Decimal("10000.00")
    # Funds minus what coupons still hold or have spent; the expired coupon frees its $5.
    assert dashboard.available == Decimal("9980.00")


def test_rows_per_market_per_vendor_and_per_organization(busy: Any) -> None:
    a = busy.a
    dashboard = selectors.program_dashboard(a.program)

    assert [(r.slug, r.count, r.value) for r in dashboard.by_market] == [
        ("marche-a", 2, Decimal("10.00")),
        ("marche-zero", 0, Decimal("0.00")),
    ]
    assert [(r.slug, r.market_slug, r.count, r.value) for r in dashboard.by_vendor] == [
        ("abeilles-zero", "marche-zero", 0, Decimal("0.00")),
        ("ferme-a", "marche-a", 2, Decimal("10.00")),
    ]
    assert [(r.slug, r.households) for r in dashboard.by_organization] == [
        ("organisme-a", 1),
        ("organisme-zero", 0),
    ]
    assert dashboard.households == 1
    assert (dashboard.redemption_count, dashboard.redemption_value) == (2, Decimal("10.00"))


def test_a_vendor_at_two_markets_gets_a_row_per_market(busy: Any) -> None:
    a = busy.a
    a.vendor.markets.add(a.market2)
    coupon = Coupon.objects.filter(program=a.program, status="issued").order_by("serial")[0]
    redeem(coupon, a.vendor, a.market2)

    rows = selectors.program_dashboard(a.program).by_vendor

    assert [(r.slug, r.market_slug, r.count) for r in rows] == [
        ("abeilles-zero", "marche-zero", 0),
        ("ferme-a", "marche-a", 2),
        ("ferme-a", "marche-zero", 1),
    ]


def test_a_market_that_stopped_accepting_the_program_keeps_its_redemptions(busy: Any) -> None:
    busy.a.market.programs.remove(busy.a.program)

    rows = selectors.program_dashboard(busy.a.program).by_market

    assert [(r.slug, r.count) for r in rows] == [("marche-a", 2), ("marche-zero", 0)]


def test_the_page_shows_the_figures_the_rows_and_the_links(client: Client, busy: Any) -> None:
    a = busy.a
    client.force_login(a.coordinator)

    response = client.get(dashboard_url(a.program))

    assert response.status_code == 200
    html = response.content.decode()
    assert a.program.name in html
    assert str(a.program.territory) in html
    for amount in ["10000.00", "25.00", "10.00", "5.00", "9980.00"]:
        assert format_money(Decimal(amount)) in html
    assert 'data-market="marche-zero"' in html
    assert 'data-vendor="abeilles-zero" data-market="marche-zero"' in html
    assert 'data-organization="organisme-zero"' in html
    assert "Marché b" not in html
    assert f'href="{reverse("programmes:program_edit", args=[a.program.slug])}"' in html
    assert f'href="{reverse("beneficiaires:program_partners", args=[a.program.slug])}"' in html
    assert f'href="{reverse("marches:program_markets", args=[a.program.slug])}"' in html
    invite = f"/invitations/nouvelle/?role=coordinator&amp;scope={a.program.pk}"
    assert f'href="{invite}"' in html


def test_an_empty_program_shows_empty_states(client: Client, world: Any) -> None:
    program = f.ProgramFactory(name="Programme vide", slug="programme-vide")
    client.force_login(world.admin)

    response = client.get(dashboard_url(program))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Aucun marché n'accepte encore les coupons de ce programme." in html
    assert "Aucun organisme partenaire" in html
    assert format_money(Decimal("10000.00")) in html


def test_the_page_is_in_english_when_asked(client: Client, busy: Any) -> None:
    client.force_login(busy.a.coordinator)
    client.cookies["django_language"] = "en"

    response = client.get(dashboard_url(busy.a.program))

    assert response.status_code == 200
    assert "$9,980.00" in response.content.decode()


# Scope -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["coordinator_b", "intervenant", "market_manager", "vendor", "nobody"]
)
def test_only_its_coordinators_and_admins_see_a_dashboard(
    client: Client, world: Any, who: str
) -> None:
    user = {
        "coordinator_b": world.b.coordinator,
        "nobody": world.nobody,
        **world.a.users(),
    }[who]
    client.force_login(user)

    assert client.get(dashboard_url(world.a.program)).status_code == 404


@pytest.mark.parametrize("who", ["coordinator", "admin"])
def test_coordinators_and_admins_see_the_dashboard(client: Client, world: Any, who: str) -> None:
    client.force_login(world.admin if who == "admin" else world.a.coordinator)

    assert client.get(dashboard_url(world.a.program)).status_code == 200


def test_an_unknown_program_is_a_404_and_a_visitor_is_sent_to_log_in(
    client: Client, world: Any
) -> None:
    assert client.get(dashboard_url(world.a.program)).status_code == 302
    client.force_login(world.admin)
    assert client.get("/programmes/nexiste-pas/").status_code == 404


def test_the_dashboard_only_reads(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    assert client.post(dashboard_url(world.a.program)).status_code == 405


# Query count -----------------------------------------------------------------------------------


def _grow(world: Any, markets: int, vendors_per_market: int, households: int) -> None:
    """More markets, vendors, households and redemptions in program a."""
    a = world.a
    for _m in range(markets):
        market = f.MarketFactory(program=a.program)
        for _v in range(vendors_per_market):
            f.VendorFactory(market=market)
    vendors = list(Vendor.objects.filter(markets__programs=a.program).prefetch_related("markets"))
    for h in range(households):
        household = f.HouseholdFactory(
            program=a.program, organization=a.organization, enrolled_by=a.intervenant
        )
        for i, coupon in enumerate(issue(household, a.intervenant)):
            vendor = vendors[(h + i) % len(vendors)]
            redeem(coupon, vendor, vendor.markets.all()[0])


def test_the_number_of_queries_does_not_grow_with_the_program(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.a.coordinator)
    _grow(world, markets=0, vendors_per_market=0, households=1)
    url = dashboard_url(world.a.program)
    client.get(url)  # warm the session and the caches
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200

    _grow(world, markets=5, vendors_per_market=3, households=8)
    assert selectors.program_dashboard(world.a.program).redemption_count > 30

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_the_dashboard_takes_seven_queries(world: Any, django_assert_num_queries: Any) -> None:
    _grow(world, markets=3, vendors_per_market=2, households=3)
    program = world.a.program

    # The funds (the ledger's sum); coupon totals; organizations; markets; redemptions by
    # market; vendors at the markets; redemptions by vendor and market.
    with django_assert_num_queries(7):
        selectors.program_dashboard(program)


# The network overview --------------------------------------------------------------------------


def test_the_network_overview_shows_every_program(client: Client, busy: Any) -> None:
    client.force_login(busy.admin)

    response = client.get(reverse("rapports:network"))

    assert response.status_code == 200
    overview = response.context["overview"]
    lines = {line.program.slug: line for line in overview.lines}
    assert set(lines) == {"programme-a", "programme-b"}
    assert lines["programme-a"].issued == Figure(5, Decimal("25.00"))
    assert lines["programme-a"].redeemed == Figure(2, Decimal("10.00"))
    assert lines["programme-a"].outstanding == Figure(2, Decimal("10.00"))
    assert lines["programme-b"].issued == Figure(4, Decimal("20.00"))
    assert lines["programme-b"].redeemed == Figure(1, Decimal("5.00"))
    assert overview.funds == Decimal("20000.00")
    assert overview.redeemed == Figure(3, Decimal("15.00"))
    assert overview.outstanding == Figure(5, Decimal("25.00"))
    html = response.content.decode()
    assert f'href="{dashboard_url(busy.a.program)}"' in html
    assert f'href="{dashboard_url(busy.b.program)}"' in html


def test_the_network_overview_takes_three_queries(
    busy: Any, django_assert_num_queries: Any
) -> None:
    # The programs; their coupons grouped by program; their funds grouped by program.
    with django_assert_num_queries(3):
        selectors.network_overview(selectors.network_programs(busy.admin))


@pytest.mark.parametrize("who", ["coordinator", "intervenant", "market_manager", "vendor"])
def test_the_network_overview_is_for_network_admins_only(
    client: Client, world: Any, who: str
) -> None:
    client.force_login(world.a.users()[who])

    assert client.get(reverse("rapports:network")).status_code == 404


def test_an_empty_network_shows_an_empty_state(client: Client, db: Any) -> None:
    client.force_login(User.objects.create(email="admin@example.org", is_network_admin=True))

    response = client.get(reverse("rapports:network"))

    assert response.status_code == 200
    assert "Aucun programme n'a encore été créé dans le réseau." in response.content.decode()


def test_network_admins_get_the_network_workspace(world: Any) -> None:
    url = reverse("rapports:network")

    assert url in [w.url for w in workspaces_for(world.admin)]
    assert url not in [w.url for w in workspaces_for(world.a.coordinator)]
