from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinancementConfig(AppConfig):
    name = "financement"
    verbose_name = _("Financement")

    def ready(self) -> None:
        # The programs app shows each program's funds without importing this one.
        from financement.selectors import funds_by_program
        from programmes.funding import register_funds_provider

        register_funds_provider(funds_by_program)

        # The webhook hands the Stripe events of online donations to this app's handlers.
        from financement.donations import register_donation_payments

        register_donation_payments()

        # Coordinators and network admins invite a funder's staff to read its reports.
        from comptes.models import Role
        from comptes.registry import RoleDefinition, register_role
        from financement.access import grant_funder_member, managed_funders
        from financement.models import Funder

        register_role(
            RoleDefinition(
                role=Role.FUNDER,
                scope_model=Funder,
                invitable_scopes=managed_funders,
                grant=grant_funder_member,
            )
        )
