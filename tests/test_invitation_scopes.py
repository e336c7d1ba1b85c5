"""Nobody can widen their own scope by inviting themselves.

Seeing a place (a market that also accepts your program, an organization that also works with
your program) is not owning it: only what is yours alone, or a network admin, can hand out roles.
"""

from __future__ import annotations

from typing import Any

import pytest

from beneficiaires.models import Partnership
from comptes.services import InvitationError, accept_invitation, create_invitation
from marches.services import add_market_to_program
from tests.conftest import World
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db


def invite(inviter: Any, role: str, scope: Any, email: str = "moi-aussi@example.org") -> str:
    _invitation, token = create_invitation(inviter=inviter, email=email, role=role, scope=scope)
    return token


def test_a_coordinator_cannot_become_manager_of_a_market_shared_with_another_program(
    world: World,
) -> None:
    add_market_to_program(market=world.b.market, program=world.a.program)

    with pytest.raises(InvitationError) as refused:
        invite(world.a.coordinator, "market_manager", world.b.market, world.a.coordinator.email)

    assert refused.value.code == "forbidden_scope"
    assert not world.b.market.managers.filter(pk=world.a.coordinator.pk).exists()


def test_a_coordinator_cannot_join_a_vendor_selling_at_another_programs_market(
    world: World,
) -> None:
    add_market_to_program(market=world.b.market, program=world.a.program)

    with pytest.raises(InvitationError) as refused:
        invite(world.a.coordinator, "vendor", world.b.vendor, world.a.coordinator.email)

    assert refused.value.code == "forbidden_scope"


def test_a_coordinator_cannot_join_an_organization_shared_with_another_program(
    world: World,
) -> None:
    Partnership.objects.create(organization=world.b.organization, program=world.a.program)

    with pytest.raises(InvitationError) as refused:
        invite(world.a.coordinator, "intervenant", world.b.organization, "x@example.org")

    assert refused.value.code == "forbidden_scope"


def test_what_is_theirs_alone_coordinators_and_managers_may_staff(world: World) -> None:
    for inviter, role, scope in [
        (world.a.coordinator, "market_manager", world.a.market),
        (world.a.coordinator, "vendor", world.a.vendor),
        (world.a.coordinator, "intervenant", world.a.organization),
        (world.a.manager, "market_manager", world.a.market),
        (world.a.manager, "vendor", world.a.vendor),
        (world.a.vendor_user, "vendor", world.a.vendor),
    ]:
        token = invite(inviter, role, scope, f"{role}-{inviter.pk}@example.org")
        user = accept_invitation(token=token, password="un-mot-de-passe-solide-2026")
        assert user.is_active


def test_a_manager_cannot_staff_a_vendor_that_also_sells_elsewhere(world: World) -> None:
    both = VendorFactory(name="Ferme partout", slug="ferme-partout", market=world.a.market)
    both.markets.add(world.b.market)

    with pytest.raises(InvitationError) as refused:
        invite(world.a.manager, "vendor", both, world.a.manager.email)

    assert refused.value.code == "forbidden_scope"


def test_a_network_admin_may_invite_anywhere(world: World) -> None:
    add_market_to_program(market=world.b.market, program=world.a.program)

    token = invite(world.admin, "market_manager", world.b.market, "nouvelle@example.org")

    assert token
