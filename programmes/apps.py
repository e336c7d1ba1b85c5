from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from comptes.models import User
    from comptes.registry import Workspace
    from programmes.models import Program


class ProgrammesConfig(AppConfig):
    name = "programmes"
    verbose_name = _("programmes")

    def ready(self) -> None:
        from comptes.models import Role
        from comptes.registry import RoleDefinition, register_role, register_workspace_provider
        from programmes.models import Program

        register_role(
            RoleDefinition(
                role=Role.COORDINATOR,
                scope_model=Program,
                invitable_scopes=invitable_programs,
                grant=grant_coordinator,
            )
        )
        register_workspace_provider(program_workspaces)


def invitable_programs(user: User) -> QuerySet[Program]:
    """Network admins invite coordinators into any program; coordinators into theirs."""
    from programmes.selectors import programs_for

    return programs_for(user)


def grant_coordinator(user: User, program: Any) -> None:
    program.coordinators.add(user)


def program_workspaces(user: User) -> Iterator[Workspace]:
    """The program list (where programs are created), then one workspace per program the user
    coordinates (every program for a network admin)."""
    from django.urls import reverse

    from comptes.models import Role
    from comptes.registry import Workspace
    from programmes.selectors import can_create_program, programs_for

    if not user.is_authenticated:
        return
    if can_create_program(user):
        yield Workspace(
            role=Role.COORDINATOR, label=_("Programmes"), url=reverse("programmes:program_list")
        )
    for program in programs_for(user).select_related(None).only("name", "slug").order_by("name"):
        url = reverse("rapports:program_dashboard", kwargs={"slug": program.slug})
        yield Workspace(role=Role.COORDINATOR, label=program.name, url=url)
