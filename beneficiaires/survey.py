"""The evaluation survey: record a household's answers (services) and read what the pages and
the impact report need (selectors).

The six-item short form of the household food security survey module (USDA Economic Research
Service, public domain), over the last 30 days, scored as its guide says: HH3 and HH4
"often" or "sometimes" true, AD1, AD2 and AD3 "yes", AD1a "3 days or more" are affirmative;
"don't know" or a refusal is not. The raw score is the number of affirmative answers (0 to 6):
0-1 high or marginal food security, 2-4 low, 5-6 very low. A household that answered none of
the questions has no score. Fruit and vegetable servings a day (0 to 20) are optional.

Rules: only with the household's active consent to the survey; one answer per household and
phase (the database's unique constraint settles a race); withdrawing the consent stops new
answers, and those already given stay, counted in aggregate only; anonymizing the household
removes their link to it (`unlink_anonymized_household`, a hook registered at start-up).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaires.models import AuditEntry, Consent, Household, SurveyResponse
from beneficiaires.services import EnrollmentError, record_access

if TYPE_CHECKING:
    from comptes.models import User
    from programmes.models import Program

Phase = SurveyResponse.Phase
Frequency = SurveyResponse.Frequency
YesNo = SurveyResponse.YesNo
Days = SurveyResponse.Days
Category = SurveyResponse.Category

MAX_SERVINGS = Decimal("20")
SERVINGS_STEP = Decimal("0.1")
# Raw scores from which a household is food insecure (low or very low) and very low.
FOOD_INSECURE_FROM = 2
VERY_LOW_FROM = 5
# Answer fields, in the order of the short form (HH3, HH4, AD1, AD1a, AD2, AD3).
ANSWER_FIELDS = (
    "food_did_not_last",
    "balanced_meals",
    "cut_or_skipped_meals",
    "cut_or_skipped_days",
    "ate_less",
    "hungry",
)
RECORDED_FIELDS = (*ANSWER_FIELDS, "fruit_vegetable_servings")
_CHOICES: dict[str, type[Frequency] | type[YesNo] | type[Days]] = {
    "food_did_not_last": Frequency,
    "balanced_meals": Frequency,
    "cut_or_skipped_meals": YesNo,
    "cut_or_skipped_days": Days,
    "ate_less": YesNo,
    "hungry": YesNo,
}
_AFFIRMATIVE: dict[str, set[str]] = {
    "food_did_not_last": {Frequency.OFTEN, Frequency.SOMETIMES},
    "balanced_meals": {Frequency.OFTEN, Frequency.SOMETIMES},
    "cut_or_skipped_meals": {YesNo.YES},
    "cut_or_skipped_days": {Days.THREE_OR_MORE},
    "ate_less": {YesNo.YES},
    "hungry": {YesNo.YES},
}
UNKNOWN = "unknown"


@dataclass(frozen=True)
class SurveyAnswers:
    """What the form (or any caller) gives: coded answers, as `SurveyResponse`'s choices.

    `cut_or_skipped_days` is "" unless `cut_or_skipped_meals` is yes; servings None when the
    person does not know or would rather not say.
    """

    food_did_not_last: str
    balanced_meals: str
    cut_or_skipped_meals: str
    cut_or_skipped_days: str
    ate_less: str
    hungry: str
    fruit_vegetable_servings: Decimal | None = None


# Scoring ---------------------------------------------------------------------------------------


def raw_score(answers: SurveyAnswers) -> int | None:
    """The number of affirmative answers; None when every question asked went unanswered."""
    asked = [name for name in ANSWER_FIELDS if getattr(answers, name)]
    if all(getattr(answers, name) == UNKNOWN for name in asked):
        return None
    return len([name for name in asked if getattr(answers, name) in _AFFIRMATIVE[name]])


def category_of(score: int | None) -> str:
    if score is None:
        return Category.UNDETERMINED
    if score >= VERY_LOW_FROM:
        return Category.VERY_LOW
    if score >= FOOD_INSECURE_FROM:
        return Category.LOW
    return Category.HIGH_OR_MARGINAL


# Validation ------------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> EnrollmentError:
    return EnrollmentError("invalid_answer", message, field)


def clean_answers(answers: SurveyAnswers) -> SurveyAnswers:
    """The answers checked (every code known, AD1a only after a yes, servings 0 to 20 by
    tenths), or an EnrollmentError naming the field at fault."""
    for name, choices in _CHOICES.items():
        value = getattr(answers, name)
        if name == "cut_or_skipped_days" and value == "":
            continue
        if value not in choices.values:
            raise _invalid(name, _("Choisissez une des réponses proposées."))
    if answers.cut_or_skipped_meals == YesNo.YES and not answers.cut_or_skipped_days:
        raise _invalid(
            "cut_or_skipped_days",
            _("La réponse à la question 3 est « oui » : dites combien de jours c'est arrivé."),
        )
    if answers.cut_or_skipped_meals != YesNo.YES and answers.cut_or_skipped_days:
        raise _invalid(
            "cut_or_skipped_days",
            _("Cette question ne se pose que si la réponse à la question 3 est « oui »."),
        )
    servings = answers.fruit_vegetable_servings
    if servings is not None:
        try:
            in_range = servings.is_finite() and Decimal("0") <= servings <= MAX_SERVINGS
            exact = in_range and servings == servings.quantize(SERVINGS_STEP)
        except InvalidOperation:
            in_range = exact = False
        if not in_range:
            raise _invalid(
                "fruit_vegetable_servings",
                _("Le nombre de portions par jour va de 0 à 20."),
            )
        if not exact:
            raise _invalid(
                "fruit_vegetable_servings",
                _("Donnez le nombre de portions au dixième près au plus (par exemple 2,5)."),
            )
    return answers


def has_survey_consent(household: Household) -> bool:
    return household.consents.filter(
        purpose=Consent.Purpose.SURVEY, withdrawn_at__isnull=True
    ).exists()


# Services --------------------------------------------------------------------------------------


def record_survey_response(
    *, household: Household, phase: str, answers: SurveyAnswers, recorded_by: User
) -> SurveyResponse:
    """Record the household's answers for `phase`, once, with its consent; one audit row."""
    if phase not in Phase.values:
        raise EnrollmentError("invalid_phase", _("Moment du sondage inconnu."))
    clean = clean_answers(answers)
    score = raw_score(clean)
    with transaction.atomic():
        # Locked so that a consent withdrawn at the same moment is seen, and anonymization
        # (which locks the row too) cannot slip between the check and the write.
        household = Household.objects.select_for_update().get(pk=household.pk)
        if household.anonymized_at is not None:
            raise EnrollmentError(
                "anonymized",
                _("Ce ménage a été rendu anonyme : il ne répond plus au sondage."),
            )
        if not has_survey_consent(household):
            raise EnrollmentError(
                "no_survey_consent",
                _(
                    "Le ménage n'a pas consenti au sondage d'évaluation (ou a retiré son "
                    "consentement) : enregistrez d'abord son consentement."
                ),
            )
        if SurveyResponse.objects.filter(household=household, phase=phase).exists():
            raise _already_answered(phase)
        try:
            # The unique constraint settles two recordings at once: the second one fails here.
            with transaction.atomic():
                response = SurveyResponse.objects.create(
                    household=household,
                    program_id=household.program_id,
                    phase=phase,
                    raw_score=score,
                    category=category_of(score),
                    recorded_by=recorded_by,
                    **{name: getattr(clean, name) for name in RECORDED_FIELDS},
                )
        except IntegrityError:
            raise _already_answered(phase) from None
        record_access(
            user=recorded_by,
            households=[household],
            action=AuditEntry.Action.CHANGE,
            fields=[],
            detail=f"survey:{phase}",
        )
    return response


def _already_answered(phase: str) -> EnrollmentError:
    return EnrollmentError(
        "already_answered",
        _("Le ménage a déjà répondu au sondage « {phase} » : une seule réponse par moment.").format(
            phase=Phase(phase).label
        ),
    )


def unlink_anonymized_household(household: Household, by: User | None) -> None:
    """Hook run when a household leaves or is anonymized: once anonymous, its answers keep
    their program and phase but lose the household, who recorded them and the time of day
    (which the access log could match)."""
    if household.anonymized_at is None:
        return
    SurveyResponse.objects.filter(household_id=household.pk).update(
        household=None,
        recorded_by=None,
        answered_at=TruncDay("answered_at", tzinfo=timezone.get_current_timezone()),
    )


def survey_export_section(household: Household) -> list[dict[str, Any]]:
    """The household's answers in its access export (right of access)."""
    responses = household.survey_responses.select_related("recorded_by").order_by("phase")
    return [
        {
            "phase": response.phase,
            **{name: getattr(response, name) for name in RECORDED_FIELDS},
            "raw_score": response.raw_score,
            "category": response.category,
            "answered_at": response.answered_at,
            "recorded_by": response.recorded_by,
        }
        for response in responses
    ]


def connect() -> None:
    """Called by the app's `ready()`: the export lists the answers; anonymization unlinks them."""
    from beneficiaires.exports import register_export_section
    from beneficiaires.services import register_household_closed_hook

    register_export_section("survey", survey_export_section)
    register_household_closed_hook(unlink_anonymized_household)


# Selectors -------------------------------------------------------------------------------------


def answered_phases(household: Household) -> dict[str, SurveyResponse]:
    """The phases the household has answered, with their response (for the page's status)."""
    return {response.phase: response for response in household.survey_responses.all()}


@dataclass(frozen=True)
class PhaseTotals:
    """One phase's answers, in aggregate: household counts and the servings' sum."""

    responses: int  # households that answered
    scored: int  # households with a score
    food_insecure: int  # score ≥ FOOD_INSECURE_FROM
    very_low: int  # score ≥ VERY_LOW_FROM
    servings_respondents: int
    servings_total: Decimal


def survey_totals(programs: QuerySet[Program] | Iterable[int]) -> dict[str, PhaseTotals]:
    """Each phase's totals for `programs` (already scoped to the reader), in one query.

    Every response is one household (one per phase), so these counts are household counts.
    """
    aggregates: dict[str, Any] = {}
    for phase in Phase.values:
        in_phase = Q(phase=phase)
        scored = in_phase & Q(raw_score__isnull=False)
        served = in_phase & Q(fruit_vegetable_servings__isnull=False)
        aggregates |= {
            f"{phase}_responses": Count("pk", filter=in_phase),
            f"{phase}_scored": Count("pk", filter=scored),
            f"{phase}_insecure": Count(
                "pk", filter=in_phase & Q(raw_score__gte=FOOD_INSECURE_FROM)
            ),
            f"{phase}_very_low": Count("pk", filter=in_phase & Q(raw_score__gte=VERY_LOW_FROM)),
            f"{phase}_served": Count("pk", filter=served),
            f"{phase}_servings": Sum("fruit_vegetable_servings", filter=served),
        }
    row = SurveyResponse.objects.filter(program__in=programs).order_by().aggregate(**aggregates)
    return {
        phase: PhaseTotals(
            responses=row[f"{phase}_responses"] or 0,
            scored=row[f"{phase}_scored"] or 0,
            food_insecure=row[f"{phase}_insecure"] or 0,
            very_low=row[f"{phase}_very_low"] or 0,
            servings_respondents=row[f"{phase}_served"] or 0,
            # SQLite sums decimals as floats: back to tenths, which is what was stored.
            servings_total=Decimal(str(row[f"{phase}_servings"] or 0)).quantize(SERVINGS_STEP),
        )
        for phase in Phase.values
    }
