"""Forms of the beneficiaries app: they check the input's shape; services apply the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import Household, Organization
from beneficiaires.services import EnrollmentError, normalize_postal_code
from programmes.models import Program


class EnrollmentForm(forms.Form):
    program = forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Program.objects.none(),
        to_field_name="slug",
        error_messages={
            "invalid_choice": _("Choisissez un des programmes proposés."),
            "required": _("Choisissez un programme."),
        },
    )
    name = forms.CharField(
        label=_("Nom de la personne répondante"),
        max_length=160,
        help_text=_("Connu de l'organisme et de la coordination seulement; jamais imprimé."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    adults = forms.IntegerField(label=_("Adultes"), min_value=1, max_value=20, initial=1)
    children = forms.IntegerField(label=_("Enfants"), min_value=0, max_value=20, initial=0)
    postal_code = forms.CharField(
        label=_("Code postal"),
        max_length=10,
        help_text=_("Par exemple G0A 1A0."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    preferred_language = forms.ChoiceField(
        label=_("Langue préférée"),
        choices=Household.Language.choices,
        initial=Household.Language.FRENCH,
    )

    def __init__(self, *args: Any, programs: QuerySet[Program], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["program"]
        field.queryset = programs  # type: ignore[attr-defined]
        choices = list(programs[:2])
        if len(choices) == 1:
            field.empty_label = None  # type: ignore[attr-defined]
            field.initial = choices[0].slug
        else:
            field.empty_label = _("— Choisir un programme —")  # type: ignore[attr-defined]

    def clean_postal_code(self) -> str:
        try:
            return normalize_postal_code(self.cleaned_data["postal_code"])
        except EnrollmentError as error:
            raise forms.ValidationError(error.message, code=error.code) from error


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label=_(
            "J'ai lu ce texte à la personne (ou elle l'a lu) et elle consent à la collecte de ces "
            "renseignements pour participer au programme."
        ),
        error_messages={
            "required": _("Le consentement de la personne est obligatoire pour inscrire le ménage.")
        },
        # The consent text above the box is part of its description for screen readers.
        widget=forms.CheckboxInput(attrs={"aria-describedby": "texte-consentement"}),
    )


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Nom de l'organisme"), max_length=160)


class ExistingOrganizationForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_("Organisme existant"),
        queryset=Organization.objects.none(),
        to_field_name="slug",
        empty_label=_("— Choisir un organisme —"),
        error_messages={
            "invalid_choice": _("Cet organisme n'existe pas ou est déjà partenaire du programme."),
            "required": _("Choisissez un organisme."),
        },
    )

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


class HouseholdSearchForm(forms.Form):
    q = forms.CharField(label=_("Rechercher par référence"), max_length=20, required=False)
