"""The evaluation survey in the impact report: before and after, in aggregate only, for the
programs in scope; small groups of respondents suppressed for funders; one query whatever the
number of answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from beneficiaires import services, survey
from beneficiaires.models import SurveyResponse
from beneficiaires.survey import SurveyAnswers
from programmes.models import Program
from rapports.funding_report import funding_report, network_scope, program_scope
from rapports.impact_report import impact_report
from rapports.report_sections import layout
from rapports.report_types import ImpactReport, SurveyFigure
from rapports.suppression import suppress_for_funder
from tests import factories as f

pytestmark = pytest.mark.django_db

KEYS = ["food_insecurity", "very_low_food_security", "fruit_vegetables"]
# Answers giving each raw score from 0 to 6 (AD1a follows a yes to AD1).
BY_SCORE = {
    0: ("never", "never", "no", "", "no", "no"),
    1: ("sometimes", "never", "no", "", "no", "no"),
    2: ("often", "sometimes", "no", "", "no", "no"),
    3: ("often", "sometimes", "yes", "1_or_2", "no", "no"),
    4: ("often", "sometimes", "yes", "3_or_more", "no", "no"),
    5: ("often", "sometimes", "yes", "3_or_more", "yes", "no"),
    6: ("often", "sometimes", "yes", "3_or_more", "yes", "yes"),
}
UNKNOWN = ("unknown", "unknown", "unknown", "", "unknown", "unknown")


def report(program: Program) -> ImpactReport:
    scope = program_scope(program)
    return impact_report(scope.programs, scope=scope.scope, label=scope.label)


def figures(program: Program) -> dict[str, SurveyFigure]:
    return {figure.key: figure for figure in report(program).survey}


def answer(
    program: Program,
    phase: str,
    scores: Sequence[int | None],
    servings: Sequence[str | None],
    households: list[Any] | None = None,
) -> list[Any]:
    """One household per score, answering `phase` through the service (with its consent)."""
    organization = program.organizations.first() or f.OrganizationFactory(program=program)
    user = f.UserFactory()
    made = []
    for index, (score, serving) in enumerate(zip(scores, servings, strict=True)):
        household = (
            households[index]
            if households
            else f.HouseholdFactory(program=program, organization=organization, enrolled_by=user)
        )
        if not households:
            services.give_consent(household=household, purpose="survey", recorded_by=user)
        codes = UNKNOWN if score is None else BY_SCORE[score]
        survey.record_survey_response(
            household=household,
            phase=phase,
            answers=SurveyAnswers(
                *codes, fruit_vegetable_servings=None if serving is None else Decimal(serving)
            ),
            recorded_by=user,
        )
        made.append(household)
    return made


def bulk_answers(program: Program, count: int) -> None:
    """`count` responses per phase written directly (only the report's reading is under test)."""
    SurveyResponse.objects.bulk_create(
        SurveyResponse(
            program=program,
            phase=phase,
            food_did_not_last="never",
            balanced_meals="never",
            cut_or_skipped_meals="no",
            ate_less="no",
            hungry="no",
            raw_score=index % 7,
            fruit_vegetable_servings=Decimal(index % 10),
        )
        for index in range(count)
        for phase in ("enrollment", "end_of_season")
    )


def count_queries(run: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as context:
        run()
    return len(context.captured_queries)


def test_a_program_without_answers_reports_no_survey() -> None:
    assert report(f.ProgramFactory()).survey == []


def test_before_and_after_are_shares_of_food_insecure_households_and_mean_servings() -> None:
    program = f.ProgramFactory()
    households = answer(
        program, "enrollment", [0, 2, 3, 5, 6, 1], ["1", "2.5", "0", "3", "1.5", None]
    )
    answer(program, "end_of_season", [0, 0, 1, 2, 5], ["4", "3", "2", "2.5", "3"], households[:5])

    by_key = figures(program)

    assert list(by_key) == KEYS
    insecure = by_key["food_insecurity"]
    assert (insecure.before_respondents, insecure.before_value) == (6, Decimal("0.6667"))
    assert (insecure.after_respondents, insecure.after_value) == (5, Decimal("0.4000"))
    assert insecure.measure == "share"
    very_low = by_key["very_low_food_security"]
    assert (very_low.before_respondents, very_low.before_value) == (6, Decimal("0.3333"))
    assert (very_low.after_respondents, very_low.after_value) == (5, Decimal("0.2000"))
    fruits = by_key["fruit_vegetables"]
    # 8 servings from the 5 who answered; 14.5 from 5.
    assert (fruits.before_respondents, fruits.before_value) == (5, Decimal("1.60"))
    assert (fruits.after_respondents, fruits.after_value) == (5, Decimal("2.90"))
    assert fruits.measure == "mean"


def test_a_household_that_answered_no_question_has_no_score_but_its_servings_count() -> None:
    program = f.ProgramFactory()
    answer(program, "enrollment", [None, 2, 0, 0, 0], ["2", "2", "2", "2", "2"])

    by_key = figures(program)

    assert by_key["food_insecurity"].before_respondents == 4
    assert by_key["food_insecurity"].before_value == Decimal("0.2500")
    assert by_key["fruit_vegetables"].before_respondents == 5
    assert by_key["food_insecurity"].after_respondents == 0
    assert by_key["food_insecurity"].after_value is None


def test_only_the_programs_in_scope_are_counted() -> None:
    mine, other = f.ProgramFactory(slug="mien"), f.ProgramFactory(slug="autre")
    answer(mine, "enrollment", [0] * 5, ["1"] * 5)
    answer(other, "enrollment", [6] * 7, ["9"] * 7)

    assert figures(mine)["food_insecurity"].before_respondents == 5
    assert figures(mine)["food_insecurity"].before_value == Decimal("0.0000")
    network = {
        figure.key: figure
        for figure in impact_report(Program.objects.all(), scope="network", label="Réseau").survey
    }
    assert network["food_insecurity"].before_respondents == 12


def test_anonymized_households_answers_stay_in_the_figures(world: Any) -> None:
    program = f.ProgramFactory()
    households = answer(program, "enrollment", [6] * 5, ["1"] * 5)
    for household in households:
        services.anonymize_household(household=household, by=world.admin)

    assert not SurveyResponse.objects.filter(household__isnull=False).exists()
    assert figures(program)["very_low_food_security"].before_value == Decimal("1.0000")


def test_a_funder_sees_no_figure_of_fewer_than_five_respondents() -> None:
    program = f.ProgramFactory()
    # Five households of each level (secure, low, very low): every count is 5 or more.
    households = answer(program, "enrollment", [0] * 5 + [2] * 5 + [6] * 5, ["3"] * 15)
    answer(program, "end_of_season", [0, 2, 5], ["1", "2", "3"], households[:3])

    funder = suppress_for_funder(report(program), min_cell=5)

    for figure in funder.survey:
        assert figure.before_respondents == 15
        assert figure.before_value is not None
        assert (figure.after_respondents, figure.after_value) == (None, None)
    assert {f"survey:{key}:after" for key in KEYS} <= set(funder.suppressed)


def test_a_share_of_fewer_than_five_households_is_hidden_from_a_funder() -> None:
    """One very food-insecure household among eleven: its share would name a group of one."""
    program = f.ProgramFactory()
    answer(program, "enrollment", [0] * 10 + [6], ["3"] * 11)

    plain = figures(program)
    funder = {figure.key: figure for figure in suppress_for_funder(report(program)).survey}

    assert plain["food_insecurity"].before_value == Decimal("0.0909")
    for key in ("food_insecurity", "very_low_food_security"):
        assert funder[key].before_respondents == 11
        assert (funder[key].before_value, funder[key].before_count) == (None, None)
    assert funder["fruit_vegetables"].before_value == Decimal("3.00")


def test_a_share_whose_other_households_are_fewer_than_five_is_hidden_too() -> None:
    """Ten of eleven food-insecure: the share tells that one household is not."""
    program = f.ProgramFactory()
    answer(program, "enrollment", [6] * 10 + [0], ["3"] * 11)

    funder = suppress_for_funder(report(program))

    by_key = {figure.key: figure for figure in funder.survey}
    for key in ("food_insecurity", "very_low_food_security"):
        assert by_key[key].before_respondents == 11
        assert by_key[key].before_value is None
    assert "survey:food_insecurity:before:counted" in funder.suppressed


def test_the_report_layout_has_a_survey_section() -> None:
    program = f.ProgramFactory()
    answer(program, "enrollment", [0, 2, 3, 5, 6], ["1", "2", "3", "4", "5"])

    scope = program_scope(program)
    funding = funding_report(scope.programs, scope=scope.scope, label=scope.label)

    section = layout(funding, report(program), language="fr").section("survey")
    assert [row.key for row in section.rows] == KEYS
    assert "insécurité alimentaire" in section.rows[0].label


def test_the_survey_takes_one_query_whatever_the_number_of_answers(
    django_assert_num_queries: Any,
) -> None:
    small, large = f.ProgramFactory(slug="petit"), f.ProgramFactory(slug="grand")
    bulk_answers(small, 10)
    bulk_answers(large, 700)

    with django_assert_num_queries(1):
        totals = survey.survey_totals(Program.objects.filter(pk=large.pk).values("pk"))
    assert totals["enrollment"].scored == 700
    with_10 = count_queries(lambda: report(small))
    with_700 = count_queries(lambda: report(large))
    network = count_queries(
        lambda: impact_report(network_scope().programs, scope="network", label="Réseau")
    )
    # The seven queries of the rest of the impact report, and the survey's one.
    assert with_10 == with_700 == network <= 8
    assert figures(large)["food_insecurity"].before_respondents == 700


def test_an_answer_with_no_score_and_no_servings_still_shows_the_survey() -> None:
    program = f.ProgramFactory()
    answer(program, "enrollment", [None], [None])

    by_key = figures(program)

    assert list(by_key) == KEYS
    assert all(figure.before_respondents == 0 for figure in by_key.values())
    assert all(figure.before_value is None for figure in by_key.values())
