from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from comptes.models import User
    from comptes.registry import Workspace


class MarchesConfig(AppConfig):
    name = "marches"
    verbose_name = _("Marchés")

    def ready(self) -> None:
        from comptes.models import Role
        from comptes.registry import RoleDefinition, register_role, register_workspace_provider
        from marches import selectors
        from marches.models import Market, Vendor

        def grant_market_manager(user: User, market: Any) -> None:
            market.managers.add(user)

        def grant_vendor(user: User, vendor: Any) -> None:
            vendor.members.add(user)

        # Who may invite whom: marches.selectors.invitable_markets / invitable_vendors.
        register_role(
            RoleDefinition(
                role=Role.MARKET_MANAGER,
                scope_model=Market,
                invitable_scopes=selectors.invitable_markets,
                grant=grant_market_manager,
            )
        )
        register_role(
            RoleDefinition(
                role=Role.VENDOR,
                scope_model=Vendor,
                invitable_scopes=selectors.invitable_vendors,
                grant=grant_vendor,
            )
        )
        register_workspace_provider(market_workspaces)


def market_workspaces(user: User) -> Iterator[Workspace]:
    """The markets the user manages and the vendors they work for."""
    from django.urls import reverse

    from comptes.models import Role
    from comptes.registry import Workspace
    from marches.models import Market, Vendor

    if not user.is_authenticated:
        return
    for market in Market.objects.filter(managers=user).only("name", "slug"):
        yield Workspace(
            role=Role.MARKET_MANAGER,
            label=market.name,
            url=reverse("marches:market_detail", kwargs={"slug": market.slug}),
        )
    for vendor in Vendor.objects.filter(members=user).only("name", "slug"):
        yield Workspace(
            role=Role.VENDOR,
            label=vendor.name,
            url=reverse("marches:vendor_detail", kwargs={"slug": vendor.slug}),
        )
