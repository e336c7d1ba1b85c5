"""What the markets app registers with comptes (invitable roles, workspaces) and who may do what."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from comptes.registry import role_definition, workspaces_for
from marches.models import Market, Vendor
from marches.redemptions import redeem_coupon
from marches.selectors import (
    assignable_markets,
    devices_for,
    editable_vendors,
    local_currency_programs,
    redemptions_for,
    undoable_redemption_ids,
)
from programmes.models import Program
from tests.factories import CouponFactory, UserFactory

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


def test_who_may_edit_which_vendor_and_on_which_markets(world: Any) -> None:
    for user in [world.a.manager, world.a.coordinator]:
        assert set(editable_vendors(user)) == {world.a.vendor}, user
        assert set(assignable_markets(user)) == {world.a.market}, user
    # Working for a vendor is not enough to change what its markets vouch for.
    assert set(editable_vendors(world.a.vendor_user)) == set()
    assert set(assignable_markets(world.a.vendor_user)) == set()
    assert set(editable_vendors(world.a.intervenant)) == set()
    assert set(editable_vendors(world.admin)) == {world.a.vendor, world.b.vendor}
    assert set(assignable_markets(world.admin)) == {world.a.market, world.b.market}


def test_only_scanning_people_may_undo_and_only_recent_accepted_scans(world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    verdict = redeem_coupon(
        code=coupon.code, vendor=world.a.vendor, market=world.a.market, client_id=uuid.uuid4()
    )
    assert verdict.redemption is not None
    mine = {verdict.redemption.pk}

    assert undoable_redemption_ids(world.a.vendor, user=world.a.vendor_user) == mine
    assert undoable_redemption_ids(world.a.vendor, user=world.admin) == mine
    for user in [world.a.manager, world.a.coordinator, world.b.vendor_user]:
        assert undoable_redemption_ids(world.a.vendor, user=user) == set(), user
    later = timezone.now() + datetime.timedelta(minutes=5, seconds=1)
    assert undoable_redemption_ids(world.a.vendor, user=world.a.vendor_user, now=later) == set()


def test_local_currencies_come_from_the_programs_a_market_takes(world: Any) -> None:
    assert list(local_currency_programs([world.a.market])) == []
    Program.objects.filter(pk=world.b.program.pk).update(
        local_currency="Le Napoléon", local_rate=Decimal("1")
    )
    assert list(local_currency_programs([world.a.market])) == []
    world.a.market.programs.add(world.b.program)
    assert list(local_currency_programs([world.a.market, world.b.market])) == [world.b.program]
