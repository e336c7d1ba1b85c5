from decimal import Decimal

from django import template

from programmes.money import format_money

register = template.Library()


@register.filter(name="money")
def money(value: Decimal | None, currency: str = "CAD") -> str:
    """{{ amount|money }} → "5,00 $" in French, "$5.00" in English."""
    return format_money(value, currency)
