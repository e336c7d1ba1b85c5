from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from comptes.models import User
    from comptes.registry import Workspace


class RapportsConfig(AppConfig):
    name = "rapports"
    verbose_name = _("rapports")

    def ready(self) -> None:
        from comptes.registry import register_workspace_provider

        register_workspace_provider(network_workspaces)
        register_workspace_provider(funder_workspaces)


def network_workspaces(user: User) -> Iterator[Workspace]:
    """The network overview, for network admins."""
    from django.urls import reverse
    from django.utils.translation import gettext

    from comptes.models import Role
    from comptes.registry import Workspace

    if user.is_authenticated and user.is_network_admin:
        yield Workspace(
            role=Role.NETWORK_ADMIN, label=gettext("Vue du réseau"), url=reverse("rapports:network")
        )
        yield Workspace(
            role=Role.NETWORK_ADMIN,
            label=gettext("Rapport du réseau"),
            url=reverse("rapports:report_network"),
        )


def funder_workspaces(user: User) -> Iterator[Workspace]:
    """The report of each program a funder's staff member's funder supports."""
    from django.urls import reverse
    from django.utils.translation import gettext

    from comptes.models import Role
    from comptes.registry import Workspace
    from financement.access import member_programs

    for program in member_programs(user).order_by("name", "pk"):
        yield Workspace(
            role=Role.FUNDER,
            label=gettext("Rapport : {program}").format(program=program.name),
            url=reverse("rapports:report_program", kwargs={"slug": program.slug}),
        )
