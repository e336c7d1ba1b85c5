"""Reads of the accounts app, always scoped to the user who asks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from comptes.models import Invitation, Role, User
from comptes.registry import RoleDefinition, Workspace, role_definitions, workspaces_for


def role_label(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return role


@dataclass
class WorkspaceGroup:
    role: str
    label: str
    workspaces: list[Workspace] = field(default_factory=list)


def workspace_groups(user: User) -> list[WorkspaceGroup]:
    """The user's workspaces grouped by role, in the order of `Role`."""
    groups: dict[str, WorkspaceGroup] = {}
    for workspace in workspaces_for(user):
        role = str(workspace.role)
        group = groups.get(role)
        if group is None:
            group = groups[role] = WorkspaceGroup(role, role_label(role))
        group.workspaces.append(workspace)
    order = {value: index for index, value in enumerate(Role.values)}
    return sorted(groups.values(), key=lambda g: order.get(g.role, len(order)))


@dataclass
class InvitableRole:
    role: str
    label: str
    definition: RoleDefinition
    scopes: list[Any]


def invitable_roles(user: User) -> list[InvitableRole]:
    """The roles this user may invite into, with their scopes (roles without one are left out)."""
    order = {value: index for index, value in enumerate(Role.values)}
    found = []
    for definition in sorted(role_definitions(), key=lambda d: order.get(str(d.role), len(order))):
        scopes = list(definition.invitable_scopes(user))
        if scopes:
            role = str(definition.role)
            found.append(InvitableRole(role, role_label(role), definition, scopes))
    return found


def invitations_for(user: User) -> QuerySet[Invitation]:
    """Invitations the user sent, or that concern a scope they may invite into."""
    condition = Q(invited_by=user)
    for definition in role_definitions():
        scope_type = ContentType.objects.get_for_model(definition.scope_model)
        condition |= Q(
            role=definition.role,
            scope_type=scope_type,
            scope_id__in=definition.invitable_scopes(user).values("pk"),
        )
    return (
        Invitation.objects.filter(condition)
        .select_related("invited_by", "accepted_by", "scope_type")
        .prefetch_related("scope")
        .order_by("-created_at", "-pk")
    )


def existing_account(email: str) -> User | None:
    return User.objects.filter(email__iexact=email).first()
