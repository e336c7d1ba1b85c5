"""The scanner's configuration for offline use (GET /api/v1/scanner/config) and the pairing of a
browser as a scanning device (marches:scanner_pair)."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coupons.keys import public_keys
from coupons.models import Coupon
from marches.models import Device
from marches.services import revoke_device
from tests.factories import (
    CategoryFactory,
    CouponFactory,
    MarketFactory,
    ProgramFactory,
    VendorFactory,
    make_device,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/scanner/config"


def config(client: Client, token: str, **headers: str) -> Any:
    return client.get(URL, headers={"Authorization": f"Bearer {token}", **headers})


def voided(program: Any, **extra: Any) -> Coupon:
    return CouponFactory(
        program=program, status=Coupon.Status.VOID, voided_at=timezone.now(), **extra
    )


def pair_url(vendor: Any, market: Any) -> str:
    return reverse("marches:scanner_pair", kwargs={"slug": vendor.slug, "market_slug": market.slug})


# Configuration -------------------------------------------------------------------------------


def test_the_config_holds_what_the_phone_needs(client: Client, world: Any) -> None:
    program = world.a.program
    program.offline_max_count = 12
    program.offline_max_value = Decimal("60.00")
    program.save()
    category = program.categories.get()

    response = config(client, world.a.token)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "config_version",
        "generated_at",
        "server_time",
        "time_zone",
        "device",
        "market",
        "vendor",
        "programs",
        "public_keys",
        "revoked_codes",
    }
    assert body["device"] == {"id": world.a.device.pk, "name": world.a.device.name}
    assert body["market"]["slug"] == world.a.market.slug
    assert body["market"]["name"] == world.a.market.name
    assert body["vendor"] == {"slug": world.a.vendor.slug, "name": world.a.vendor.name}
    assert body["programs"] == [
        {
            "id": program.pk,
            "slug": program.slug,
            "name": program.name,
            "currency": "CAD",
            "categories": [{"slug": category.slug, "name": category.name_fr}],
            "offline_max_count": 12,
            "offline_max_value": "60.00",
        }
    ]
    assert body["public_keys"] == {str(kid): key for kid, key in public_keys().items()}
    assert body["revoked_codes"] == []
    assert body["time_zone"] == "America/Toronto"
    server_time = datetime.datetime.fromisoformat(body["server_time"])
    assert abs(server_time - timezone.now()) < datetime.timedelta(minutes=1)


def test_the_config_says_nothing_of_households_nor_of_other_markets(
    client: Client, world: Any
) -> None:
    CouponFactory(program=world.a.program, household=world.a.household)
    voided(world.b.program)

    text = config(client, world.a.token).content.decode()

    for secret in [
        world.a.household.name,
        world.a.household.reference,
        world.a.organization.name,
        world.b.program.name,
        world.b.program.slug,
        world.b.market.name,
        world.b.vendor.name,
        world.a.coordinator.email,
        world.a.vendor_user.email,
    ]:
        assert secret not in text, secret


def test_a_market_taking_two_programs_gets_both(client: Client, world: Any) -> None:
    other = ProgramFactory(name="Coupons de Kamouraska", offline_max_count=0)
    world.a.market.programs.add(other)

    body = config(client, world.a.token).json()

    assert [p["id"] for p in body["programs"]] == [world.a.program.pk, other.pk]
    assert {p["id"]: p["offline_max_count"] for p in body["programs"]} == {
        world.a.program.pk: 20,
        other.pk: 0,
    }


def test_revoked_codes_are_those_of_the_markets_programs_still_valid(
    client: Client, world: Any
) -> None:
    mine = voided(world.a.program)
    voided(world.b.program)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    voided(
        world.a.program, valid_from=yesterday - datetime.timedelta(days=5), valid_until=yesterday
    )
    CouponFactory(program=world.a.program)

    body = config(client, world.a.token).json()

    assert body["revoked_codes"] == [mine.code]


def test_category_names_follow_the_language_asked_for(client: Client, world: Any) -> None:
    category = world.a.program.categories.get()

    body = config(client, world.a.token, **{"Accept-Language": "en"}).json()

    assert body["programs"][0]["categories"] == [{"slug": category.slug, "name": category.name_en}]


def test_the_version_changes_with_the_content_only(client: Client, world: Any) -> None:
    first = config(client, world.a.token).json()
    same = config(client, world.a.token).json()
    voided(world.a.program)
    changed = config(client, world.a.token).json()

    assert first["config_version"] == same["config_version"]
    assert changed["config_version"] != first["config_version"]


@pytest.mark.parametrize("token", [None, "", "pas-un-jeton", "pcn_" + "x" * 43])
def test_without_a_valid_token_it_is_401(client: Client, world: Any, token: str | None) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}

    response = client.get(URL, headers=headers)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_a_revoked_device_gets_401(client: Client, world: Any) -> None:
    revoke_device(device=world.a.device)

    assert config(client, world.a.token).status_code == 401


def test_the_config_takes_a_bounded_number_of_queries(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    config(client, world.a.token)  # the keyring is read once per process, then cached
    with CaptureQueriesContext(connection) as few:
        assert config(client, world.a.token).status_code == 200

    market = world.a.market
    for n in range(6):
        program = ProgramFactory()
        program.categories.add(
            *[
                CategoryFactory(slug=f"categorie-{n}-{i}", name_fr=f"Catégorie {i}")
                for i in range(3)
            ]
        )
        market.programs.add(program)
        for _ in range(5):
            voided(program)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = config(client, world.a.token).json()
    assert len(body["programs"]) == 7
    assert len(body["revoked_codes"]) == 30
    assert sorted(len(p["categories"]) for p in body["programs"]) == [1] + [4] * 6


def test_the_config_is_in_the_openapi_description(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()

    operation = schema["paths"]["/api/v1/scanner/config"]["get"]
    # 429: the API's rate limit, documented on every operation (config/urls.py).
    assert set(operation["responses"]) == {"200", "401", "429"}
    assert "ScannerConfigOut" in json.dumps(operation["responses"]["200"])


# Pairing -------------------------------------------------------------------------------------


def test_pairing_makes_this_browser_a_device_of_the_vendor_at_the_market(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.vendor_user)

    response = client.post(pair_url(world.a.vendor, world.a.market))

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    device = Device.objects.get(pk=body["device"])
    assert device.vendor == world.a.vendor
    assert device.market == world.a.market
    assert device.created_by == world.a.vendor_user
    assert device.name.startswith("Navigateur — ") and body["name"] == device.name
    # The token works at once, for this device only, and is not stored.
    assert config(Client(), body["token"]).json()["device"]["id"] == device.pk
    assert body["token"] not in device.token_hash


def test_the_paired_device_is_listed_and_can_be_revoked(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)
    body = client.post(pair_url(world.a.vendor, world.a.market)).json()
    device = Device.objects.get(pk=body["device"])

    listing = client.get(reverse("marches:device_list", kwargs={"slug": world.a.vendor.slug}))
    assert device.name in listing.content.decode()
    client.post(
        reverse("marches:device_revoke", kwargs={"slug": world.a.vendor.slug, "pk": device.pk}),
        {"confirm": "on"},
    )

    device.refresh_from_db()
    assert device.revoked_at is not None
    assert config(Client(), body["token"]).status_code == 401


def test_only_people_who_scan_for_the_vendor_may_pair(client: Client, world: Any) -> None:
    url = pair_url(world.a.vendor, world.a.market)
    before = Device.objects.count()
    for user in [
        world.b.vendor_user,
        world.a.manager,
        world.a.coordinator,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        assert client.post(url).status_code == 404, user
    assert Device.objects.count() == before

    client.force_login(world.admin)
    assert client.post(url).status_code == 201
    assert Device.objects.count() == before + 1


def test_pairing_needs_the_vendor_to_sell_at_the_market(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)
    before = Device.objects.count()

    response = client.post(pair_url(world.a.vendor, world.b.market))

    assert response.status_code == 404
    assert Device.objects.count() == before


def test_pairing_is_post_only(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)
    before = Device.objects.count()

    assert client.get(pair_url(world.a.vendor, world.a.market)).status_code == 405
    assert Device.objects.count() == before


def test_pairing_needs_the_csrf_token(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a.vendor_user)
    url = pair_url(world.a.vendor, world.a.market)
    before = Device.objects.count()

    assert client.post(url).status_code == 403
    assert Device.objects.count() == before

    page = client.get(
        reverse(
            "marches:scanner",
            kwargs={"slug": world.a.vendor.slug, "market_slug": world.a.market.slug},
        )
    )
    token = page.context["csrf_token"]
    assert client.post(url, headers={"X-CSRFToken": str(token)}).status_code == 201
    assert Device.objects.count() == before + 1


def test_anonymous_people_cannot_pair(client: Client, world: Any) -> None:
    before = Device.objects.count()

    response = client.post(pair_url(world.a.vendor, world.a.market))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert Device.objects.count() == before


def test_a_device_of_another_market_gets_that_markets_config(client: Client, world: Any) -> None:
    market = MarketFactory(program=world.b.program)
    vendor = VendorFactory(market=market)
    _device, token = make_device(vendor, market)

    body = config(client, token).json()

    assert body["market"]["slug"] == market.slug
    assert [p["id"] for p in body["programs"]] == [world.b.program.pk]
