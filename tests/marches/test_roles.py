"""What the markets app registers with comptes: invitable roles and workspaces."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptes.registry import role_definition, workspaces_for
from marches.models import Market, Vendor
from marches.selectors import devices_for, redemptions_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_who_may_invite_a_market_manager_where(world: Any) -> None:
    role = role_definition("market_manager")

    assert role.scope_model is Market
    assert set(role.invitable_scopes(world.admin)) == {world.a.market, world.b.market}
    assert set(role.invitable_scopes(world.a.coordinator)) == {world.a.market}
    assert set(role.invitable_scopes(world.a.manager)) == {world.a.market}
    assert set(role.invitable_scopes(world.a.vendor_user)) == set()
    assert set(role.invitable_scopes(world.a.intervenant)) == set()


def test_who_may_invite_a_vendor_where(world: Any) -> None:
    role = role_definition("vendor")

    assert role.scope_model is Vendor
    assert set(role.invitable_scopes(world.admin)) == {world.a.vendor, world.b.vendor}
    for user in [world.a.coordinator, world.a.manager, world.a.vendor_user]:
        assert set(role.invitable_scopes(user)) == {world.a.vendor}, user
    assert set(role.invitable_scopes(world.a.intervenant)) == set()


def test_granting_the_roles_adds_the_memberships(world: Any) -> None:
    newcomer = UserFactory(email="nouveau@example.org")

    role_definition("market_manager").grant(newcomer, world.a.market)
    role_definition("vendor").grant(newcomer, world.a.vendor)
    role_definition("vendor").grant(newcomer, world.a.vendor)  # idempotent

    assert newcomer in world.a.market.managers.all()
    assert list(world.a.vendor.members.filter(pk=newcomer.pk)) == [newcomer]


def test_workspaces_list_managed_markets_and_vendors(world: Any) -> None:
    world.a.vendor.members.add(world.a.manager)

    found = {(w.role, w.label, w.url) for w in workspaces_for(world.a.manager)}

    assert ("market_manager", "Marché a", reverse("marches:market_detail", args=["marche-a"])) in (
        found
    )
    assert ("vendor", "Ferme a", reverse("marches:vendor_detail", args=["ferme-a"])) in found
    assert not any(w.label in {"Marché b", "Ferme b"} for w in workspaces_for(world.a.manager))


def test_devices_and_redemptions_are_scoped(world: Any) -> None:
    for user in [world.a.vendor_user, world.a.manager, world.a.coordinator]:
        assert set(devices_for(user)) == {world.a.device}, user
        assert not redemptions_for(user).filter(market=world.b.market).exists()
    assert set(devices_for(world.a.intervenant)) == set()
    assert set(devices_for(world.admin)) == {world.a.device, world.b.device}
