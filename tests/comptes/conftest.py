"""Role definitions for the invitation tests.

Each higher app registers its own roles at start-up; until one has, a stand-in with the same
rules (admins everywhere, members of a scope invite into it) takes its place for the test, and
the registry is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models import Q

from comptes import registry
from comptes.models import Role


def _stand_ins() -> list[registry.RoleDefinition]:
    from beneficiaires.models import Organization
    from marches.models import Market, Vendor
    from programmes.models import Program

    def programs(user: Any) -> Any:
        if user.is_network_admin:
            return Program.objects.all()
        return Program.objects.filter(coordinators=user)

    def organizations(user: Any) -> Any:
        if user.is_network_admin:
            return Organization.objects.all()
        return Organization.objects.filter(
            Q(members=user) | Q(programs__coordinators=user)
        ).distinct()

    def markets(user: Any) -> Any:
        if user.is_network_admin:
            return Market.objects.all()
        return Market.objects.filter(Q(managers=user) | Q(programs__coordinators=user)).distinct()

    def vendors(user: Any) -> Any:
        if user.is_network_admin:
            return Vendor.objects.all()
        return Vendor.objects.filter(Q(members=user) | Q(markets__managers=user)).distinct()

    return [
        registry.RoleDefinition(
            Role.COORDINATOR, Program, programs, lambda u, s: s.coordinators.add(u)
        ),
        registry.RoleDefinition(
            Role.INTERVENANT, Organization, organizations, lambda u, s: s.members.add(u)
        ),
        registry.RoleDefinition(
            Role.MARKET_MANAGER, Market, markets, lambda u, s: s.managers.add(u)
        ),
        registry.RoleDefinition(Role.VENDOR, Vendor, vendors, lambda u, s: s.members.add(u)),
    ]


@pytest.fixture(autouse=True)
def roles() -> Iterator[None]:
    saved_roles = dict(registry._roles)
    saved_providers = list(registry._workspace_providers)
    registered = {str(d.role) for d in registry.role_definitions()}
    for definition in _stand_ins():
        if str(definition.role) not in registered:
            registry.register_role(definition)
    yield
    registry._roles.clear()
    registry._roles.update(saved_roles)
    registry._workspace_providers[:] = saved_providers
