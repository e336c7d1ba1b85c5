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
