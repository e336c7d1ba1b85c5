"""Load the demo world (idempotent) and print its logins, device tokens and coupons.

    python manage.py seed_demo           # a readable table
    python manage.py seed_demo --json    # one JSON object on stdout, nothing else

For development and demonstrations only: every demo account shares a published password.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from comptes.models import Role
from coupons import codes
from coupons.selectors import qr_text_for
from coupons.services import IssuanceError
from marches import demo


class Command(BaseCommand):
    help = (
        "Load the demo world (two programs, markets, vendors, households, coupons), or find it "
        "if it is there, and print the demo logins and device tokens. Development only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON object (users, device_tokens, funder_tokens, coupons, households) "
            "and nothing else.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            self.stderr.write(
                "Warning: DEBUG is off. The demo accounts share a published password: never "
                "load the demo into a production database."
            )
        try:
            world = demo.seed()
        except IssuanceError as error:
            raise CommandError(error.message) from error
        if options["json"]:
            self.stdout.write(json.dumps(self._as_json(world), ensure_ascii=False))
        else:
            self._print_table(world)

    def _as_json(self, world: demo.DemoWorld) -> dict[str, Any]:
        return {
            "users": [
                {
                    "email": login.email,
                    "password": login.password,
                    "role": login.role,
                    "scope": login.scope,
                }
                for login in world.logins
            ],
            "device_tokens": [
                {"vendor": d.vendor.slug, "market": d.market.slug, "token": d.token}
                for d in world.devices
            ],
            "funder_tokens": [
                {"funder": t.funder.name, "programs": t.programs, "token": t.token}
                for t in world.funder_tokens
            ],
            "coupons": [
                {
                    "code": codes.format_code(coupon.code),
                    "qr": qr_text_for(coupon),
                    "program": coupon.program.slug,
                    "value": str(coupon.value),
                    "status": coupon.status,
                    "serial": coupon.serial,
                    "household": coupon.household.reference if coupon.household else None,
                    "distribution": coupon.distribution,
                    "valid_from": coupon.valid_from.isoformat(),
                    "valid_until": coupon.valid_until.isoformat(),
                }
                for coupon in world.coupons()
            ],
            "households": [
                {
                    "name": household.name,
                    "reference": household.reference,
                    "organization": household.organization.slug,
                    "program": household.program.slug,
                    "size": household.size,
                }
                for household in world.households
            ],
        }

    def _print_table(self, world: demo.DemoWorld) -> None:
        roles = dict(Role.choices)
        write = self.stdout.write
        write(self.style.SUCCESS(_("Démo prête.")))
        write("")
        write(_("Comptes (mot de passe pour tous : {password})").format(password=demo.PASSWORD))
        width = max(len(login.email) for login in world.logins)
        for login in world.logins:
            role = str(roles.get(login.role, login.role))
            scope = f" ({login.scope})" if login.scope else ""
            write("  " + login.email.ljust(width) + "  " + role + scope)
        write("")
        write(_("Jetons d'appareils (API de validation et lecteur autonome)"))
        for device in world.devices:
            write(
                "  "
                + _("{vendor} au {market}").format(
                    vendor=device.vendor.name, market=device.market.name
                )
            )
            write("    " + device.token)
        write("")
        write(_("Jetons des bailleurs de fonds (API des rapports)"))
        for funder_token in world.funder_tokens:
            write("  " + funder_token.funder.name + " : " + ", ".join(funder_token.programs))
            write("    " + funder_token.token)
        write("")
        counts: dict[str, int] = {}
        for coupon in world.coupons():
            counts[coupon.status] = counts.get(coupon.status, 0) + 1
        write(
            _(
                "{households} ménages, {issued} coupons non échangés, {redeemed} échangés. "
                "« seed_demo --json » donne leurs codes."
            ).format(
                households=len(world.households),
                issued=counts.get("issued", 0),
                redeemed=counts.get("redeemed", 0),
            )
        )
