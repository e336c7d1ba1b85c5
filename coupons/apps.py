from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from beneficiaires.models import Organization
    from programmes.models import Program


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("coupons")

    def ready(self) -> None:
        from django.core import checks

        from coupons.keys import check_signing_keys

        checks.register(check_signing_keys, checks.Tags.security, deploy=True)

        # Enrollment's waitlist: what the coupons hold plus the allotments still to issue.
        from beneficiaires.services import register_reserved_value_provider

        register_reserved_value_provider(program_reserved_value)
        # A household's access export lists its coupons.
        from beneficiaires.exports import register_export_section
        from coupons.exports import household_coupons_section

        register_export_section("coupons", household_coupons_section)
        # A household that leaves the program or is anonymized loses its wallet link.
        from beneficiaires.services import register_household_closed_hook

        register_household_closed_hook(revoke_wallet_links)
        # The funds page of the funding app shows what the coupons hold.
        from coupons.funds import program_coupon_figures
        from financement.funds import register_coupon_figures

        register_coupon_figures(program_coupon_figures)
        # The webhook hands the Stripe events of the public sale to this app's handlers.
        from coupons.sale import register_sale_payments

        register_sale_payments()
        # The sale's buyers are erased with the households of their program.
        from beneficiaires.retention import RetentionStep, register_retention_step
        from coupons.retention import erase_expired_buyers

        register_retention_step(
            RetentionStep("sale_buyers", "sale(s) whose buyer was erased", erase_expired_buyers)
        )


def program_reserved_value(program: Program, organization: Organization | None) -> Decimal:
    from coupons.services import reserved_value

    return reserved_value(program=program, organization=organization)


def revoke_wallet_links(household: Any, by: Any) -> None:
    from django.utils import timezone

    from coupons.models import WalletLink

    WalletLink.objects.filter(household=household, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
