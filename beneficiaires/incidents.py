"""Writes of the register of confidentiality incidents (one register per program).

The register holds the facts the regulation asks for: what personal information is concerned,
the circumstances, when the incident happened and when it was discovered, how many people are
concerned, the assessment of the risk of serious injury, the notices sent (and when) and the
measures taken. It describes; it never names anyone.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, fields

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaires.models import PrivacyIncident
from comptes.models import User
from programmes.models import Program

MAX_TEXT = 5000
MAX_PEOPLE = 10_000_000
# Never a social insurance number (999 999 999) or a health insurance card number (ABCD 1234 5678)
# in the register: it describes what happened, not whom it happened to.
_SIN_RE = re.compile(r"(?<!\d)\d{3}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)")
_HEALTH_CARD_RE = re.compile(r"\b[A-Za-z]{4}\s?\d{4}\s?\d{4}\b")


class IncidentError(Exception):
    """An incident that cannot be recorded as given: `code` is machine-readable, `field` names
    the input at fault when there is one."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class IncidentFacts:
    """What the register says about one incident."""

    description: str
    circumstances: str
    discovered_on: datetime.date
    occurred_on: datetime.date | None = None
    occurred_until: datetime.date | None = None
    people_affected: int | None = None
    risk: str = PrivacyIncident.Risk.UNDER_REVIEW
    risk_assessment: str = ""
    commission_notified_on: datetime.date | None = None
    people_notified_on: datetime.date | None = None
    notices: str = ""
    measures: str = ""


FACT_FIELDS = tuple(f.name for f in fields(IncidentFacts))
_REQUIRED_TEXT = ("description", "circumstances")
_TEXT_FIELDS = (
    "description",
    "circumstances",
    "risk_assessment",
    "notices",
    "measures",
)


def _clean_text(facts: IncidentFacts) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = (getattr(facts, name) or "").strip()
        if name in _REQUIRED_TEXT and not value:
            raise IncidentError(
                "required",
                _("Ce renseignement est obligatoire au registre."),
                name,
            )
        if len(value) > MAX_TEXT:
            raise IncidentError(
                "text_too_long",
                _("{max} caractères au plus.").format(max=MAX_TEXT),
                name,
            )
        if _SIN_RE.search(value) or _HEALTH_CARD_RE.search(value):
            raise IncidentError(
                "forbidden_identifier",
                _(
                    "Le registre décrit l'incident sans identifier personne : n'y écrivez ni "
                    "numéro d'assurance sociale, ni numéro d'assurance maladie, ni aucune suite "
                    "de chiffres qui y ressemble."
                ),
                name,
            )
        cleaned[name] = value
    return cleaned


def clean_facts(facts: IncidentFacts, *, today: datetime.date | None = None) -> IncidentFacts:
    """Check the facts against each other and against today; raises IncidentError."""
    today = today or timezone.localdate()
    text = _clean_text(facts)
    if facts.discovered_on is None:
        raise IncidentError(
            "required", _("Indiquez la date où l'incident a été constaté."), "discovered_on"
        )
    if facts.discovered_on > today:
        raise IncidentError(
            "discovered_in_future",
            _("La date où l'incident a été constaté ne peut pas être dans le futur."),
            "discovered_on",
        )
    if facts.occurred_on is not None and facts.occurred_on > facts.discovered_on:
        raise IncidentError(
            "occurred_after_discovery",
            _("L'incident ne peut pas avoir commencé après avoir été constaté."),
            "occurred_on",
        )
    if facts.occurred_until is not None:
        if facts.occurred_on is None:
            raise IncidentError(
                "period_without_start",
                _("Indiquez aussi la date du début de l'incident."),
                "occurred_on",
            )
        if facts.occurred_until < facts.occurred_on:
            raise IncidentError(
                "period_ends_before_start",
                _("La fin de la période ne peut pas précéder son début."),
                "occurred_until",
            )
        if facts.occurred_until > today:
            raise IncidentError(
                "period_ends_in_future",
                _(
                    "La fin de la période ne peut pas être dans le futur : laissez-la vide tant "
                    "que l'incident dure."
                ),
                "occurred_until",
            )
    for name in ("commission_notified_on", "people_notified_on"):
        notified = getattr(facts, name)
        if notified is None:
            continue
        if notified < facts.discovered_on:
            raise IncidentError(
                "notified_before_discovery",
                _("Un avis ne peut pas avoir été transmis avant que l'incident soit constaté."),
                name,
            )
        if notified > today:
            raise IncidentError(
                "notified_in_future",
                _(
                    "La date d'un avis ne peut pas être dans le futur : inscrivez-la une fois "
                    "l'avis transmis."
                ),
                name,
            )
    people = facts.people_affected
    if people is not None and not 0 <= people <= MAX_PEOPLE:
        raise IncidentError(
            "invalid_people_affected",
            _("Le nombre de personnes concernées est un nombre entier de 0 à {max}.").format(
                max=MAX_PEOPLE
            ),
            "people_affected",
        )
    if facts.risk not in PrivacyIncident.Risk.values:
        raise IncidentError("invalid_risk", _("Choisissez une évaluation du risque."), "risk")
    return IncidentFacts(
        description=text["description"],
        circumstances=text["circumstances"],
        discovered_on=facts.discovered_on,
        occurred_on=facts.occurred_on,
        occurred_until=facts.occurred_until,
        people_affected=people,
        risk=facts.risk,
        risk_assessment=text["risk_assessment"],
        commission_notified_on=facts.commission_notified_on,
        people_notified_on=facts.people_notified_on,
        notices=text["notices"],
        measures=text["measures"],
    )


def record_incident(
    *, program: Program, facts: IncidentFacts, recorded_by: User
) -> PrivacyIncident:
    """Add an incident to the program's register."""
    clean = clean_facts(facts)
    return PrivacyIncident.objects.create(
        program=program,
        recorded_by=recorded_by,
        **{name: getattr(clean, name) for name in FACT_FIELDS},
    )


def update_incident(*, incident: PrivacyIncident, facts: IncidentFacts) -> list[str]:
    """Complete or correct an incident (the risk is assessed, notices go out, measures are
    taken); returns the names of the changed fields."""
    clean = clean_facts(facts)
    with transaction.atomic():
        incident = PrivacyIncident.objects.select_for_update().get(pk=incident.pk)
        changed = [name for name in FACT_FIELDS if getattr(incident, name) != getattr(clean, name)]
        if not changed:
            return []
        for name in changed:
            setattr(incident, name, getattr(clean, name))
        incident.save(update_fields=[*changed, "updated_at"])
    return changed
