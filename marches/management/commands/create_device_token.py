"""Make a device token for a vendor (scripts, tests, a scanner set up by hand).

    python manage.py create_device_token --vendor marchand@example.org [--market SLUG] [--name X]

Prints only the token on stdout, so that `TOKEN=$(python manage.py create_device_token …)` works.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marches.models import Market, Vendor
from marches.services import DeviceError, create_device


class Command(BaseCommand):
    help = "Create a scanning device for a vendor at a market and print its token (only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--vendor", required=True, help="The vendor's slug, or the email of one of its members."
        )
        parser.add_argument(
            "--market", help="The market's slug (default: the vendor's first market)."
        )
        parser.add_argument("--name", default="", help="The device's name.")

    def handle(self, *args: Any, **options: Any) -> None:
        vendor = self._vendor(options["vendor"].strip())
        market = self._market(vendor, (options.get("market") or "").strip())
        try:
            _device, token = create_device(
                vendor=vendor,
                market=market,
                name=options["name"] or "Jeton (ligne de commande)",
                created_by=None,
            )
        except DeviceError as error:
            raise CommandError(error.message) from error
        self.stdout.write(token)

    def _vendor(self, text: str) -> Vendor:
        if "@" in text:
            vendors = list(Vendor.objects.filter(members__email__iexact=text).distinct())
            if not vendors:
                raise CommandError(f"No vendor has a member with the email {text}.")
            if len(vendors) > 1:
                slugs = ", ".join(v.slug for v in vendors)
                raise CommandError(
                    f"{text} is a member of several vendors ({slugs}): pass a vendor slug."
                )
            return vendors[0]
        vendor = Vendor.objects.filter(slug=text).first()
        if vendor is None:
            raise CommandError(f"Unknown vendor: {text}.")
        return vendor

    def _market(self, vendor: Vendor, slug: str) -> Market:
        markets = vendor.markets.order_by("name", "pk")
        if slug:
            market = markets.filter(slug=slug).first()
            if market is None:
                raise CommandError(f"{vendor.slug} does not sell at a market with slug {slug}.")
            return market
        market = markets.first()
        if market is None:
            raise CommandError(f"{vendor.slug} does not sell at any market yet.")
        return market
