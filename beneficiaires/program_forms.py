"""Forms of a program's enrollment rules: they check the input's shape; `program_services`
applies the rules (ranges, what each kind of criterion needs)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import EligibilityCriterion, Household
from programmes.forms import MoneyField

_WHOLE_NUMBER = {"invalid": _("Indiquez un nombre entier.")}
_AMOUNT = {"invalid": _("Saisissez un montant, par exemple 35000 ou 1250,50.")}


# The settings each kind of criterion uses (the others are ignored and cleared).
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    EligibilityCriterion.Kind.TERRITORY: ("postal_prefixes",),
    EligibilityCriterion.Kind.HOUSEHOLD_SIZE: ("min_size", "max_size"),
    EligibilityCriterion.Kind.INCOME: ("income_threshold", "question_fr", "question_en"),
    EligibilityCriterion.Kind.REFERRED: ("question_fr", "question_en"),
    EligibilityCriterion.Kind.QUESTION: ("question_fr", "question_en"),
}


class PolicyForm(forms.Form):
    notes_allowed = forms.BooleanField(
        label=_("Notes libres permises"),
        required=False,
        help_text=_(
            "Les intervenant·es peuvent écrire une note sur un ménage. Laissez décoché si le "
            "programme n'en a pas besoin : moins on recueille, moins on expose."
        ),
    )
    retention_days = forms.IntegerField(
        label=_("Conservation après la saison (jours)"),
        help_text=_(
            "Les renseignements personnels des ménages sont rendus anonymes ce nombre de jours "
            "après la fin de la saison (de 0 à 3650)."
        ),
        error_messages={**_WHOLE_NUMBER, "required": _("Indiquez un nombre de jours.")},
        widget=forms.NumberInput(attrs={"min": 0, "max": 3650, "inputmode": "numeric"}),
    )


class CriterionForm(forms.Form):
    """A criterion's settings; `kind` is asked when adding only (it never changes after)."""

    kind = forms.ChoiceField(
        label=_("Type de critère"),
        choices=[("", _("— Choisir un type —")), *EligibilityCriterion.Kind.choices],
        error_messages={
            "required": _("Choisissez un type de critère."),
            "invalid_choice": _("Choisissez un des types proposés."),
        },
        help_text=_(
            "Territoire : vérifié d'après le code postal du ménage. Taille du ménage : vérifiée "
            "d'après le nombre d'adultes et d'enfants. Référé·e, revenu et autre question : "
            "l'intervenant·e répond oui ou non à l'inscription."
        ),
    )
    postal_prefixes = forms.CharField(
        label=_("Débuts de codes postaux admissibles"),
        required=False,
        max_length=500,
        help_text=_(
            "Pour le type « Territoire » seulement : les trois premiers caractères, séparés par "
            "des virgules ou des espaces, par exemple G0A, G3N."
        ),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )
    income_threshold = MoneyField(
        label=_("Seuil de revenu annuel ($ CA)"),
        required=False,
        error_messages=_AMOUNT,
        help_text=_("Pour le type « Revenu sous un seuil » seulement, par exemple 35000."),
    )
    min_size = forms.IntegerField(
        label=_("Taille minimale (personnes)"),
        required=False,
        error_messages=_WHOLE_NUMBER,
        help_text=_("Pour le type « Taille du ménage » : vide, sans minimum."),
        widget=forms.NumberInput(attrs={"min": 1, "max": 40, "inputmode": "numeric"}),
    )
    max_size = forms.IntegerField(
        label=_("Taille maximale (personnes)"),
        required=False,
        error_messages=_WHOLE_NUMBER,
        help_text=_("Pour le type « Taille du ménage » : vide, sans maximum."),
        widget=forms.NumberInput(attrs={"min": 1, "max": 40, "inputmode": "numeric"}),
    )
    question_fr = forms.CharField(
        label=_("Question posée (français)"),
        required=False,
        max_length=240,
        help_text=_(
            "Obligatoire pour « Autre question »; facultative pour « Référé·e » et « Revenu » "
            "(une question par défaut est alors posée); sans effet pour le territoire et la "
            "taille. Par exemple : La personne habite-t-elle la MRC depuis au moins 6 mois ?"
        ),
    )
    question_en = forms.CharField(
        label=_("Question posée (anglais)"),
        required=False,
        max_length=240,
        help_text=_("Facultative : montrée aux intervenant·es qui utilisent l'anglais."),
    )

    def __init__(self, *args: Any, kind: str | None = None, **kwargs: Any) -> None:
        """Without `kind`: the form that adds a criterion (every field, the kind asked). With
        it: the form that edits one, showing only the fields that kind uses."""
        super().__init__(*args, **kwargs)
        if kind is not None:
            used = FIELDS_BY_KIND.get(kind, ())
            for name in list(self.fields):
                if name not in used:
                    del self.fields[name]


class PartnerQuotaForm(forms.Form):
    household_quota = forms.IntegerField(
        label=_("Quota de ménages"),
        required=False,
        error_messages=_WHOLE_NUMBER,
        help_text=_(
            "Nombre de ménages actifs au plus; vide : sans limite. Au-delà, les ménages sont "
            "inscrits en liste d'attente."
        ),
        widget=forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
    )
    value_quota = MoneyField(
        label=_("Quota en dollars ($ CA)"),
        required=False,
        error_messages=_AMOUNT,
        help_text=_(
            "Valeur des allocations de ses ménages au plus; vide : sans limite. Au-delà, les "
            "ménages sont inscrits en liste d'attente."
        ),
    )


class DuplicateResolutionForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[
            (Household.DuplicateReview.DISTINCT, _("Ménages distincts")),
            (Household.DuplicateReview.DUPLICATE, _("Doublon")),
        ],
        error_messages={
            "required": _("Choisissez une décision."),
            "invalid_choice": _("Choisissez une décision."),
        },
    )
