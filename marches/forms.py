"""Forms of the markets app: they validate input; services make the changes."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from marches.models import Market, Vendor
from programmes.forms import DateInput
from programmes.models import ProductCategory, Program

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


class MarketEditForm(forms.Form):
    city = forms.CharField(label=_("Municipalité"), max_length=120)
    address = forms.CharField(label=_("Adresse"), max_length=255, required=False)
    season_start = forms.DateField(
        label=_("Début de la saison"), required=False, widget=DateInput()
    )
    season_end = forms.DateField(
        label=_("Fin de la saison"),
        required=False,
        widget=DateInput(),
        help_text=_("Les journées de marché se placent dans la saison."),
    )


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%H:%M")
        super().__init__(**kwargs)


EVERY_DAY = "tous"
WEEKDAYS = [
    ("0", _("Lundi")),
    ("1", _("Mardi")),
    ("2", _("Mercredi")),
    ("3", _("Jeudi")),
    ("4", _("Vendredi")),
    ("5", _("Samedi")),
    ("6", _("Dimanche")),
]


class MarketDaysForm(forms.Form):
    """Market days in bulk: every chosen weekday of a period, with the same hours."""

    weekday = forms.ChoiceField(
        label=_("Jour de la semaine"),
        choices=[*WEEKDAYS, (EVERY_DAY, _("Chaque jour de la période"))],
        initial="5",
        error_messages={"invalid_choice": _("Choisissez un jour de la semaine.")},
    )
    start = forms.DateField(label=_("Du"), widget=DateInput())
    end = forms.DateField(
        label=_("Au"),
        widget=DateInput(),
        help_text=_(
            "Pour une seule journée, indiquez la même date et « Chaque jour de la période »."
        ),
    )
    opens_at = forms.TimeField(label=_("Ouverture"), required=False, widget=TimeInput())
    closes_at = forms.TimeField(label=_("Fermeture"), required=False, widget=TimeInput())
    note = forms.CharField(
        label=_("Note"),
        max_length=120,
        required=False,
        help_text=_("Facultative, par exemple : marché de Noël, sous le chapiteau."),
    )

    def clean_weekday(self) -> int | None:
        value = self.cleaned_data["weekday"]
        return None if value == EVERY_DAY else int(value)


class VendorEditForm(forms.Form):
    name = forms.CharField(label=_("Nom de l'entreprise"), max_length=160)
    categories = forms.ModelMultipleChoiceField(
        label=_("Produits vendus"),
        queryset=ProductCategory.objects.order_by("name_fr"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    markets = forms.ModelMultipleChoiceField(
        label=_("Marchés où l'entreprise vend"),
        queryset=Market.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choisissez parmi les marchés proposés.")},
    )
    payout = forms.ChoiceField(
        label=_("Remboursement"),
        choices=Vendor.Payout.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choisissez parmi les modes proposés.")},
    )

    def __init__(
        self,
        *args: Any,
        markets: QuerySet[Market],
        local_programs: list[Program],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["markets"]
        field.queryset = markets
        field.label_from_instance = lambda market: f"{market.name} ({market.city})"
        payout: Any = self.fields["payout"]
        if local_programs:
            names = ", ".join(
                _("{currency} ({program})").format(
                    currency=program.local_currency, program=program.name
                )
                for program in local_programs
            )
            payout.help_text = _("Monnaie locale offerte : {names}.").format(names=names)
        else:
            # Only offered where a program of the vendor's markets has a local currency.
            payout.choices = [(Vendor.Payout.DOLLARS, Vendor.Payout.DOLLARS.label)]


class ConflictDecisionForm(forms.Form):
    HONOUR = "honour"
    REFUSE = "refuse"

    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=[(HONOUR, _("Honorer")), (REFUSE, _("Refuser"))],
        error_messages={
            "required": _("Choisissez d'honorer ou de refuser ce scan."),
            "invalid_choice": _("Choisissez d'honorer ou de refuser ce scan."),
        },
    )
    reason = forms.CharField(
        label=_("Motif"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _("Indiquez le motif de la décision (3 à 300 caractères)."),
            "max_length": _("Indiquez le motif de la décision (3 à 300 caractères)."),
        },
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
