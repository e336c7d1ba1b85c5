"""Device tokens: made on the vendor's page (shown once), revoked after a confirmation."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from marches.models import Device
from marches.services import authenticate_device
from tests.factories import MarketFactory, VendorFactory

pytestmark = pytest.mark.django_db

TOKEN_RE = re.compile(r"pcn_[A-Za-z0-9_\-]{20,}")


def devices_url(scope: Any) -> str:
    return reverse("marches:device_list", args=[scope.vendor.slug])


def create(client: Client, scope: Any, name: str = "Téléphone de Julie") -> Any:
    return client.post(devices_url(scope), {"name": name, "market": scope.market.slug})


def test_a_new_device_shows_its_token_once_and_it_authenticates(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)

    response = create(client, world.a)

    assert response.status_code == 201
    html = response.content.decode()
    assert "il ne sera plus jamais affiché" in html
    assert "no-store" in response["Cache-Control"]
    token = TOKEN_RE.search(html).group(0)  # type: ignore[union-attr]
    device = authenticate_device(token)
    assert device is not None
    assert device.name == "Téléphone de Julie"
    assert device.vendor == world.a.vendor and device.market == world.a.market
    assert device.created_by == world.a.vendor_user
    # The list shows the device, never its token.
    listing = client.get(devices_url(world.a)).content.decode()
    assert "Téléphone de Julie" in listing
    assert token not in listing


def test_revoking_needs_a_confirmation_then_the_token_stops_working(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.vendor_user)
    url = reverse("marches:device_revoke", args=[world.a.vendor.slug, world.a.device.pk])

    confirmation = client.get(url)

    assert confirmation.status_code == 200
    assert "Oui, révoquer cet appareil" in confirmation.content.decode()
    assert authenticate_device(world.a.token) is not None  # a GET changes nothing

    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == devices_url(world.a)
    assert authenticate_device(world.a.token) is None
    world.a.device.refresh_from_db()
    assert world.a.device.revoked_at is not None
    # Revoking twice is harmless.
    assert client.post(url).status_code == 302


def test_the_market_manager_manages_the_devices_at_their_market(client: Client, world: Any) -> None:
    client.force_login(world.a.manager)

    assert create(client, world.a, "Tablette du kiosque").status_code == 201
    url = reverse("marches:device_revoke", args=[world.a.vendor.slug, world.a.device.pk])
    assert client.post(url).status_code == 302
    assert authenticate_device(world.a.token) is None


def test_a_coordinator_sees_devices_but_cannot_create_or_revoke(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    listing = client.get(devices_url(world.a))

    assert listing.status_code == 200
    assert world.a.device.name in listing.content.decode()
    assert "Créer le jeton" not in listing.content.decode()
    assert create(client, world.a).status_code == 403
    url = reverse("marches:device_revoke", args=[world.a.vendor.slug, world.a.device.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert Device.objects.count() == 2
    assert authenticate_device(world.a.token) is not None


def test_people_outside_the_vendor_get_404(client: Client, world: Any) -> None:
    revoke = reverse("marches:device_revoke", args=[world.a.vendor.slug, world.a.device.pk])
    for user in [world.b.vendor_user, world.b.manager, world.b.coordinator, world.a.intervenant]:
        client.force_login(user)
        assert client.get(devices_url(world.a)).status_code == 404, user
        assert create(client, world.a).status_code == 404, user
        assert client.post(revoke).status_code == 404, user
    # Another vendor's device through this vendor's URL is not found either.
    client.force_login(world.a.vendor_user)
    other = reverse("marches:device_revoke", args=[world.a.vendor.slug, world.b.device.pk])
    assert client.post(other).status_code == 404
    assert authenticate_device(world.a.token) is not None
    assert authenticate_device(world.b.token) is not None


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "market": "marche-a"},
        {"name": "Téléphone", "market": "marche-b"},
        {"name": "Téléphone", "market": "inexistant"},
        {"name": "x" * 200, "market": "marche-a"},
    ],
)
def test_bad_device_input_is_a_clear_error(
    client: Client, world: Any, data: dict[str, str]
) -> None:
    client.force_login(world.a.vendor_user)

    response = client.post(devices_url(world.a), data)

    assert response.status_code == 400
    assert "field__error" in response.content.decode()
    assert Device.objects.count() == 2


def test_a_manager_of_one_market_creates_devices_only_there(client: Client, world: Any) -> None:
    # Vendor a also sells at market b: market a's manager may not create a device at market b.
    world.a.vendor.markets.add(world.b.market)
    client.force_login(world.a.manager)

    response = client.post(
        devices_url(world.a), {"name": "Téléphone", "market": world.b.market.slug}
    )

    assert response.status_code == 400
    assert Device.objects.filter(market=world.b.market, vendor=world.a.vendor).count() == 0


def test_create_device_token_prints_a_working_token(world: Any) -> None:
    out = StringIO()

    call_command("create_device_token", "--vendor", world.a.vendor_user.email, stdout=out)

    token = out.getvalue().strip()
    assert TOKEN_RE.fullmatch(token)
    device = authenticate_device(token)
    assert device is not None
    assert device.vendor == world.a.vendor and device.market == world.a.market


def test_create_device_token_by_slug_market_and_name(world: Any) -> None:
    second = MarketFactory(name="Marché de Saint-Raymond", slug="saint-raymond")
    world.a.vendor.markets.add(second)
    out = StringIO()

    call_command(
        "create_device_token",
        "--vendor",
        world.a.vendor.slug,
        "--market",
        "saint-raymond",
        "--name",
        "Script",
        stdout=out,
    )

    device = authenticate_device(out.getvalue().strip())
    assert device is not None
    assert (device.market, device.name) == (second, "Script")


@pytest.mark.parametrize(
    "args",
    [
        ["--vendor", "inconnu"],
        ["--vendor", "personne@example.org"],
        ["--vendor", "ferme-a", "--market", "marche-b"],
        ["--vendor", "sans-marche"],
    ],
)
def test_create_device_token_refuses_clearly(world: Any, args: list[str]) -> None:
    VendorFactory(name="Sans marché", slug="sans-marche")

    with pytest.raises(CommandError):
        call_command("create_device_token", *args, stdout=StringIO())


def test_an_absurd_device_number_is_a_404(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)
    url = devices_url(world.a) + "99999999999999999999999999/revoquer/"

    assert client.post(url).status_code == 404
