"""Forms of the markets app: they validate input; services make the changes."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from marches.models import Market
from programmes.models import ProductCategory

CODE_MAX_LENGTH = 512


class MarketForm(forms.Form):
    name = forms.CharField(label=_("Nom du marché"), max_length=160)
    city = forms.CharField(label=_("Municipalité"), max_length=120)
    address = forms.CharField(label=_("Adresse"), max_length=255, required=False)


class ExistingMarketForm(forms.Form):
    market = forms.ModelChoiceField(
        label=_("Marché existant"),
        queryset=Market.objects.none(),
        to_field_name="slug",
        empty_label=_("— Choisir un marché —"),
        error_messages={
            "invalid_choice": _("Ce marché n'existe pas ou accepte déjà ce programme."),
            "required": _("Choisissez un marché."),
        },
    )

    def __init__(self, *args: Any, markets: QuerySet[Market], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["market"].queryset = markets  # type: ignore[attr-defined]
        self.fields["market"].label_from_instance = (  # type: ignore[attr-defined]
            lambda market: f"{market.name} ({market.city})"
        )


class VendorForm(forms.Form):
    name = forms.CharField(label=_("Nom de l'entreprise"), max_length=160)
    categories = forms.ModelMultipleChoiceField(
        label=_("Produits vendus"),
        queryset=ProductCategory.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class DeviceForm(forms.Form):
    name = forms.CharField(
        label=_("Nom de l'appareil"),
        max_length=80,
        help_text=_("Par exemple : Téléphone de Julie, Tablette du kiosque."),
    )
    market = forms.ModelChoiceField(
        label=_("Marché"),
        queryset=Market.objects.none(),
        to_field_name="slug",
        empty_label=None,
        error_messages={"invalid_choice": _("Choisissez un des marchés proposés.")},
    )

    def __init__(self, *args: Any, markets: QuerySet[Market], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["market"].queryset = markets  # type: ignore[attr-defined]


class ScanForm(forms.Form):
    """The scanner page's form. Its client_id is read by the view (a bad one means a new scan)."""

    use_required_attribute = False

    code = forms.CharField(
        label=_("Code manuel"),
        max_length=CODE_MAX_LENGTH,
        error_messages={
            "required": _("Entrez le code du coupon ou scannez son code QR."),
            "max_length": _("Ce code est trop long : ce n'est pas un coupon."),
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    category = forms.ModelChoiceField(
        label=_("Catégorie"),
        queryset=ProductCategory.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label="—",
        error_messages={"invalid_choice": _("Cette catégorie n'est pas proposée à ce marché.")},
    )

    def __init__(self, *args: Any, categories: QuerySet[ProductCategory], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories  # type: ignore[attr-defined]


def parse_date(value: str | None) -> datetime.date | None:
    """A YYYY-MM-DD date from a query string, or None when it is absent or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.datetime.strptime(value.strip(), "%Y-%m-%d").date()  # noqa: DTZ007
    except ValueError:
        return None
    # Far-off years are typing mistakes (and would overflow the day after 9999-12-31).
    return parsed if 2000 <= parsed.year <= 2100 else None
