"""Writes of the markets app: markets, vendors and their scanning devices.

Redeeming coupons lives in `marches/redemptions.py`.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptes.models import User
from marches.models import Device, Market, Vendor
from programmes.models import ProductCategory, Program
from programmes.slugs import save_with_free_slug

# Devices ---------------------------------------------------------------------------------------

TOKEN_PREFIX = "pcn_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_device(
    *, vendor: Vendor, market: Market, name: str, created_by: User | None
) -> tuple[Device, str]:
    """Make a device token for `vendor` at `market`. The token is returned once, never stored."""
    if not vendor.markets.filter(pk=market.pk).exists():
        raise DeviceError(
            "vendor_not_at_market",
            _("{vendor} ne vend pas à ce marché ({market}).").format(vendor=vendor, market=market),
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = Device.objects.create(
        vendor=vendor,
        market=market,
        name=name.strip() or _("Appareil"),
        token_hash=hash_token(token),
        token_prefix=token[:8],
        created_by=created_by,
    )
    return device, token


def revoke_device(*, device: Device) -> Device:
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
    return device


def authenticate_device(token: str) -> Device | None:
    """The active device holding this token, or None. Marks it as seen."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    device = (
        Device.objects.select_related("vendor", "market")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if device is not None:
        now = timezone.now()
        # One write a minute at most, not one per scan.
        if device.last_used_at is None or now - device.last_used_at > datetime.timedelta(minutes=1):
            Device.objects.filter(pk=device.pk).update(last_used_at=now)
    return device


class DeviceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Markets and vendors ---------------------------------------------------------------------------


class MarketError(Exception):
    """A market or vendor change that cannot be made: `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def create_market(
    *, name: str, city: str, address: str = "", program: Program | None = None
) -> Market:
    """A new public market, accepting `program`'s coupons when given."""
    name, city, address = name.strip(), city.strip(), address.strip()
    if not name or not city:
        raise MarketError("missing_fields", _("Le nom et la municipalité sont obligatoires."))
    if Market.objects.filter(name__iexact=name, city__iexact=city).exists():
        raise MarketError(
            "duplicate_market",
            _(
                "Le marché {name} ({city}) existe déjà : ajoutez-le au programme au lieu de le "
                "créer."
            ).format(name=name, city=city),
        )
    with transaction.atomic():
        market = save_with_free_slug(
            Market,
            name,
            lambda slug: Market.objects.create(name=name, city=city, address=address, slug=slug),
            fallback="marche",
        )
        if program is not None:
            market.programs.add(program)
    return market


def add_market_to_program(*, market: Market, program: Program) -> Market:
    """Make `market` accept `program`'s coupons (idempotent)."""
    market.programs.add(program)
    return market


def remove_market_from_program(*, market: Market, program: Program) -> Market:
    """Stop accepting `program`'s coupons at `market`. Past redemptions stay as they are."""
    if not market.programs.filter(pk=program.pk).exists():
        raise MarketError(
            "not_in_program",
            _("{market} n'accepte pas les coupons du programme {program}.").format(
                market=market, program=program
            ),
        )
    market.programs.remove(program)
    return market


def create_vendor(
    *, name: str, market: Market, categories: Iterable[ProductCategory] = ()
) -> Vendor:
    """A new vendor who sells at `market` the given product categories."""
    name = name.strip()
    if not name:
        raise MarketError("missing_fields", _("Le nom de l'entreprise est obligatoire."))
    if market.vendors.filter(name__iexact=name).exists():
        raise MarketError(
            "duplicate_vendor",
            _("{vendor} vend déjà à ce marché ({market}).").format(vendor=name, market=market),
        )
    with transaction.atomic():
        vendor = save_with_free_slug(
            Vendor,
            name,
            lambda slug: Vendor.objects.create(name=name, slug=slug),
            fallback="marchand",
        )
        vendor.markets.add(market)
        vendor.categories.set(list(categories))
    return vendor
