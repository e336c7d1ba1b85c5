from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from programmes.models import Program


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("coupons")

    def ready(self) -> None:
        from django.core import checks

        from coupons.keys import check_signing_keys
        from programmes.services import register_committed_value_provider

        checks.register(check_signing_keys, checks.Tags.security, deploy=True)

        # A program's budget is never lowered below what its coupons already hold.
        register_committed_value_provider(program_committed_value)


def program_committed_value(program: Program) -> Decimal:
    from coupons.services import committed_value

    return committed_value(program=program)
