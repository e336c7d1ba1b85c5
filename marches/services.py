"""Writes of the markets app: markets, their days, vendors and their scanning devices.

Redeeming coupons lives in `marches/redemptions.py`.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from comptes.models import User
from coupons.selectors import columns_sql, model_from_row
from marches.models import Device, Market, MarketDay, Redemption, Vendor
from marches.selectors import day_bounds, local_currency_programs
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
    """The active device holding this token, with its vendor and market, or None. Marks it as
    seen, at most once a minute.

    Every scanner request starts here, so the look-up is one hand-written query (see
    coupons.selectors.columns_sql): Device.objects.select_related("vendor", "market").
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns_sql(Device, 'd')}, {columns_sql(Vendor, 'v')},"
            f" {columns_sql(Market, 'm')} FROM {Device._meta.db_table} d"
            f" JOIN {Vendor._meta.db_table} v ON v.id = d.vendor_id"
            f" JOIN {Market._meta.db_table} m ON m.id = d.market_id"
            " WHERE d.token_hash = %s AND d.revoked_at IS NULL",
            [hash_token(token)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    vendor_at = len(Device._meta.concrete_fields)
    market_at = vendor_at + len(Vendor._meta.concrete_fields)
    device = model_from_row(Device, row[:vendor_at])
    device.vendor = model_from_row(Vendor, row[vendor_at:market_at])
    device.market = model_from_row(Market, row[market_at:])
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


MAX_ADDRESS_LENGTH = 255
MAX_CITY_LENGTH = 120
MAX_VENDOR_NAME_LENGTH = 160
MAX_DAY_NOTE_LENGTH = 120
# One bulk addition covers at most a year of days: a longer range is a typing mistake.
MAX_DAYS_RANGE = datetime.timedelta(days=366)


def _date(value: datetime.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def update_market(
    *,
    market: Market,
    city: str,
    address: str = "",
    season_start: datetime.date | None = None,
    season_end: datetime.date | None = None,
) -> Market:
    """Change a market's city, address and season. Its market days must stay in the season."""
    city, address = (city or "").strip(), (address or "").strip()
    if not city or len(city) > MAX_CITY_LENGTH:
        raise MarketError("missing_fields", _("Indiquez la municipalité (120 caractères au plus)."))
    if len(address) > MAX_ADDRESS_LENGTH:
        raise MarketError("address_too_long", _("L'adresse compte 255 caractères au plus."))
    if (season_start is None) != (season_end is None):
        raise MarketError(
            "incomplete_season",
            _("Indiquez le début et la fin de la saison, ou laissez les deux vides."),
        )
    if season_start is not None and season_end is not None and season_end < season_start:
        raise MarketError(
            "season_ends_before_start",
            _("La fin de la saison doit être le même jour que son début ou après."),
        )
    if (
        Market.objects.filter(name__iexact=market.name, city__iexact=city)
        .exclude(pk=market.pk)
        .exists()
    ):
        raise MarketError(
            "duplicate_market",
            _("Un autre marché porte déjà le nom {name} à {city}.").format(
                name=market.name, city=city
            ),
        )
    with transaction.atomic():
        locked = Market.objects.select_for_update().get(pk=market.pk)
        days = locked.days.all()
        if season_start is None or season_end is None:
            if days.exists():
                raise MarketError(
                    "days_outside_season",
                    _(
                        "Ce marché a des journées au calendrier : retirez-les avant d'effacer "
                        "la saison."
                    ),
                )
        else:
            outside = days.exclude(date__gte=season_start, date__lte=season_end)
            first_outside = outside.order_by("date").first()
            if first_outside is not None:
                raise MarketError(
                    "days_outside_season",
                    _(
                        "La journée de marché du {date} serait hors de la saison : retirez "
                        "d'abord les journées hors saison ({count} en tout)."
                    ).format(date=_date(first_outside.date), count=outside.count()),
                )
        locked.city, locked.address = city, address
        locked.season_start, locked.season_end = season_start, season_end
        locked.save(update_fields=["city", "address", "season_start", "season_end"])
    market.refresh_from_db()
    return market


@dataclass(frozen=True)
class DaysAdded:
    """What `add_market_days` did: the dates it added and those the market already had."""

    created: list[datetime.date]
    skipped: list[datetime.date]


def add_market_days(
    *,
    market: Market,
    start: datetime.date,
    end: datetime.date,
    weekday: int | None = None,
    opens_at: datetime.time | None = None,
    closes_at: datetime.time | None = None,
    note: str = "",
) -> DaysAdded:
    """Add a market day on every `weekday` (0 = Monday; None: every day) from `start` to `end`
    inclusive, with the same hours. Dates the market already has are skipped, not changed."""
    note = (note or "").strip()
    if end < start:
        raise MarketError(
            "range_ends_before_start", _("La date de fin doit être la date de début ou après.")
        )
    if end - start > MAX_DAYS_RANGE:
        raise MarketError(
            "range_too_long", _("Ajoutez au plus un an de journées de marché à la fois.")
        )
    if weekday is not None and not 0 <= weekday <= 6:
        raise MarketError("invalid_weekday", _("Choisissez un jour de la semaine."))
    if (opens_at is None) != (closes_at is None):
        raise MarketError(
            "incomplete_hours",
            _("Indiquez l'heure d'ouverture et celle de fermeture, ou laissez les deux vides."),
        )
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise MarketError(
            "closes_before_opening", _("L'heure de fermeture doit suivre l'heure d'ouverture.")
        )
    if len(note) > MAX_DAY_NOTE_LENGTH:
        raise MarketError("note_too_long", _("La note compte 120 caractères au plus."))
    if market.season_start is None or market.season_end is None:
        raise MarketError(
            "no_season",
            _(
                "Indiquez d'abord la saison du marché (début et fin) : ses journées de marché "
                "s'y placent."
            ),
        )
    if start < market.season_start or end > market.season_end:
        raise MarketError(
            "outside_season",
            _(
                "Les journées de marché doivent tomber dans la saison du marché, du {start} au "
                "{end}."
            ).format(start=_date(market.season_start), end=_date(market.season_end)),
        )
    dates = [
        start + datetime.timedelta(days=offset)
        for offset in range((end - start).days + 1)
        if weekday is None or (start + datetime.timedelta(days=offset)).weekday() == weekday
    ]
    if not dates:
        raise MarketError(
            "no_dates",
            _("Aucune date de ce jour de la semaine entre le {start} et le {end}.").format(
                start=_date(start), end=_date(end)
            ),
        )
    with transaction.atomic():
        existing = set(
            MarketDay.objects.filter(market=market, date__in=dates).values_list("date", flat=True)
        )
        new = [day for day in dates if day not in existing]
        # ignore_conflicts: a concurrent addition of the same date is skipped, not an error.
        MarketDay.objects.bulk_create(
            [
                MarketDay(
                    market=market, date=day, opens_at=opens_at, closes_at=closes_at, note=note
                )
                for day in new
            ],
            ignore_conflicts=True,
        )
    return DaysAdded(created=new, skipped=sorted(existing))


def remove_market_day(*, day: MarketDay) -> None:
    """Remove a market day, unless coupons were redeemed at the market that day."""
    first, after = day_bounds(day.date)
    if Redemption.objects.filter(
        market_id=day.market_id, scanned_at__gte=first, scanned_at__lt=after
    ).exists():
        raise MarketError(
            "day_has_redemptions",
            _(
                "Des coupons ont été échangés à ce marché le {date} : cette journée reste au "
                "calendrier."
            ).format(date=_date(day.date)),
        )
    MarketDay.objects.filter(pk=day.pk).delete()


def update_vendor(
    *,
    vendor: Vendor,
    name: str,
    categories: Iterable[ProductCategory],
    markets: Iterable[Market],
    allowed_markets: Iterable[Market],
    payout: str = Vendor.Payout.DOLLARS,
) -> Vendor:
    """Change a vendor's name, products, markets and payout preference.

    `allowed_markets` are those the editing person may add the vendor to or take it from (the
    markets they manage or whose programs they coordinate); its other markets stay as they are.
    A payout in local currency needs a program of its markets that has one.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_VENDOR_NAME_LENGTH:
        raise MarketError(
            "missing_fields", _("Indiquez le nom de l'entreprise (160 caractères au plus).")
        )
    if payout not in Vendor.Payout.values:
        raise MarketError("invalid_payout", _("Choisissez comment l'entreprise est remboursée."))
    allowed = {market.pk for market in allowed_markets}
    chosen = {market.pk for market in markets}
    if not chosen <= allowed:
        raise MarketError(
            "market_not_allowed",
            _("Vous ne pouvez ajouter l'entreprise qu'aux marchés dont vous vous occupez."),
        )
    with transaction.atomic():
        locked = Vendor.objects.select_for_update().get(pk=vendor.pk)
        current = set(locked.markets.values_list("pk", flat=True))
        final = (current - allowed) | chosen
        if not final:
            raise MarketError("no_market", _("L'entreprise doit vendre à au moins un marché."))
        final_markets = list(Market.objects.filter(pk__in=final))
        clash = (
            Vendor.markets.through.objects.filter(market_id__in=final, vendor__name__iexact=name)
            .exclude(vendor_id=locked.pk)
            .select_related("market")
            .first()
        )
        if clash is not None:
            raise MarketError(
                "duplicate_vendor",
                _("Une autre entreprise nommée {vendor} vend déjà à {market}.").format(
                    vendor=name, market=clash.market.name
                ),
            )
        if payout == Vendor.Payout.LOCAL and not local_currency_programs(final_markets).exists():
            raise MarketError(
                "no_local_currency",
                _(
                    "Aucun programme accepté à ses marchés n'a de monnaie locale : l'entreprise "
                    "est remboursée en dollars."
                ),
            )
        locked.name, locked.payout = name, payout
        locked.save(update_fields=["name", "payout"])
        locked.markets.set(final_markets)
        locked.categories.set(list(categories))
    vendor.refresh_from_db()
    return vendor
