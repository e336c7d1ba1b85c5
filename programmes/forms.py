"""Forms of the programs app: they parse and check the input's shape; services apply the rules."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from programmes.logos import MAX_UPLOAD_BYTES
from programmes.models import DistributionFrequency, ProductCategory, Program, Territory
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from programmes.services import DEFAULT_SALE_PACKS, MAX_SALE_PACKS

ALLOTMENT_ROWS = 6
LOGO_TYPES = "image/png,image/jpeg,image/gif,image/webp"
_NUMBER_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
_AMBIGUOUS_COMMA_RE = re.compile(r"\d,\d")


def parse_denominations(text: str) -> list[Decimal]:
    """ "5, 2" or "5; 2; 0.50" → [Decimal("5"), Decimal("2"), …]; raises ValidationError.

    Values are separated by commas, semicolons or spaces; cents are written with a point. A comma
    between two digits ("2,50") could be either, so it is refused with an explanation.
    """
    cleaned = (text or "").replace("$", " ").replace("\u00a0", " ")
    if _AMBIGUOUS_COMMA_RE.search(cleaned):
        raise forms.ValidationError(
            _(
                "Écriture ambiguë : séparez les valeurs par une virgule suivie d'une espace "
                "(ex. 5, 2) et écrivez les cents avec un point (ex. 2.50)."
            ),
            code="ambiguous",
        )
    tokens = [token for token in re.split(r"[,;\s]+", cleaned) if token]
    if not tokens:
        raise forms.ValidationError(_("Indiquez au moins une valeur de coupon."), code="required")
    values: list[Decimal] = []
    for token in tokens:
        if not _NUMBER_RE.match(token):
            raise forms.ValidationError(
                _("« {value} » n'est pas une valeur de coupon valide (ex. 5 ou 2.50).").format(
                    value=token[:20]
                ),
                code="invalid",
            )
        values.append(Decimal(token))
    return values


def format_denominations(values: list[Decimal]) -> str:
    """The inverse of `parse_denominations`, for the edit form: "5, 2, 0.50"."""
    return ", ".join(
        str(int(value)) if value == value.to_integral() else str(value) for value in values
    )


class MoneyField(forms.DecimalField):
    """A dollar amount typed the French or the English way ("1 250,50 $" or "1250.50")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            value = re.sub(r"[\s\u00a0\u202f$]", "", value).replace(",", ".")
        try:
            return super().to_python(value)
        except InvalidOperation as error:  # pragma: no cover - DecimalField already reports it
            raise forms.ValidationError(_("Saisissez un montant.")) from error


class RateField(forms.DecimalField):
    """An exchange rate typed either way ("1,25" or "1.25"). The number of decimals is left to
    the service, which explains the rule."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            value = re.sub(r"[\s\u00a0\u202f]", "", value).replace(",", ".")
        return super().to_python(value)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(**kwargs)


class ProgramForm(forms.Form):
    name = forms.CharField(label=_("Nom du programme"), max_length=160)
    territory_name = forms.CharField(
        label=_("Territoire"),
        max_length=120,
        help_text=_("Le nom de la MRC ou de la ville, ex. Portneuf."),
    )
    territory_kind = forms.ChoiceField(
        label=_("Type de territoire"), choices=Territory.Kind.choices, initial=Territory.Kind.MRC
    )
    season_start = forms.DateField(label=_("Début de la saison"), widget=DateInput())
    season_end = forms.DateField(label=_("Fin de la saison"), widget=DateInput())
    serial_prefix = forms.CharField(
        label=_("Préfixe des numéros de série"),
        max_length=6,
        help_text=_("De 1 à 6 lettres ou chiffres imprimés devant chaque numéro, ex. PORT."),
    )
    distribution_count = forms.IntegerField(
        label=_("Nombre de distributions"),
        min_value=1,
        max_value=52,
        initial=1,
        help_text=_("Par exemple 12 pour une distribution par semaine pendant 12 semaines."),
    )
    distribution_frequency = forms.ChoiceField(
        label=_("Fréquence des distributions"),
        choices=DistributionFrequency.choices,
        initial=DistributionFrequency.WEEKLY,
        help_text=_("La première distribution a lieu au début de la saison."),
    )
    coupon_validity_days = forms.IntegerField(
        label=_("Validité d'un coupon (jours)"),
        min_value=1,
        max_value=366,
        required=False,
        help_text=_(
            "À partir de sa distribution, sans dépasser la fin de la saison. Laissez vide : "
            "valide jusqu'à la fin de la saison."
        ),
    )
    denominations = forms.CharField(
        label=_("Valeurs des coupons"),
        max_length=200,
        help_text=_(
            "Séparées par des virgules, ex. 5, 2 (les cents avec un point : 2.50). Les coupons "
            "ne rendent pas la monnaie."
        ),
    )
    categories = forms.ModelMultipleChoiceField(
        label=_("Catégories de produits admissibles"),
        queryset=ProductCategory.objects.order_by("name_fr"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    logo = forms.FileField(
        label=_("Logo imprimé sur les coupons"),
        required=False,
        help_text=_("Image PNG, JPEG, GIF ou WebP de 2 Mo au plus (facultatif)."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )
    remove_logo = forms.BooleanField(label=_("Retirer le logo actuel"), required=False)
    offline_max_count = forms.IntegerField(
        label=_("Coupons hors ligne par appareil (au plus)"),
        initial=20,
        widget=forms.NumberInput(attrs={"min": 0, "max": 500}),
        help_text=_(
            "De 0 à 500. Sans réseau, un appareil de scan accepte au plus ce nombre de coupons "
            "avant de se synchroniser; 0 : aucun coupon accepté hors ligne."
        ),
    )
    offline_max_value = MoneyField(
        label=_("Valeur hors ligne par appareil, au plus ($ CA)"),
        initial=Decimal("100.00"),
        help_text=_("De 0 à 5 000 $ : la valeur totale des coupons en attente sur un appareil."),
    )
    # Its length is checked by the service (40 characters), which says so.
    local_currency = forms.CharField(
        label=_("Monnaie locale (facultatif)"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 40}),
        help_text=_(
            "Son nom (40 caractères au plus), si les marchand·es peuvent choisir d'être "
            "remboursé·es en monnaie locale. Laissez vide : remboursement en dollars seulement."
        ),
    )
    local_rate = RateField(
        label=_("Taux de la monnaie locale"),
        required=False,
        help_text=_(
            "Unités de monnaie locale pour 1 $ CA, avec au plus 4 décimales (ex. 1 ou 1.25). "
            "Obligatoire si la monnaie locale est nommée."
        ),
    )

    # Lengths and formats are checked by the service, which explains them.
    fund_holder = forms.CharField(
        label=_("Organisme fiduciaire des fonds (facultatif)"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 160}),
        help_text=_(
            "L'organisme qui reçoit et garde les fonds du programme (ex. l'UPA de Portneuf). "
            "Son nom figure sur les reçus de dons."
        ),
    )
    charity_number = forms.CharField(
        label=_("Numéro d'enregistrement d'organisme de bienfaisance (facultatif)"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 20, "autocomplete": "off"}),
        help_text=_(
            "Celui de l'organisme fiduciaire, ex. 123456789RR0001 (les espaces sont ignorées). "
            "Avec lui, les reçus de dons sont des reçus officiels aux fins de l'impôt."
        ),
    )
    fund_holder_address = forms.CharField(
        label=_("Adresse de l'organisme fiduciaire"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 300, "autocomplete": "off"}),
        help_text=_(
            "Telle qu'enregistrée auprès de l'Agence du revenu du Canada. Requise avec le "
            "numéro d'organisme de bienfaisance : elle figure sur les reçus officiels."
        ),
    )
    receipt_signatory = forms.CharField(
        label=_("Personne autorisée à signer les reçus"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 160, "autocomplete": "off"}),
        help_text=_(
            "Nom et fonction, ex. « Marie Gagnon, trésorière ». Requise avec le numéro "
            "d'organisme de bienfaisance."
        ),
    )
    sale_enabled = forms.BooleanField(
        label=_("Offrir des coupons au public à prix réduit (vente solidaire)"), required=False
    )
    sale_price = MoneyField(
        label=_("Prix d'un carnet ($ CA)"),
        required=False,
        help_text=_("Ce que paie l'acheteur·euse pour un carnet, ex. 20."),
    )
    sale_value = MoneyField(
        label=_("Valeur en coupons d'un carnet ($ CA)"),
        required=False,
        help_text=_(
            "Plus que le prix, ex. 30, et composée des valeurs de coupons du programme. "
            "La différence est payée par les fonds du programme."
        ),
    )
    sale_subsidy_cap = MoneyField(
        label=_("Subvention allouée à la vente ($ CA)"),
        required=False,
        initial=Decimal("0.00"),
        help_text=_(
            "La vente s'arrête d'elle-même quand la différence payée par le programme atteint "
            "ce montant. Laissez vide : 0."
        ),
    )
    sale_max_packs = forms.IntegerField(
        label=_("Carnets par achat (au plus)"),
        required=False,
        initial=DEFAULT_SALE_PACKS,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_SALE_PACKS}),
        help_text=format_lazy(
            _("De 1 à {max}. Laissez vide : {default}."),
            max=MAX_SALE_PACKS,
            default=DEFAULT_SALE_PACKS,
        ),
    )

    # Shown in their own sections of the page: how vendors scan offline and are reimbursed, who
    # holds the funds, the public sale.
    VENDOR_FIELDS = ("offline_max_count", "offline_max_value", "local_currency", "local_rate")
    FUNDING_FIELDS = ("fund_holder", "charity_number", "fund_holder_address", "receipt_signatory")
    SALE_FIELDS = (
        "sale_enabled",
        "sale_price",
        "sale_value",
        "sale_subsidy_cap",
        "sale_max_packs",
    )

    def __init__(self, *args: Any, has_logo: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_logo:
            del self.fields["remove_logo"]

    @property
    def program_fields(self) -> list[forms.BoundField]:
        elsewhere = {*self.VENDOR_FIELDS, *self.FUNDING_FIELDS, *self.SALE_FIELDS}
        return [field for field in self.visible_fields() if field.name not in elsewhere]

    @property
    def vendor_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.VENDOR_FIELDS]

    @property
    def funding_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.FUNDING_FIELDS]

    @property
    def sale_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.SALE_FIELDS]

    def clean_sale_subsidy_cap(self) -> Decimal:
        value = self.cleaned_data.get("sale_subsidy_cap")
        return Decimal("0.00") if value is None else value

    def clean_sale_max_packs(self) -> int:
        value = self.cleaned_data.get("sale_max_packs")
        return DEFAULT_SALE_PACKS if value is None else value

    def clean_remove_logo(self) -> bool:
        return bool(self.cleaned_data.get("remove_logo"))

    def clean_serial_prefix(self) -> str:
        return str(self.cleaned_data["serial_prefix"]).strip().upper()

    def clean_denominations(self) -> list[Decimal]:
        return parse_denominations(self.cleaned_data["denominations"])

    def clean_logo(self) -> bytes | None:
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("Le logo pèse au plus 2 Mo."))
        return bytes(upload.read())

    @classmethod
    def initial_for(cls, program: Program) -> dict[str, Any]:
        return {
            "name": program.name,
            "territory_name": program.territory.name,
            "territory_kind": program.territory.kind,
            "season_start": program.season_start,
            "season_end": program.season_end,
            "serial_prefix": program.serial_prefix,
            "distribution_count": program.distribution_count,
            "distribution_frequency": program.distribution_frequency,
            "coupon_validity_days": program.coupon_validity_days,
            "denominations": format_denominations([d.value for d in program.denominations.all()]),
            "categories": list(program.categories.all()),
            "offline_max_count": program.offline_max_count,
            "offline_max_value": program.offline_max_value,
            "local_currency": program.local_currency,
            "local_rate": program.local_rate,
            "fund_holder": program.fund_holder,
            "charity_number": program.charity_number,
            "fund_holder_address": program.fund_holder_address,
            "receipt_signatory": program.receipt_signatory,
            "sale_enabled": program.sale_enabled,
            "sale_price": program.sale_price,
            "sale_value": program.sale_value,
            "sale_subsidy_cap": program.sale_subsidy_cap,
            "sale_max_packs": program.sale_max_packs,
        }


class AllotmentRuleForm(forms.Form):
    """One row of the allotment table; an empty row is ignored."""

    household_size = forms.IntegerField(
        label=_("Taille du ménage (à partir de)"), min_value=1, max_value=40, required=False
    )
    amount = MoneyField(label=_("Montant par distribution ($)"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        size, amount = cleaned.get("household_size"), cleaned.get("amount")
        if (size is None) != (amount is None) and not self.errors:
            raise forms.ValidationError(
                _("Indiquez à la fois la taille du ménage et le montant, ou laissez la ligne vide.")
            )
        return cleaned


class BaseAllotmentFormSet(forms.BaseFormSet):
    def rules(self) -> list[tuple[int, Decimal]]:
        """The filled rows as (household size, amount), once the formset is valid."""
        return [
            (form.cleaned_data["household_size"], form.cleaned_data["amount"])
            for form in self.forms
            if form.cleaned_data.get("household_size") is not None
            and form.cleaned_data.get("amount") is not None
        ]


AllotmentFormSet = forms.formset_factory(
    AllotmentRuleForm,
    formset=BaseAllotmentFormSet,
    extra=ALLOTMENT_ROWS,
    max_num=ALLOTMENT_ROWS,
    absolute_max=ALLOTMENT_ROWS,
    validate_max=True,
)


def allotment_initial(program: Program) -> list[dict[str, Any]]:
    return [
        {"household_size": rule.household_size, "amount": rule.amount}
        for rule in program.allotment_rules.all()[:ALLOTMENT_ROWS]
    ]
