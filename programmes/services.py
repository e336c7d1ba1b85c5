"""Writes of the programs app: creating and configuring programs."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import formats
from django.utils.translation import gettext as _

from comptes.models import User
from programmes.allotment import AllotmentError, distribution_dates, split_into_denominations
from programmes.logos import LogoError, normalize_logo
from programmes.models import (
    AllotmentRule,
    Denomination,
    DistributionFrequency,
    ProductCategory,
    Program,
    ProgramLogo,
    Territory,
)
from programmes.money import format_money, quantize
from programmes.slugs import save_with_free_slug
from programmes.text import one_line, tidy_lines

SERIAL_PREFIX_RE = re.compile(r"^[A-Z0-9]{1,6}$")
SUPPORTED_CURRENCIES = frozenset({"CAD"})
MAX_NAME_LENGTH = 160
# Bounds that keep the allotment arithmetic (an exact coin-change) fast and the rules sane.
MAX_COUPON_VALUE = Decimal("1000.00")
MAX_ALLOTMENT_AMOUNT = Decimal("1000.00")
MAX_DENOMINATIONS = 8
MAX_ALLOTMENT_RULES = 10
MAX_HOUSEHOLD_SIZE = 40
MAX_DISTRIBUTIONS = 52
MAX_VALIDITY_DAYS = 366
# What one scanner may accept offline before it syncs again.
MAX_OFFLINE_COUNT = 500
MAX_OFFLINE_VALUE = Decimal("5000.00")
MAX_LOCAL_CURRENCY_LENGTH = 40
# Program.local_rate: 10 digits, 4 of them decimals.
MAX_LOCAL_RATE = Decimal("999999.9999")
RATE_PLACES = Decimal("0.0001")
# Slugs that would collide with the program pages' own paths (/programmes/nouveau/).
RESERVED_SLUGS = frozenset({"nouveau"})
MAX_FUND_HOLDER_LENGTH = 160
MAX_FUND_HOLDER_ADDRESS_LENGTH = 300
# A charity's registration number with the Canada Revenue Agency: the 9-digit business number,
# the "RR" program identifier and a 4-digit reference number (123456789RR0001).
CHARITY_NUMBER_RE = re.compile(r"^\d{9}RR\d{4}$")
# The public solidarity sale: one pack's price and value, the subsidy allotted, packs per purchase.
MAX_SALE_AMOUNT = Decimal("1000.00")
MAX_SALE_SUBSIDY = Decimal("1000000.00")
MAX_SALE_PACKS = 20
DEFAULT_SALE_PACKS = 5


class ProgramError(Exception):
    """A program change that cannot be made: `code` is machine-readable, the message translated.

    `field` names the input at fault (the form field of the same name), when there is one.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class _Sale:
    enabled: bool
    price: Decimal | None
    value: Decimal | None
    subsidy_cap: Decimal
    max_packs: int


@dataclass(frozen=True)
class _Settings:
    name: str
    territory: Territory
    season_start: datetime.date
    season_end: datetime.date
    currency: str
    serial_prefix: str
    distribution_count: int
    distribution_frequency: str
    coupon_validity_days: int | None
    categories: list[ProductCategory]
    denominations: list[Decimal]
    allotment_rules: list[tuple[int, Decimal]]
    logo: bytes | None
    remove_logo: bool
    offline_max_count: int
    offline_max_value: Decimal
    local_currency: str
    local_rate: Decimal | None
    fund_holder: str
    charity_number: str
    fund_holder_address: str
    receipt_signatory: str
    sale: _Sale


@dataclass(frozen=True)
class ProgramSetup:
    """What a coordinator sets for a program, as typed: `_validate` checks and normalises it."""

    name: str
    territory_name: str
    territory_kind: str
    season_start: datetime.date
    season_end: datetime.date
    serial_prefix: str
    distribution_count: int
    distribution_frequency: str
    categories: Iterable[ProductCategory]
    denominations: Sequence[Decimal]
    allotment_rules: Sequence[tuple[int, Decimal]]
    currency: str = "CAD"
    coupon_validity_days: int | None = None
    # The bytes of an uploaded logo image (None: keep the current one); remove_logo drops it.
    logo: bytes | None = None
    remove_logo: bool = False
    # Offline scanning, per device: at most this many coupons, and this value, before a sync.
    offline_max_count: int = 20
    offline_max_value: Decimal = Decimal("100.00")
    # A local currency vendors may be reimbursed in (its name, and units for 1 $ CA), or none.
    local_currency: str = ""
    local_rate: Decimal | None = None
    # Who holds the funds (a trustee), and its charity registration number: with one, its
    # address and who signs for it, donation receipts are official tax receipts.
    fund_holder: str = ""
    charity_number: str = ""
    fund_holder_address: str = ""
    receipt_signatory: str = ""
    # The public solidarity sale: a pack of `sale_value` in coupons sold for `sale_price`, the
    # difference drawn from the funds until `sale_subsidy_cap` is spent.
    sale_enabled: bool = False
    sale_price: Decimal | None = None
    sale_value: Decimal | None = None
    sale_subsidy_cap: Decimal = Decimal("0.00")
    sale_max_packs: int = DEFAULT_SALE_PACKS


def create_program(*, setup: ProgramSetup, created_by: User) -> Program:
    """A new program; `created_by` becomes its coordinator."""
    with transaction.atomic():
        settings = _validate(setup)

        def save(slug: str) -> Program:
            program = Program(slug=slug)
            _apply(program, settings)
            return program

        program = save_with_free_slug(
            Program, settings.name, save, fallback="programme", reserved=RESERVED_SLUGS
        )
        program.coordinators.add(created_by)
    return program


def update_program(*, program: Program, setup: ProgramSetup) -> Program:
    """Change a program's settings. Coupons already issued keep their value and validity."""
    with transaction.atomic():
        locked = Program.objects.select_for_update().get(pk=program.pk)
        settings = _validate(setup)
        _apply(locked, settings)
    program.refresh_from_db()
    return program


def _apply(program: Program, settings: _Settings) -> None:
    program.name = settings.name
    program.territory = settings.territory
    program.season_start = settings.season_start
    program.season_end = settings.season_end
    program.currency = settings.currency
    program.serial_prefix = settings.serial_prefix
    program.distribution_count = settings.distribution_count
    program.distribution_frequency = settings.distribution_frequency
    program.coupon_validity_days = settings.coupon_validity_days
    program.offline_max_count = settings.offline_max_count
    program.offline_max_value = settings.offline_max_value
    program.local_currency = settings.local_currency
    program.local_rate = settings.local_rate
    program.fund_holder = settings.fund_holder
    program.charity_number = settings.charity_number
    program.fund_holder_address = settings.fund_holder_address
    program.receipt_signatory = settings.receipt_signatory
    program.sale_enabled = settings.sale.enabled
    program.sale_price = settings.sale.price
    program.sale_value = settings.sale.value
    program.sale_subsidy_cap = settings.sale.subsidy_cap
    program.sale_max_packs = settings.sale.max_packs
    program.save()
    if settings.logo is not None:
        ProgramLogo.objects.update_or_create(program=program, defaults={"png": settings.logo})
    elif settings.remove_logo:
        ProgramLogo.objects.filter(program=program).delete()
    program.categories.set(settings.categories)
    program.denominations.all().delete()
    Denomination.objects.bulk_create(
        Denomination(program=program, value=value) for value in settings.denominations
    )
    program.allotment_rules.all().delete()
    AllotmentRule.objects.bulk_create(
        AllotmentRule(program=program, household_size=size, amount=amount)
        for size, amount in settings.allotment_rules
    )


def _validate(setup: ProgramSetup) -> _Settings:
    """Check every rule, then return the normalised settings. Writes only the territory."""
    name, territory_name, territory_kind = setup.name, setup.territory_name, setup.territory_kind
    season_start, season_end = setup.season_start, setup.season_end
    currency, serial_prefix = setup.currency, setup.serial_prefix
    distribution_count = setup.distribution_count
    frequency = setup.distribution_frequency
    validity_days = setup.coupon_validity_days
    categories, denominations = setup.categories, setup.denominations
    allotment_rules = setup.allotment_rules
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ProgramError(
            "invalid_name", _("Indiquez le nom du programme (160 caractères au plus)."), "name"
        )
    territory_name = (territory_name or "").strip()
    if not territory_name or len(territory_name) > 120:
        raise ProgramError(
            "invalid_territory",
            _("Indiquez le nom du territoire (120 caractères au plus)."),
            "territory_name",
        )
    if territory_kind not in Territory.Kind.values:
        raise ProgramError(
            "invalid_territory_kind", _("Choisissez un type de territoire."), "territory_kind"
        )
    if season_end < season_start:
        raise ProgramError(
            "season_ends_before_start",
            _("La fin de la saison doit être le même jour que son début ou après."),
            "season_end",
        )
    currency = (currency or "").strip().upper()
    if currency not in SUPPORTED_CURRENCIES:
        raise ProgramError(
            "unsupported_currency", _("Seul le dollar canadien (CAD) est accepté."), "currency"
        )
    serial_prefix = (serial_prefix or "").strip().upper()
    if not SERIAL_PREFIX_RE.match(serial_prefix):
        raise ProgramError(
            "invalid_serial_prefix",
            _("Le préfixe compte de 1 à 6 lettres non accentuées ou chiffres (ex. PORT)."),
            "serial_prefix",
        )
    if not 1 <= distribution_count <= MAX_DISTRIBUTIONS:
        raise ProgramError(
            "invalid_distribution_count",
            _("Le nombre de distributions va de 1 à {max}.").format(max=MAX_DISTRIBUTIONS),
            "distribution_count",
        )
    if frequency not in DistributionFrequency.values:
        raise ProgramError(
            "invalid_distribution_frequency",
            _("Choisissez la fréquence des distributions."),
            "distribution_frequency",
        )
    if frequency == DistributionFrequency.ONCE:
        distribution_count = 1
    last_distribution = distribution_dates(season_start, frequency, distribution_count)[-1]
    if last_distribution > season_end:
        raise ProgramError(
            "distributions_exceed_season",
            _(
                "La dernière distribution aurait lieu le {date}, après la fin de la saison : "
                "réduisez le nombre de distributions, rapprochez-les ou allongez la saison."
            ).format(date=formats.date_format(last_distribution, "DATE_FORMAT")),
            "distribution_count",
        )
    if validity_days is not None and not 1 <= validity_days <= MAX_VALIDITY_DAYS:
        raise ProgramError(
            "invalid_coupon_validity",
            _("La validité d'un coupon va de 1 à {max} jours.").format(max=MAX_VALIDITY_DAYS),
            "coupon_validity_days",
        )
    category_list = list(categories)
    if not category_list:
        raise ProgramError(
            "no_categories",
            _("Choisissez au moins une catégorie de produits admissibles."),
            "categories",
        )
    values = _validate_denominations(denominations)
    rules = _validate_rules(allotment_rules, values)
    offline_count, offline_value = _validate_offline(
        setup.offline_max_count, setup.offline_max_value
    )
    local_currency, local_rate = _validate_local_currency(setup.local_currency, setup.local_rate)
    holder = _validate_fund_holder(setup)
    sale = _validate_sale(setup, values)
    logo = None
    if setup.logo is not None:
        try:
            logo = normalize_logo(setup.logo)
        except LogoError as error:
            raise ProgramError(error.code, error.message, "logo") from error
    territory, _created = Territory.objects.get_or_create(name=territory_name, kind=territory_kind)
    return _Settings(
        name=name,
        territory=territory,
        season_start=season_start,
        season_end=season_end,
        currency=currency,
        serial_prefix=serial_prefix,
        distribution_count=distribution_count,
        distribution_frequency=frequency,
        coupon_validity_days=validity_days,
        categories=category_list,
        denominations=values,
        allotment_rules=rules,
        logo=logo,
        remove_logo=setup.remove_logo,
        offline_max_count=offline_count,
        offline_max_value=offline_value,
        local_currency=local_currency,
        local_rate=local_rate,
        fund_holder=holder.name,
        charity_number=holder.charity_number,
        fund_holder_address=holder.address,
        receipt_signatory=holder.signatory,
        sale=sale,
    )


@dataclass(frozen=True)
class _FundHolder:
    name: str
    charity_number: str
    address: str
    signatory: str


def _at_most(value: str, limit: int, code: str, message: str, field: str) -> str:
    if len(value) > limit:
        raise ProgramError(code, message.format(max=limit), field)
    return value


def _validate_fund_holder(setup: ProgramSetup) -> _FundHolder:
    """The trustee's name, its charity number without spaces ("123456789RR0001"), and what an
    official receipt must also carry: the charity's address and who signs for it."""
    name = _at_most(
        one_line(setup.fund_holder),
        MAX_FUND_HOLDER_LENGTH,
        "invalid_fund_holder",
        _("Le nom de l'organisme fiduciaire compte {max} caractères au plus."),
        "fund_holder",
    )
    address = _at_most(
        tidy_lines(setup.fund_holder_address),
        MAX_FUND_HOLDER_ADDRESS_LENGTH,
        "invalid_fund_holder_address",
        _("L'adresse de l'organisme fiduciaire compte {max} caractères au plus."),
        "fund_holder_address",
    )
    signatory = _at_most(
        one_line(setup.receipt_signatory),
        MAX_FUND_HOLDER_LENGTH,
        "invalid_receipt_signatory",
        _("Le nom de la personne signataire compte {max} caractères au plus."),
        "receipt_signatory",
    )
    number = "".join((setup.charity_number or "").split()).upper()
    if not number:
        return _FundHolder(name, "", address, signatory)
    if not CHARITY_NUMBER_RE.match(number):
        raise ProgramError(
            "invalid_charity_number",
            _(
                "Le numéro d'enregistrement d'organisme de bienfaisance compte 9 chiffres, "
                "les lettres RR et 4 chiffres (ex. 123456789RR0001)."
            ),
            "charity_number",
        )
    if not name:
        # An official receipt names the charity that issues it.
        raise ProgramError(
            "charity_number_without_fund_holder",
            _(
                "Indiquez l'organisme fiduciaire des fonds : c'est lui, l'organisme de "
                "bienfaisance dont le numéro figure sur les reçus."
            ),
            "fund_holder",
        )
    if not address:
        raise ProgramError(
            "charity_number_without_address",
            _(
                "Indiquez l'adresse de l'organisme fiduciaire, telle qu'enregistrée auprès de "
                "l'Agence du revenu du Canada : elle figure sur les reçus officiels."
            ),
            "fund_holder_address",
        )
    if not signatory:
        raise ProgramError(
            "charity_number_without_signatory",
            _(
                "Indiquez la personne autorisée à signer les reçus officiels au nom de "
                "l'organisme (nom et fonction)."
            ),
            "receipt_signatory",
        )
    return _FundHolder(name, number, address, signatory)


def _sale_amount(value: Decimal | None, *, code: str, message: str, field: str) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value <= 0 or value > MAX_SALE_AMOUNT or value != quantize(value):
        raise ProgramError(code, message, field)
    return quantize(value)


def _validate_sale(setup: ProgramSetup, denominations: list[Decimal]) -> _Sale:
    """The sale's settings, checked even while it is off so that turning it on finds them sane;
    an open sale needs a price, a value above it, and a value the coupon values can make."""
    price = _sale_amount(
        setup.sale_price,
        code="invalid_sale_price",
        message=_(
            "Le prix d'un carnet est plus grand que 0 et d'au plus {max}, en dollars et en cents."
        ).format(max=format_money(MAX_SALE_AMOUNT)),
        field="sale_price",
    )
    value = _sale_amount(
        setup.sale_value,
        code="invalid_sale_value",
        message=_(
            "La valeur en coupons d'un carnet est plus grande que 0 et d'au plus {max}, en "
            "dollars et en cents."
        ).format(max=format_money(MAX_SALE_AMOUNT)),
        field="sale_value",
    )
    cap = setup.sale_subsidy_cap
    if (
        cap is None
        or not cap.is_finite()
        or cap < 0
        or cap > MAX_SALE_SUBSIDY
        or cap != quantize(cap)
    ):
        raise ProgramError(
            "invalid_sale_subsidy_cap",
            _("La subvention allouée à la vente va de 0 à {max}, en dollars et en cents.").format(
                max=format_money(MAX_SALE_SUBSIDY)
            ),
            "sale_subsidy_cap",
        )
    packs = setup.sale_max_packs
    if packs is None or not 1 <= packs <= MAX_SALE_PACKS:
        raise ProgramError(
            "invalid_sale_max_packs",
            _("Le nombre de carnets par achat va de 1 à {max}.").format(max=MAX_SALE_PACKS),
            "sale_max_packs",
        )
    if setup.sale_enabled and price is None:
        raise ProgramError(
            "sale_price_required",
            _("Indiquez le prix d'un carnet pour ouvrir la vente solidaire."),
            "sale_price",
        )
    if setup.sale_enabled and value is None:
        raise ProgramError(
            "sale_value_required",
            _("Indiquez la valeur en coupons d'un carnet pour ouvrir la vente solidaire."),
            "sale_value",
        )
    if price is not None and value is not None and value <= price:
        raise ProgramError(
            "sale_value_not_above_price",
            _(
                "La valeur en coupons d'un carnet doit dépasser son prix (ex. 30 $ de coupons "
                "pour 20 $) : la différence est la subvention du programme."
            ),
            "sale_value",
        )
    if setup.sale_enabled and value is not None:
        # The coupons of a pack are made of the program's coupon values, as an allotment is.
        try:
            split_into_denominations(value, denominations)
        except AllotmentError as error:
            raise ProgramError(
                "sale_value_not_composable",
                _(
                    "La valeur d'un carnet, {value}, ne peut pas être composée avec les valeurs "
                    "de coupons {values}."
                ).format(
                    value=format_money(value),
                    values=", ".join(format_money(item) for item in denominations),
                ),
                "sale_value",
            ) from error
    return _Sale(
        enabled=bool(setup.sale_enabled),
        price=price,
        value=value,
        subsidy_cap=quantize(cap),
        max_packs=packs,
    )


def _validate_offline(count: int | None, value: Decimal | None) -> tuple[int, Decimal]:
    if count is None or not 0 <= count <= MAX_OFFLINE_COUNT:
        raise ProgramError(
            "invalid_offline_count",
            _("Le nombre de coupons hors ligne par appareil va de 0 à {max}.").format(
                max=MAX_OFFLINE_COUNT
            ),
            "offline_max_count",
        )
    if (
        value is None
        or not value.is_finite()
        or value < 0
        or value > MAX_OFFLINE_VALUE
        or value != quantize(value)
    ):
        raise ProgramError(
            "invalid_offline_value",
            _("La valeur hors ligne par appareil va de 0 à {max}, en dollars et en cents.").format(
                max=format_money(MAX_OFFLINE_VALUE)
            ),
            "offline_max_value",
        )
    return count, quantize(value)


def _validate_local_currency(name: str, rate: Decimal | None) -> tuple[str, Decimal | None]:
    """A local currency has a name and a rate (units for 1 $ CA); no name, no rate."""
    name = " ".join((name or "").split())
    if len(name) > MAX_LOCAL_CURRENCY_LENGTH:
        raise ProgramError(
            "invalid_local_currency",
            _("Le nom de la monnaie locale compte {max} caractères au plus.").format(
                max=MAX_LOCAL_CURRENCY_LENGTH
            ),
            "local_currency",
        )
    if not name:
        if rate is not None:
            raise ProgramError(
                "local_rate_without_currency",
                _("Indiquez le nom de la monnaie locale, ou laissez son taux vide."),
                "local_currency",
            )
        return "", None
    if rate is None:
        raise ProgramError(
            "local_rate_required",
            _("Indiquez le taux de la monnaie locale : combien d'unités pour 1 $ CA."),
            "local_rate",
        )
    if (
        not rate.is_finite()
        or rate <= 0
        or rate > MAX_LOCAL_RATE
        or rate != rate.quantize(RATE_PLACES)
    ):
        raise ProgramError(
            "invalid_local_rate",
            _(
                "Le taux de la monnaie locale est un nombre plus grand que 0 avec au plus 4 "
                "décimales (ex. 1.25)."
            ),
            "local_rate",
        )
    return name, rate.quantize(RATE_PLACES)


def _validate_denominations(denominations: Sequence[Decimal]) -> list[Decimal]:
    if not denominations:
        raise ProgramError(
            "no_denominations", _("Indiquez au moins une valeur de coupon."), "denominations"
        )
    values: set[Decimal] = set()
    for value in denominations:
        if not value.is_finite() or value <= 0 or value > MAX_COUPON_VALUE:
            raise ProgramError(
                "invalid_denomination",
                _("Chaque valeur de coupon doit être plus grande que 0 et d'au plus {max}.").format(
                    max=format_money(MAX_COUPON_VALUE)
                ),
                "denominations",
            )
        if value != quantize(value):
            raise ProgramError(
                "invalid_denomination",
                _("Une valeur de coupon a au plus deux décimales (ex. 2.50)."),
                "denominations",
            )
        values.add(quantize(value))
    if len(values) > MAX_DENOMINATIONS:
        raise ProgramError(
            "too_many_denominations",
            _("Un programme a au plus {max} valeurs de coupons.").format(max=MAX_DENOMINATIONS),
            "denominations",
        )
    return sorted(values, reverse=True)


def _validate_rules(
    allotment_rules: Sequence[tuple[int, Decimal]], denominations: list[Decimal]
) -> list[tuple[int, Decimal]]:
    if not allotment_rules:
        raise ProgramError(
            "no_allotment_rules",
            _("Indiquez au moins une règle d'allocation, à partir d'une personne."),
            "allotment",
        )
    if len(allotment_rules) > MAX_ALLOTMENT_RULES:
        raise ProgramError(
            "too_many_allotment_rules",
            _("Un programme a au plus {max} règles d'allocation.").format(max=MAX_ALLOTMENT_RULES),
            "allotment",
        )
    rules = sorted(allotment_rules, key=lambda rule: rule[0])
    sizes = [size for size, _amount in rules]
    if len(set(sizes)) != len(sizes):
        raise ProgramError(
            "duplicate_household_size",
            _("Chaque taille de ménage n'a qu'une règle d'allocation."),
            "allotment",
        )
    if sizes[0] != 1:
        raise ProgramError(
            "first_rule_not_one",
            _("La première règle d'allocation doit commencer à un ménage d'une personne."),
            "allotment",
        )
    if sizes[-1] > MAX_HOUSEHOLD_SIZE:
        raise ProgramError(
            "invalid_household_size",
            _("Une taille de ménage va de 1 à {max} personnes.").format(max=MAX_HOUSEHOLD_SIZE),
            "allotment",
        )
    normalised: list[tuple[int, Decimal]] = []
    for size, amount in rules:
        if not amount.is_finite() or amount <= 0 or amount > MAX_ALLOTMENT_AMOUNT:
            raise ProgramError(
                "invalid_allotment_amount",
                _(
                    "Le montant par distribution doit être plus grand que 0 et d'au plus {max}."
                ).format(max=format_money(MAX_ALLOTMENT_AMOUNT)),
                "allotment",
            )
        if amount != quantize(amount):
            raise ProgramError(
                "invalid_allotment_amount",
                _("Un montant a au plus deux décimales (ex. 27.50)."),
                "allotment",
            )
        try:
            split_into_denominations(amount, denominations)
        except AllotmentError as error:
            raise ProgramError(
                "allotment_not_composable",
                _(
                    "Le montant {amount} (ménages de {size} personne(s) et plus) ne peut pas être "
                    "composé avec les valeurs de coupons {values}."
                ).format(
                    amount=format_money(amount),
                    size=size,
                    values=", ".join(format_money(value) for value in denominations),
                ),
                "allotment",
            ) from error
        normalised.append((size, quantize(amount)))
    return normalised
