"""The evaluation survey: scored as the six-item short form says, only with its own consent,
once per household and phase, audited, kept to its scope, and unlinked from the household when
it is anonymized."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from beneficiaires import services, survey
from beneficiaires.exports import household_export
from beneficiaires.models import AuditEntry, Household, SurveyResponse
from beneficiaires.services import EnrollmentError
from beneficiaires.survey import SurveyAnswers
from tests import factories as f
from tests.helpers import text

pytestmark = pytest.mark.django_db

NONE_AFFIRMATIVE = SurveyAnswers(
    food_did_not_last="never",
    balanced_meals="never",
    cut_or_skipped_meals="no",
    cut_or_skipped_days="",
    ate_less="no",
    hungry="no",
    fruit_vegetable_servings=Decimal("3.5"),
)
ALL_AFFIRMATIVE = SurveyAnswers(
    food_did_not_last="often",
    balanced_meals="sometimes",
    cut_or_skipped_meals="yes",
    cut_or_skipped_days="3_or_more",
    ate_less="yes",
    hungry="yes",
    fruit_vegetable_servings=Decimal("1"),
)
# What the form posts for ALL_AFFIRMATIVE (French decimal comma).
VALID_POST = {
    "food_did_not_last": "often",
    "balanced_meals": "sometimes",
    "cut_or_skipped_meals": "yes",
    "cut_or_skipped_days": "3_or_more",
    "ate_less": "yes",
    "hungry": "yes",
    "fruit_vegetable_servings": "2,5",
}


def consent(household: Household, user: Any) -> None:
    services.give_consent(household=household, purpose="survey", recorded_by=user)


def record(household: Household, user: Any, phase: str = "enrollment", **changes: Any) -> Any:
    answers = SurveyAnswers(**{**NONE_AFFIRMATIVE.__dict__, **changes})
    return survey.record_survey_response(
        household=household, phase=phase, answers=answers, recorded_by=user
    )


def survey_url(household: Household) -> str:
    return reverse("beneficiaires:household_survey", kwargs={"pk": household.pk})


def answer_url(household: Household, phase: str = "inscription") -> str:
    return reverse(
        "beneficiaires:household_survey_answer", kwargs={"pk": household.pk, "phase": phase}
    )


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Scoring -----------------------------------------------------------------------------------------


def test_no_affirmative_answer_is_high_or_marginal_food_security() -> None:
    assert survey.raw_score(NONE_AFFIRMATIVE) == 0
    assert survey.category_of(0) == "high_or_marginal"


def test_six_affirmative_answers_are_very_low_food_security() -> None:
    assert survey.raw_score(ALL_AFFIRMATIVE) == 6
    assert survey.category_of(6) == "very_low"


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "high_or_marginal"), (1, "high_or_marginal"), (2, "low"), (4, "low"), (5, "very_low")],
)
def test_the_categories_follow_the_short_forms_thresholds(score: int, category: str) -> None:
    assert survey.category_of(score) == category


def test_dont_know_counts_as_not_affirmative_and_all_unknown_has_no_score() -> None:
    some_unknown = SurveyAnswers(**{**ALL_AFFIRMATIVE.__dict__, "hungry": "unknown"})
    all_unknown = SurveyAnswers(
        food_did_not_last="unknown",
        balanced_meals="unknown",
        cut_or_skipped_meals="unknown",
        cut_or_skipped_days="",
        ate_less="unknown",
        hungry="unknown",
    )

    assert survey.raw_score(some_unknown) == 5
    assert survey.raw_score(all_unknown) is None
    assert survey.category_of(None) == ""


def test_one_or_two_days_of_smaller_meals_is_not_affirmative() -> None:
    answers = SurveyAnswers(**{**ALL_AFFIRMATIVE.__dict__, "cut_or_skipped_days": "1_or_2"})

    assert survey.raw_score(answers) == 5


@given(
    hh3=st.sampled_from(["often", "sometimes", "never", "unknown"]),
    hh4=st.sampled_from(["often", "sometimes", "never", "unknown"]),
    ad1=st.sampled_from(["yes", "no", "unknown"]),
    ad1a=st.sampled_from(["3_or_more", "1_or_2", "unknown"]),
    ad2=st.sampled_from(["yes", "no", "unknown"]),
    ad3=st.sampled_from(["yes", "no", "unknown"]),
)
def test_the_score_counts_the_affirmative_answers(
    hh3: str, hh4: str, ad1: str, ad1a: str, ad2: str, ad3: str
) -> None:
    answers = SurveyAnswers(hh3, hh4, ad1, ad1a if ad1 == "yes" else "", ad2, ad3)
    survey.clean_answers(answers)  # every combination the form can send is valid

    expected = (
        (hh3 in ("often", "sometimes"))
        + (hh4 in ("often", "sometimes"))
        + (ad1 == "yes")
        + (ad1 == "yes" and ad1a == "3_or_more")
        + (ad2 == "yes")
        + (ad3 == "yes")
    )
    asked = [hh3, hh4, ad1, ad2, ad3] + ([ad1a] if ad1 == "yes" else [])
    score = survey.raw_score(answers)
    if all(answer == "unknown" for answer in asked):
        assert score is None
    else:
        assert score == expected
        assert 0 <= score <= 6


# Recording ---------------------------------------------------------------------------------------


def test_answers_are_recorded_with_their_score_and_an_audit_row(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)

    response = record(household, world.a.intervenant, **ALL_AFFIRMATIVE.__dict__)

    assert (response.raw_score, response.category) == (6, "very_low")
    assert response.program == household.program
    assert response.fruit_vegetable_servings == Decimal("1")
    entry = AuditEntry.objects.filter(household=household, detail="survey:enrollment").get()
    assert entry.user == world.a.intervenant
    assert entry.fields == []  # field names only, never answers


def test_the_access_log_says_which_survey_was_answered_in_words(client: Client, world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    record(household, world.a.intervenant, **ALL_AFFIRMATIVE.__dict__)
    client.force_login(world.a.coordinator)

    page = text(client.get(reverse("beneficiaires:household_audit", kwargs={"pk": household.pk})))

    assert "Sondage d'évaluation : À l'inscription" in page
    assert "survey:enrollment" not in page


def test_there_is_no_survey_without_its_consent(world: Any) -> None:
    with pytest.raises(EnrollmentError) as excinfo:
        record(world.a.household, world.a.intervenant)

    assert excinfo.value.code == "no_survey_consent"
    assert not SurveyResponse.objects.exists()


def test_withdrawing_the_consent_stops_new_answers_and_keeps_the_old_ones(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    record(household, world.a.intervenant)
    services.withdraw_consent(
        household=household, purpose="survey", withdrawn_by=world.a.coordinator
    )

    with pytest.raises(EnrollmentError) as excinfo:
        record(household, world.a.intervenant, phase="end_of_season")

    assert excinfo.value.code == "no_survey_consent"
    assert list(SurveyResponse.objects.values_list("phase", flat=True)) == ["enrollment"]


def test_the_participation_consent_does_not_stand_for_the_surveys(world: Any) -> None:
    household = world.a.household
    services.give_consent(household=household, purpose="contact", recorded_by=world.a.intervenant)

    with pytest.raises(EnrollmentError):
        record(household, world.a.intervenant)


def test_a_household_answers_once_per_phase(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    record(household, world.a.intervenant)

    with pytest.raises(EnrollmentError) as excinfo:
        record(household, world.a.coordinator, **ALL_AFFIRMATIVE.__dict__)

    assert excinfo.value.code == "already_answered"
    assert "une seule réponse par moment" in excinfo.value.message
    record(household, world.a.intervenant, phase="end_of_season")
    assert SurveyResponse.objects.filter(household=household).count() == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hungry": "sometimes"}, "hungry"),
        ({"food_did_not_last": "yes"}, "food_did_not_last"),
        ({"cut_or_skipped_meals": "yes", "cut_or_skipped_days": ""}, "cut_or_skipped_days"),
        ({"cut_or_skipped_meals": "no", "cut_or_skipped_days": "1_or_2"}, "cut_or_skipped_days"),
        ({"fruit_vegetable_servings": Decimal("20.1")}, "fruit_vegetable_servings"),
        ({"fruit_vegetable_servings": Decimal("-1")}, "fruit_vegetable_servings"),
        ({"fruit_vegetable_servings": Decimal("2.25")}, "fruit_vegetable_servings"),
        ({"fruit_vegetable_servings": Decimal("NaN")}, "fruit_vegetable_servings"),
    ],
)
def test_an_invalid_answer_is_refused_and_nothing_is_saved(
    world: Any, changes: dict[str, Any], field: str
) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    audit_rows = AuditEntry.objects.count()

    with pytest.raises(EnrollmentError) as excinfo:
        record(household, world.a.intervenant, **changes)

    assert (excinfo.value.code, excinfo.value.field) == ("invalid_answer", field)
    assert not SurveyResponse.objects.exists()
    assert AuditEntry.objects.count() == audit_rows


def test_an_unknown_phase_is_refused(world: Any) -> None:
    consent(world.a.household, world.a.intervenant)

    with pytest.raises(EnrollmentError) as excinfo:
        record(world.a.household, world.a.intervenant, phase="midseason")

    assert excinfo.value.code == "invalid_phase"


def test_the_database_keeps_one_response_per_household_and_phase(world: Any) -> None:
    from django.db import IntegrityError, transaction

    household = world.a.household
    fields = {
        "household": household,
        "program": household.program,
        "phase": "enrollment",
        "food_did_not_last": "never",
        "balanced_meals": "never",
        "cut_or_skipped_meals": "no",
        "ate_less": "no",
        "hungry": "no",
        "raw_score": 0,
    }
    SurveyResponse.objects.create(**fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(**fields)


# Anonymization, export -------------------------------------------------------------------------


def test_anonymizing_the_household_unlinks_its_answers_and_keeps_them_counted(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    response = record(household, world.a.intervenant, **ALL_AFFIRMATIVE.__dict__)

    services.anonymize_household(household=household, by=world.a.coordinator)

    response.refresh_from_db()
    assert response.household is None
    assert response.recorded_by is None
    assert response.program == household.program
    assert response.raw_score == 6
    assert survey.survey_totals([household.program_id])["enrollment"].very_low == 1


def test_withdrawing_the_household_keeps_its_answers_linked_until_anonymization(
    world: Any,
) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    record(household, world.a.intervenant)

    services.withdraw_household(household=household, withdrawn_by=world.a.coordinator)

    assert SurveyResponse.objects.get().household == household


def test_the_access_export_lists_the_households_answers(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    record(household, world.a.intervenant)

    rows = household_export(household)["survey"]

    assert [row["phase"] for row in rows] == ["enrollment"]
    assert rows[0]["hungry"] == "no"
    assert rows[0]["fruit_vegetable_servings"] == "3.5"
    assert rows[0]["recorded_by"] == world.a.intervenant.email


# Pages ------------------------------------------------------------------------------------------


def test_the_household_page_links_to_its_survey(world: Any) -> None:
    page = text(
        signed_in(world.a.intervenant).get(
            reverse("coupons:household_detail", kwargs={"pk": world.a.household.pk})
        )
    )

    assert survey_url(world.a.household) in page
    assert "Questionnaire d'évaluation" in page


def test_without_consent_the_page_asks_for_it_and_offers_no_form(world: Any) -> None:
    client = signed_in(world.a.intervenant)

    page = text(client.get(survey_url(world.a.household)))
    form = client.get(answer_url(world.a.household))

    assert "Pas de consentement au sondage" in page
    assert answer_url(world.a.household) not in page
    assert form.status_code == 200
    assert "food_did_not_last" not in text(form)


def test_the_form_asks_the_six_questions_in_french(world: Any) -> None:
    consent(world.a.household, world.a.intervenant)

    page = text(signed_in(world.a.intervenant).get(answer_url(world.a.household)))

    assert "La nourriture que nous avions achetée n'a pas duré" in page
    assert "repas équilibrés" in page
    assert "sauté des repas" in page
    assert "combien de jours" in page
    assert "mangé moins que vous auriez dû" in page
    assert "eu faim sans manger" in page
    assert "portions de fruits et de légumes" in page
    assert "Ne sait pas ou refuse de répondre" in page


@pytest.mark.parametrize("who", ["intervenant", "coordinator"])
def test_the_organizations_worker_and_the_coordinator_record_answers(world: Any, who: str) -> None:
    household = world.a.household
    user = getattr(world.a, who)
    consent(household, user)

    response = signed_in(user).post(answer_url(household, "fin-de-saison"), VALID_POST)

    assert response.status_code == 302
    assert response["Location"] == survey_url(household)
    saved = SurveyResponse.objects.get()
    assert (saved.phase, saved.raw_score, saved.recorded_by) == ("end_of_season", 6, user)
    assert saved.fruit_vegetable_servings == Decimal("2.5")
    page = text(signed_in(user).get(survey_url(household)))
    assert "Répondu le" in page
    assert "often" not in page  # the answers themselves are never shown per household


def test_a_second_answer_for_a_phase_is_a_400_with_a_french_error(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    client = signed_in(world.a.intervenant)
    client.post(answer_url(household), VALID_POST)

    response = client.post(answer_url(household), {**VALID_POST, "hungry": "no"})

    assert response.status_code == 400
    assert "une seule réponse par moment" in text(response)
    assert SurveyResponse.objects.get().hungry == "yes"


def test_a_post_without_consent_is_a_400_and_saves_nothing(world: Any) -> None:
    response = signed_in(world.a.intervenant).post(answer_url(world.a.household), VALID_POST)

    assert response.status_code == 400
    assert "n'a pas consenti au sondage" in text(response)
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hungry": ""}, "Ce champ est obligatoire."),
        ({"hungry": "peut-être"}, "Sélectionnez un choix valide"),
        ({"fruit_vegetable_servings": "25"}, "inférieure ou égale à 20"),
        ({"fruit_vegetable_servings": "beaucoup"}, "Saisissez un nombre."),
        ({"cut_or_skipped_days": ""}, "dites combien de jours"),
        (
            {"cut_or_skipped_meals": "no", "cut_or_skipped_days": "1_or_2"},
            "ne se pose que si la réponse à la question 3",
        ),
    ],
)
def test_bad_input_is_a_400_with_a_french_error_and_nothing_saved(
    world: Any, changes: dict[str, str], message: str
) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)

    response = signed_in(world.a.intervenant).post(answer_url(household), {**VALID_POST, **changes})

    assert response.status_code == 400
    assert message in text(response)
    assert not SurveyResponse.objects.exists()
    assert not AuditEntry.objects.filter(detail__startswith="survey:").exists()


def test_an_unknown_phase_in_the_address_is_a_404(world: Any) -> None:
    response = signed_in(world.a.intervenant).get(answer_url(world.a.household, "milieu"))

    assert response.status_code == 404


@pytest.mark.parametrize(
    "who", ["b.intervenant", "b.coordinator", "a.manager", "a.vendor_user", "nobody"]
)
def test_outside_the_households_scope_the_survey_is_a_404(world: Any, who: str) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    scope, _dot, name = who.rpartition(".")
    user = getattr(getattr(world, scope), name) if scope else getattr(world, name)
    client = signed_in(user)

    assert client.get(survey_url(household)).status_code == 404
    assert client.get(answer_url(household)).status_code == 404
    assert client.post(answer_url(household), VALID_POST).status_code == 404
    assert not SurveyResponse.objects.exists()


def test_signed_out_the_survey_asks_to_sign_in(world: Any) -> None:
    response = Client().get(survey_url(world.a.household))

    assert response.status_code == 302
    assert "/connexion" in response["Location"] or "login" in response["Location"]


def test_an_anonymized_household_is_not_surveyed(world: Any) -> None:
    household = world.a.household
    consent(household, world.a.intervenant)
    services.anonymize_household(household=household, by=world.a.coordinator)

    response = signed_in(world.a.coordinator).post(answer_url(household), VALID_POST)

    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()


# Concurrency (PostgreSQL) ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_recordings_at_once_give_one_response() -> None:
    program = f.ProgramFactory()
    organization = f.OrganizationFactory(program=program)
    user = f.UserFactory()
    household = f.HouseholdFactory(program=program, organization=organization, enrolled_by=user)
    consent(household, user)
    barrier = threading.Barrier(2)
    codes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            record(household, user)
            codes.append("ok")
        except EnrollmentError as error:
            codes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == ["already_answered", "ok"]
    assert SurveyResponse.objects.filter(household=household).count() == 1
