"""Forms of the beneficiaries app: they check the input's shape; services apply the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import Consent, EligibilityCriterion, Household, Organization
from beneficiaires.services import (
    EnrollmentError,
    HouseholdDetails,
    criterion_field_name,
    normalize_postal_code,
)
from programmes.models import Program


class HouseholdFieldsMixin:
    """The fields that describe a household, shared by enrollment and rectification."""

    def add_household_fields(self, *, notes_allowed: bool) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        fields["name"] = forms.CharField(
            label=_("Nom de la personne répondante"),
            max_length=160,
            help_text=_("Connu de l'organisme et de la coordination seulement; jamais imprimé."),
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
        )
        fields["adults"] = forms.IntegerField(
            label=_("Adultes"), min_value=1, max_value=20, initial=1
        )
        fields["children"] = forms.IntegerField(
            label=_("Enfants"), min_value=0, max_value=20, initial=0
        )
        fields["postal_code"] = forms.CharField(
            label=_("Code postal"),
            max_length=10,
            help_text=_("Par exemple G0A 1A0."),
            widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
        )
        fields["year_of_birth"] = forms.IntegerField(
            label=_("Année de naissance (facultatif)"),
            required=False,
            min_value=1900,
            max_value=2100,
            help_text=_("Aide seulement à repérer une double inscription."),
        )
        fields["preferred_language"] = forms.ChoiceField(
            label=_("Langue préférée"),
            choices=Household.Language.choices,
            initial=Household.Language.FRENCH,
        )
        fields["phone"] = forms.CharField(
            label=_("Téléphone (facultatif)"),
            max_length=30,
            required=False,
            help_text=_("Seulement si la personne consent à être contactée."),
            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
        )
        fields["email"] = forms.CharField(
            label=_("Courriel (facultatif)"),
            max_length=254,
            required=False,
            help_text=_("Seulement si la personne consent à être contactée."),
            widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        )
        if notes_allowed:
            fields["notes"] = forms.CharField(
                label=_("Notes (facultatif)"),
                max_length=2000,
                required=False,
                help_text=_(
                    "Seulement ce qui sert au programme. Jamais de numéro d'assurance sociale "
                    "ni d'assurance maladie."
                ),
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    def clean_postal_code(self) -> str:
        try:
            return normalize_postal_code(self.cleaned_data["postal_code"])  # type: ignore[attr-defined]
        except EnrollmentError as error:
            raise forms.ValidationError(error.message, code=error.code) from error

    def household_details(self) -> HouseholdDetails:
        data = self.cleaned_data  # type: ignore[attr-defined]
        return HouseholdDetails(
            name=data["name"],
            adults=data["adults"],
            children=data["children"],
            postal_code=data["postal_code"],
            preferred_language=data["preferred_language"],
            phone=data.get("phone") or "",
            email=data.get("email") or "",
            year_of_birth=data.get("year_of_birth"),
            notes=data.get("notes") or "",
        )


class EnrollmentForm(HouseholdFieldsMixin, forms.Form):
    """Enrollment in one program: its eligibility questions, then the household."""

    program = forms.ModelChoiceField(
        queryset=Program.objects.none(),
        to_field_name="slug",
        widget=forms.HiddenInput,
        error_messages={
            "invalid_choice": _("Choisissez un des programmes proposés."),
            "required": _("Choisissez un programme."),
        },
    )

    def __init__(
        self,
        *args: Any,
        program: Program,
        programs: QuerySet[Program],
        criteria: list[EligibilityCriterion],
        notes_allowed: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs  # type: ignore[attr-defined]
        self.fields["program"].initial = program.slug
        self.criteria = [c for c in criteria if c.asks_question]
        for criterion in self.criteria:
            self.fields[criterion_field_name(criterion)] = forms.BooleanField(
                label=criterion.question, required=False
            )
        self.add_household_fields(notes_allowed=notes_allowed)

    def criterion_fields(self) -> list[forms.BoundField]:
        return [self[criterion_field_name(c)] for c in self.criteria]

    def household_fields(self) -> list[forms.BoundField]:
        asked = {criterion_field_name(c) for c in self.criteria}
        return [f for f in self.visible_fields() if f.name not in asked]

    def answers(self) -> dict[str, bool]:
        return {c.key: bool(self.cleaned_data.get(criterion_field_name(c))) for c in self.criteria}


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
    consent_contact = forms.BooleanField(
        label=_("La personne accepte d'être contactée par téléphone ou par courriel."),
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "texte-contact"}),
    )
    consent_survey = forms.BooleanField(
        label=_("La personne accepte de répondre au sondage d'évaluation."),
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "texte-sondage"}),
    )
    acknowledge_duplicate = forms.BooleanField(
        label=_(
            "J'ai vérifié avec la personne : ce n'est pas une double inscription, l'inscrire quand "
            "même (la coordination vérifiera)."
        ),
        required=False,
    )

    def optional_consents(self) -> list[str]:
        purposes = []
        if self.cleaned_data.get("consent_contact"):
            purposes.append(Consent.Purpose.CONTACT.value)
        if self.cleaned_data.get("consent_survey"):
            purposes.append(Consent.Purpose.SURVEY.value)
        return purposes


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
    q = forms.CharField(
        label=_("Rechercher par référence ou par nom complet"),
        max_length=160,
        required=False,
        help_text=_(
            "Les noms sont chiffrés : tapez le nom complet (sans égard aux accents ni aux "
            "majuscules) ou une partie de la référence."
        ),
    )
