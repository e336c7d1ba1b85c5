"""`manage.py seed_demo`: the demo world, built once, reported the same way every time."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from beneficiaires.models import Consent, Household
from comptes.models import Role, User
from coupons import codes
from coupons.models import Coupon, IssuanceBatch
from financement.selectors import program_funds
from marches.models import Device, Market, Redemption, ScanRejection
from marches.redemptions import check_coupon
from marches.services import authenticate_device
from programmes.models import Program

pytestmark = pytest.mark.django_db

MODELS = [
    User,
    Program,
    Household,
    Consent,
    IssuanceBatch,
    Coupon,
    Redemption,
    ScanRejection,
    Device,
    Market,
]


def seed_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())  # the whole of stdout is one JSON object


def counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in MODELS}


@pytest.fixture
def demo() -> dict[str, Any]:
    return seed_json()


def test_a_second_run_creates_nothing_and_reports_the_same(demo: dict[str, Any]) -> None:
    before = counts()

    again = seed_json()

    assert counts() == before
    assert again["users"] == demo["users"]
    assert again["device_tokens"] == demo["device_tokens"]
    assert again["households"] == demo["households"]
    assert again["coupons"] == demo["coupons"]


def test_it_builds_the_two_pilot_programs(demo: dict[str, Any]) -> None:
    assert set(Program.objects.values_list("slug", flat=True)) == {"portneuf", "rimouski-neigette"}
    assert Market.objects.count() == 3
    assert len(demo["device_tokens"]) == 6
    assert len(demo["households"]) == 30
    assert Household.objects.count() == 30
    assert Consent.objects.filter(purpose=Consent.Purpose.PARTICIPATION).count() == 30
    assert {h["organization"] for h in demo["households"]} == {
        "service-entraide-portneuf",
        "moisson-rimouski-neigette",
    }
    sizes = {household.size for household in Household.objects.all()}
    assert min(sizes) == 1 and max(sizes) == 6
    assert Redemption.objects.exists()
    assert not ScanRejection.objects.exists()
    portneuf = Program.objects.get(slug="portneuf")
    assert portneuf.serial_prefix == "PORT"
    assert str(program_funds(portneuf)) == "25000.00"


def test_every_role_has_a_login_that_works(demo: dict[str, Any]) -> None:
    roles = {user["role"] for user in demo["users"]}

    assert {
        Role.NETWORK_ADMIN,
        Role.COORDINATOR,
        Role.INTERVENANT,
        Role.MARKET_MANAGER,
        Role.VENDOR,
    } <= roles
    for user in demo["users"]:
        assert authenticate(email=user["email"], password=user["password"]) is not None
    admin = User.objects.get(email="admin@demo.coupons.quebec")
    assert admin.is_network_admin and admin.is_staff and admin.is_superuser
    coordinator = User.objects.get(email="coordination.portneuf@demo.coupons.quebec")
    assert list(coordinator.coordinated_programs.values_list("slug", flat=True)) == ["portneuf"]
    assert User.objects.get(email="intervenant@demo.coupons.quebec").organizations.get().slug == (
        "service-entraide-portneuf"
    )
    assert User.objects.get(email="gestion@demo.coupons.quebec").managed_markets.get().slug == (
        "saint-casimir"
    )
    vendor_user = User.objects.get(email="marchand@demo.coupons.quebec")
    assert vendor_user.vendor_memberships.get().slug == demo["device_tokens"][0]["vendor"]


def test_the_first_device_token_works_at_saint_casimir(demo: dict[str, Any]) -> None:
    first = demo["device_tokens"][0]

    device = authenticate_device(first["token"])

    assert device is not None
    assert (device.vendor.slug, device.market.slug) == (first["vendor"], first["market"])
    assert first["market"] == "saint-casimir"
    for token in demo["device_tokens"]:
        assert authenticate_device(token["token"]) is not None


def test_at_least_fifty_coupons_are_redeemable_at_the_first_devices_market(
    demo: dict[str, Any],
) -> None:
    market = Market.objects.get(slug=demo["device_tokens"][0]["market"])
    accepted = set(market.programs.values_list("slug", flat=True))
    spendable = [c for c in demo["coupons"] if c["status"] == "issued" and c["program"] in accepted]

    assert len(spendable) >= 50
    for coupon in spendable[:: max(1, len(spendable) // 20)]:
        assert check_coupon(code=coupon["qr"], market=market).status == "valid"
        assert check_coupon(code=coupon["code"], market=market).status == "valid"
        assert codes.format_code(coupon["code"]) == coupon["code"]
        assert coupon["value"] in {"5.00", "2.00"}


def test_redeemed_coupons_are_listed_as_such(demo: dict[str, Any]) -> None:
    market = Market.objects.get(slug="saint-casimir")
    redeemed = [c for c in demo["coupons"] if c["status"] == "redeemed"]

    # One coupon in the demo was scanned twice offline: one accepted scan, one in review.
    assert len(redeemed) == Redemption.objects.filter(status="accepted").count()
    assert Redemption.objects.filter(status="conflict").count() == 1
    assert check_coupon(code=redeemed[0]["qr"], market=market).reason == "already_redeemed"


def test_without_json_it_prints_a_readable_table() -> None:
    out = io.StringIO()

    call_command("seed_demo", stdout=out, stderr=io.StringIO())

    text = out.getvalue()
    assert "admin@demo.coupons.quebec" in text
    assert "demo-coupons-2026" in text
    assert "Administration du réseau" in text
    assert Device.objects.count() == 6
    for device in Device.objects.all():
        assert device.token_prefix in text
