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

        # A coupon's chain of custody shows where it was redeemed.
        from coupons.custody import register_custody_source

        register_custody_source(redemption_steps)


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


def redemption_steps(coupon: Any) -> list[Any]:
    from django.utils.translation import gettext

    from coupons.custody import CustodyStep
    from marches.models import Redemption
    from programmes.money import format_money

    redemptions = Redemption.objects.filter(coupon=coupon).select_related(
        "vendor", "market", "recorded_by"
    )
    return [
        CustodyStep(
            at=redemption.recorded_at,
            what=gettext("Échangé")
            if redemption.status == Redemption.Status.ACCEPTED
            else str(redemption.get_status_display()),
            who=redemption.vendor.name,
            where=redemption.market.name,
            detail=format_money(redemption.value, coupon.program.currency),
        )
        for redemption in redemptions.order_by("recorded_at")
    ]
