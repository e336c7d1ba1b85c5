"""The evaluation survey's pages: a household's survey (what is answered, the consent) and the
form of one phase. Thin views: the household is fetched through `households_for(user)`, so the
intervenants of its organization, the coordinators of its program and network admins reach
it, and anyone else gets a 404. The page never shows a household's answers: they are reported
in aggregate only (and are in the household's own access export)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from beneficiaires import selectors, survey
from beneficiaires.models import Household, SurveyResponse
from beneficiaires.services import EnrollmentError
from beneficiaires.survey_forms import SurveyForm

if TYPE_CHECKING:
    from comptes.models import User

# The phases as they read in a URL.
PHASE_SLUGS = {
    "inscription": SurveyResponse.Phase.ENROLLMENT,
    "fin-de-saison": SurveyResponse.Phase.END_OF_SEASON,
}
SLUG_OF_PHASE = {phase: slug for slug, phase in PHASE_SLUGS.items()}


def _household(request: HttpRequest, pk: int) -> Household:
    return get_object_or_404(selectors.households_for(request.user), pk=pk)


def _phases(household: Household) -> list[dict[str, object]]:
    answered = survey.answered_phases(household)
    return [
        {
            "phase": phase,
            "label": phase.label,
            "slug": SLUG_OF_PHASE[phase],
            "response": answered.get(phase),
        }
        for phase in SurveyResponse.Phase
    ]


@login_required
@require_GET
@never_cache
def household_survey(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    return render(
        request,
        "beneficiaires/survey_household.html",
        {
            "household": household,
            "consented": survey.has_survey_consent(household),
            "phases": _phases(household),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def household_survey_answer(request: HttpRequest, pk: int, phase: str) -> HttpResponse:
    household = _household(request, pk)
    if phase not in PHASE_SLUGS:
        raise Http404
    phase_value = PHASE_SLUGS[phase]
    answered = survey.answered_phases(household).get(phase_value)
    consented = survey.has_survey_consent(household)
    status = 200
    if request.method == "POST":
        form = SurveyForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                survey.record_survey_response(
                    household=household,
                    phase=phase_value,
                    answers=form.answers(),
                    recorded_by=cast("User", request.user),
                )
            except EnrollmentError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request,
                    _("Réponses au sondage enregistrées ({phase}). Merci !").format(
                        phase=phase_value.label
                    ),
                )
                return redirect("beneficiaires:household_survey", pk=household.pk)
    else:
        form = SurveyForm()
    return render(
        request,
        "beneficiaires/survey_form.html",
        {
            "household": household,
            "form": form,
            "phase": phase_value,
            "slug": phase,
            "answered": answered,
            "consented": consented,
            "can_answer": consented and answered is None and not household.is_anonymized,
        },
        status=status,
    )
