"""What higher apps tell `comptes` at start-up, so that `comptes` never imports them.

- A *role definition* says, for one role, which objects an inviter may invite people into and
  how to grant the role once an invitation is accepted (memberships live in each app).
- A *workspace provider* lists the places (a program, an organization, a market…) a user can
  work in, for the home page and the navigation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

    from comptes.models import User


@dataclass(frozen=True)
class RoleDefinition:
    role: str
    scope_model: type[Model]
    # The objects of this role's scope into which `inviter` may invite someone.
    invitable_scopes: Callable[[User], QuerySet[Any]]
    # Give `user` the role on `scope` (idempotent).
    grant: Callable[[User, Any], None]


@dataclass(frozen=True)
class Workspace:
    role: str
    label: str | Promise
    url: str


_roles: dict[str, RoleDefinition] = {}
_workspace_providers: list[Callable[[User], Iterable[Workspace]]] = []


def register_role(definition: RoleDefinition) -> None:
    _roles[definition.role] = definition


def role_definition(role: str) -> RoleDefinition:
    return _roles[role]


def role_definitions() -> list[RoleDefinition]:
    return list(_roles.values())


def register_workspace_provider(provider: Callable[[User], Iterable[Workspace]]) -> None:
    if provider not in _workspace_providers:
        _workspace_providers.append(provider)


def workspaces_for(user: User) -> list[Workspace]:
    found: list[Workspace] = []
    for provider in _workspace_providers:
        found.extend(provider(user))
    return found
