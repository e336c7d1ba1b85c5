"""Forms of the rights pages (rectification, consent): they check the input's shape; the
services apply the rules (beneficiaires/services.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import Household
from beneficiaires.services import MAX_NOTES, HouseholdDetails, format_phone


class RectificationForm(forms.Form):
    """The household's details, prefilled, to correct them.

    Without an active consent to be contacted, the phone and email inputs are disabled in the
    page (the browser sends nothing, which the service stores as empty); a request that still
    sends one is refused by the service. Without the program's leave, there is no notes input,
    and notes sent anyway are refused too.
    """

    name = forms.CharField(
        label=_("Nom de la personne répondante"),
        max_length=160,
        help_text=_("Connu de l'organisme et de la coordination seulement; jamais imprimé."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    adults = forms.IntegerField(label=_("Adultes"), min_value=1, max_value=20)
    children = forms.IntegerField(label=_("Enfants"), min_value=0, max_value=20)
    postal_code = forms.CharField(
        label=_("Code postal"),
        max_length=10,
        help_text=_("Par exemple G0A 1A0."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    year_of_birth = forms.IntegerField(
        label=_("Année de naissance"),
        required=False,
        help_text=_("Facultative."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Langue préférée"), choices=Household.Language.choices
    )
    phone = forms.CharField(
        label=_("Téléphone"),
        max_length=30,
        required=False,
        help_text=_("Par exemple 418 555-0199."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    email = forms.CharField(
        label=_("Courriel"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    notes = forms.CharField(
        label=_("Notes"),
        max_length=MAX_NOTES,
        required=False,
        help_text=_(
            "Seulement ce qui sert au programme. Jamais de numéro d'assurance sociale ni "
            "d'assurance maladie."
        ),
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(
        self, *args: Any, contact_allowed: bool, notes_allowed: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.contact_allowed = contact_allowed
        self.notes_allowed = notes_allowed
        if not contact_allowed:
            explanation = _(
                "La personne n'a pas consenti à être contactée : aucun téléphone ni courriel "
                "n'est noté. Enregistrez d'abord son consentement."
            )
            for name in ("phone", "email"):
                field = self.fields[name]
                field.widget.attrs["disabled"] = "disabled"
                field.help_text = explanation
        if not notes_allowed:
            del self.fields["notes"]

    @classmethod
    def initial_for(cls, household: Household, *, contact_allowed: bool) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": household.name or "",
            "adults": household.adults,
            "children": household.children,
            "postal_code": household.postal_code,
            "year_of_birth": household.year_of_birth,
            "preferred_language": household.preferred_language,
            "notes": household.notes or "",
        }
        if contact_allowed:
            initial["phone"] = format_phone(household.phone)
            initial["email"] = household.email or ""
        return initial

    def shown_fields(self) -> list[str]:
        """The household's fields whose value the page shows (for the audit row)."""
        hidden = set() if self.contact_allowed else {"phone", "email"}
        return [name for name in self.fields if name not in hidden]

    def details(self) -> HouseholdDetails:
        data = self.cleaned_data
        if "notes" in self.fields:
            notes = data.get("notes") or ""
        else:
            # No notes input: notes sent anyway reach the service, which refuses them.
            notes = str(self.data.get("notes") or "")
        return HouseholdDetails(
            name=data["name"],
            adults=data["adults"],
            children=data["children"],
            postal_code=data["postal_code"],
            preferred_language=data["preferred_language"],
            phone=data.get("phone") or "",
            email=data.get("email") or "",
            year_of_birth=data.get("year_of_birth"),
            notes=notes,
        )


class ConsentGiveForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("J'ai lu ce texte à la personne (ou elle l'a lu) et elle y consent."),
        error_messages={
            "required": _("Confirmez que la personne a pris connaissance du texte et y consent.")
        },
        widget=forms.CheckboxInput(attrs={"aria-describedby": "texte-consentement"}),
    )
