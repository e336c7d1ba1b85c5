"""The form of the register of confidentiality incidents: the eight facts, grouped.

It checks the shape of the input; `beneficiaires.incidents` checks the dates against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from beneficiaires.incidents import MAX_PEOPLE, MAX_TEXT, IncidentFacts
from beneficiaires.models import PrivacyIncident
from programmes.forms import DateInput


@dataclass(frozen=True)
class FactGroup:
    """One of the facts the regulation asks for: a heading, a hint and its fields."""

    key: str
    legend: StrOrPromise
    help: StrOrPromise
    fields: list[forms.BoundField]


def _text(
    label: StrOrPromise, help_text: StrOrPromise, *, required: bool = False
) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _date(
    label: StrOrPromise, help_text: StrOrPromise = "", *, required: bool = False
) -> forms.DateField:
    return forms.DateField(label=label, help_text=help_text, required=required, widget=DateInput())


class IncidentForm(forms.Form):
    description = _text(
        _("Renseignements personnels visés"),
        _(
            "Quels types de renseignements sont touchés, par exemple « références et codes "
            "postaux de ménages ». Ne nommez personne."
        ),
        required=True,
    )
    circumstances = _text(
        _("Circonstances de l'incident"),
        _(
            "Ce qui s'est passé (accès, utilisation ou communication non autorisés, perte), "
            "où et comment, sans nommer personne."
        ),
        required=True,
    )
    occurred_on = _date(
        _("Date de l'incident ou début de la période"),
        _("Laissez vide si elle n'est pas connue."),
    )
    occurred_until = _date(
        _("Fin de la période"),
        _("Si l'incident a duré plusieurs jours; laissez vide tant qu'il dure."),
    )
    discovered_on = _date(_("Date où l'incident a été constaté"), required=True)
    people_affected = forms.IntegerField(
        label=_("Nombre de personnes concernées"),
        required=False,
        min_value=0,
        max_value=MAX_PEOPLE,
        help_text=_("Un nombre, même approximatif; laissez vide s'il n'est pas encore connu."),
    )
    risk = forms.ChoiceField(
        label=_("Risque de préjudice sérieux"),
        choices=PrivacyIncident.Risk.choices,
        initial=PrivacyIncident.Risk.UNDER_REVIEW,
    )
    risk_assessment = _text(
        _("Évaluation du risque"),
        _(
            "La sensibilité des renseignements, les utilisations malveillantes possibles et "
            "leurs conséquences appréhendées, et la probabilité qu'elles surviennent."
        ),
    )
    commission_notified_on = _date(
        _("Avis à la Commission d'accès à l'information le"),
        _("Obligatoire, avec diligence, si le risque de préjudice est sérieux."),
    )
    people_notified_on = _date(
        _("Avis aux personnes concernées le"),
        _("Obligatoire, avec diligence, si le risque de préjudice est sérieux."),
    )
    notices = _text(
        _("Avis transmis"),
        _(
            "À qui (la Commission, les personnes concernées, d'autres organismes), comment et "
            "ce qu'ils disaient, sans nommer les personnes."
        ),
    )
    measures = _text(
        _("Mesures prises"),
        _(
            "Ce qui a été fait pour diminuer les risques de préjudice et pour éviter qu'un "
            "incident semblable se reproduise, avec les dates."
        ),
    )

    # The eight facts, in the order of the regulation, each under its own heading.
    GROUPS: tuple[tuple[str, StrOrPromise, StrOrPromise, tuple[str, ...]], ...] = (
        (
            "what",
            _("1. Les renseignements visés"),
            _("Décrivez les renseignements, jamais les personnes."),
            ("description",),
        ),
        ("circumstances", _("2. Les circonstances"), "", ("circumstances",)),
        (
            "when",
            _("3. Quand l'incident a eu lieu"),
            _("Une date, ou une période si l'incident a duré."),
            ("occurred_on", "occurred_until"),
        ),
        ("discovered", _("4. Quand il a été constaté"), "", ("discovered_on",)),
        ("people", _("5. Les personnes concernées"), "", ("people_affected",)),
        (
            "risk",
            _("6. L'évaluation du risque de préjudice sérieux"),
            "",
            ("risk", "risk_assessment"),
        ),
        (
            "notices",
            _("7. Les avis transmis"),
            "",
            ("commission_notified_on", "people_notified_on", "notices"),
        ),
        ("measures", _("8. Les mesures prises"), "", ("measures",)),
    )

    @classmethod
    def initial_for(cls, incident: PrivacyIncident) -> dict[str, Any]:
        return {name: getattr(incident, name) for name in cls.base_fields}

    def groups(self) -> list[FactGroup]:
        return [
            FactGroup(key, legend, help_text, [self[name] for name in names])
            for key, legend, help_text, names in self.GROUPS
        ]

    def facts(self) -> IncidentFacts:
        data = self.cleaned_data
        return IncidentFacts(
            description=data["description"],
            circumstances=data["circumstances"],
            discovered_on=data["discovered_on"],
            occurred_on=data["occurred_on"],
            occurred_until=data["occurred_until"],
            people_affected=data["people_affected"],
            risk=data["risk"],
            risk_assessment=data["risk_assessment"],
            commission_notified_on=data["commission_notified_on"],
            people_notified_on=data["people_notified_on"],
            notices=data["notices"],
            measures=data["measures"],
        )
