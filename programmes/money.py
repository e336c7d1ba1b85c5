"""Money: Decimal with two places, rounded in exactly one place."""

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency
from django.utils.translation import get_language

MONEY_MAX_DIGITS = 13
MONEY_DECIMAL_PLACES = 2
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def quantize(value: Decimal | int | str) -> Decimal:
    """The one rounding of money in the code base (half up, to the cent)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    return int(quantize(value) * 100)


def from_cents(cents: int) -> Decimal:
    return quantize(Decimal(cents) / 100)


def format_money(value: Decimal | None, currency: str = "CAD", language: str | None = None) -> str:
    """'5,00 $' in French, '$5.00' in English."""
    if value is None:
        value = ZERO
    language = language or get_language() or "fr-ca"
    locale = "en_CA" if language.startswith("en") else "fr_CA"
    return format_currency(quantize(value), currency, locale=locale)
