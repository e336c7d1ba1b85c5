"""A program's enrollment rules, set by its coordinator: privacy policy, eligibility criteria
and partner quotas; the criteria then decide who can be enrolled."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from beneficiaires import program_services
from beneficiaires.models import EligibilityCriterion, EnrollmentPolicy, Household, Partnership
from beneficiaires.services import EnrollmentError, enroll_household, policy_for
from tests.factories import EligibilityCriterionFactory, OrganizationFactory, UserFactory
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db


def settings_url(program: Any) -> str:
    return reverse("beneficiaires:enrollment_settings", kwargs={"slug": program.slug})


def edit_url(program: Any, criterion: Any) -> str:
    return reverse(
        "beneficiaires:criterion_edit", kwargs={"slug": program.slug, "pk": criterion.pk}
    )


def delete_url(program: Any, criterion: Any) -> str:
    return reverse(
        "beneficiaires:criterion_delete", kwargs={"slug": program.slug, "pk": criterion.pk}
    )


def quota_url(program: Any, organization: Any) -> str:
    return reverse(
        "beneficiaires:partner_quota",
        kwargs={"slug": program.slug, "organization_slug": organization.slug},
    )


def criterion_data(**values: str) -> dict[str, str]:
    data = {
        "action": "add_criterion",
        "criterion-kind": "",
        "criterion-question_fr": "",
        "criterion-question_en": "",
        "criterion-postal_prefixes": "",
        "criterion-income_threshold": "",
        "criterion-min_size": "",
        "criterion-max_size": "",
    }
    data.update({f"criterion-{name}": value for name, value in values.items()})
    return data


def criteria_of(program: Any) -> list[tuple[str, str]]:
    return list(program.eligibility_criteria.values_list("kind", "key"))


# --- Who may open the pages ---------------------------------------------------------------


def test_the_coordinator_sees_the_policy_the_criteria_and_the_quotas(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    response = client.get(settings_url(world.a.program))

    page = text(response)
    assert response.status_code == 200
    assert "Règles d'inscription" in page
    assert "Conservation après la saison (jours)" in page
    assert world.a.criterion.key in page
    assert edit_url(world.a.program, world.a.criterion) in page
    assert delete_url(world.a.program, world.a.criterion) in page
    assert "Territoire : vérifié d'après le code postal du ménage" in page
    assert quota_url(world.a.program, world.a.organization) in page


@pytest.mark.parametrize("who", ["intervenant", "manager", "vendor_user"])
def test_other_roles_of_the_program_get_404(client: Client, world: Any, who: str) -> None:
    client.force_login(getattr(world.a, who))
    urls = [
        settings_url(world.a.program),
        edit_url(world.a.program, world.a.criterion),
        delete_url(world.a.program, world.a.criterion),
        quota_url(world.a.program, world.a.organization),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(delete_url(world.a.program, world.a.criterion)).status_code == 404
    assert EligibilityCriterion.objects.filter(pk=world.a.criterion.pk).exists()


def test_another_programs_coordinator_gets_404_and_changes_nothing(
    client: Client, world: Any
) -> None:
    client.force_login(world.b.coordinator)

    responses = [
        client.get(settings_url(world.a.program)),
        client.post(
            settings_url(world.a.program),
            {"action": "policy", "policy-retention_days": "10", "policy-notes_allowed": "on"},
        ),
        client.post(delete_url(world.a.program, world.a.criterion)),
        client.post(quota_url(world.a.program, world.a.organization), {"household_quota": "1"}),
    ]

    assert [r.status_code for r in responses] == [404] * 4
    assert not EnrollmentPolicy.objects.filter(program=world.a.program).exists()
    assert EligibilityCriterion.objects.filter(pk=world.a.criterion.pk).exists()
    assert Partnership.objects.get(organization=world.a.organization).household_quota is None


def test_a_criterion_of_another_program_is_404_under_this_program(
    client: Client, world: Any
) -> None:
    client.force_login(world.admin)

    assert client.get(edit_url(world.a.program, world.b.criterion)).status_code == 404
    assert client.post(delete_url(world.a.program, world.b.criterion)).status_code == 404
    assert EligibilityCriterion.objects.filter(pk=world.b.criterion.pk).exists()


def test_a_network_admin_may_open_every_programs_settings(client: Client, world: Any) -> None:
    client.force_login(world.admin)

    assert client.get(settings_url(world.b.program)).status_code == 200


# --- Privacy policy -----------------------------------------------------------------------


def test_the_coordinator_sets_the_privacy_policy(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        settings_url(world.a.program),
        {"action": "policy", "policy-notes_allowed": "on", "policy-retention_days": "365"},
        follow=True,
    )

    policy = EnrollmentPolicy.objects.get(program=world.a.program)
    assert (policy.notes_allowed, policy.retention_days) == (True, 365)
    assert "La politique d'inscription est enregistrée." in messages_of(response)
    page = text(response)
    assert 'value="365"' in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3651", "La durée de conservation compte de 0 à 3650 jours après la saison."),
        ("-1", "La durée de conservation compte de 0 à 3650 jours après la saison."),
        ("six mois", "Indiquez un nombre entier."),
        ("", "Indiquez un nombre de jours."),
    ],
)
def test_a_bad_retention_is_refused_and_changes_nothing(
    client: Client, world: Any, value: str, message: str
) -> None:
    program_services.set_enrollment_policy(
        program=world.a.program, notes_allowed=False, retention_days=90
    )
    client.force_login(world.a.coordinator)

    response = client.post(
        settings_url(world.a.program),
        {"action": "policy", "policy-notes_allowed": "on", "policy-retention_days": value},
    )

    assert response.status_code == 400
    assert message in text(response)
    policy = EnrollmentPolicy.objects.get(program=world.a.program)
    assert (policy.notes_allowed, policy.retention_days) == (False, 90)


def test_the_policy_service_checks_its_range() -> None:
    with pytest.raises(EnrollmentError) as raised:
        program_services.set_enrollment_policy(
            program=None,  # type: ignore[arg-type]  # refused before any use
            notes_allowed=True,
            retention_days=4000,
        )
    assert (raised.value.code, raised.value.field) == ("invalid_retention_days", "retention_days")


def test_without_notes_allowed_the_enrollment_refuses_notes(world: Any) -> None:
    program_services.set_enrollment_policy(
        program=world.a.program, notes_allowed=False, retention_days=0
    )
    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, notes="Préfère être appelée le matin")
    assert raised.value.code == "notes_not_allowed"

    program_services.set_enrollment_policy(
        program=world.a.program, notes_allowed=True, retention_days=0
    )
    household = enroll(world.a, notes="Préfère être appelée le matin")
    assert household.notes == "Préfère être appelée le matin"
    assert policy_for(world.a.program).retention_days == 0


def test_an_unknown_action_changes_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    before = criteria_of(world.a.program)

    response = client.post(settings_url(world.a.program), {"action": "supprimer-tout"})

    assert response.status_code == 400
    assert "Action inconnue : rien n'a été modifié." in messages_of(response)
    assert criteria_of(world.a.program) == before


# --- Criteria: add, validation, edit, delete ----------------------------------------------


def test_the_coordinator_adds_a_territory_criterion(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        settings_url(world.a.program),
        criterion_data(kind="territory", postal_prefixes="g0a g3n,G0A ;g0a", min_size="3"),
        follow=True,
    )

    criterion = EligibilityCriterion.objects.get(program=world.a.program, kind="territory")
    assert criterion.postal_prefixes == "G0A, G3N"
    assert criterion.key == "territoire"
    assert criterion.min_size is None  # a territory uses its prefixes only
    assert "Critère ajouté : Habite le territoire (codes postaux)." in messages_of(response)
    assert "Code postal commençant par G0A, G3N" in text(response)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"kind": "territory", "postal_prefixes": "G0A, G0"},
            "postal_prefixes",
            "« G0 » n'est pas un début de code postal valide",
        ),
        (
            {"kind": "territory", "postal_prefixes": "G0A 1A0"},
            "postal_prefixes",
            "« 1A0 » n'est pas un début de code postal valide",
        ),
        (
            {"kind": "territory", "postal_prefixes": "D0A"},
            "postal_prefixes",
            "« D0A » n'est pas un début de code postal valide",
        ),
        (
            {"kind": "territory", "postal_prefixes": " , "},
            "postal_prefixes",
            "Indiquez au moins un début de code postal admissible",
        ),
        ({"kind": "income"}, "income_threshold", "Indiquez le seuil de revenu annuel."),
        (
            {"kind": "income", "income_threshold": "0"},
            "income_threshold",
            "Le seuil de revenu est un montant plus grand que 0 $.",
        ),
        (
            {"kind": "income", "income_threshold": "-100"},
            "income_threshold",
            "Le seuil de revenu est un montant plus grand que 0 $.",
        ),
        (
            {"kind": "income", "income_threshold": "beaucoup"},
            "income_threshold",
            "Saisissez un montant, par exemple 35000 ou 1250,50.",
        ),
        (
            {"kind": "household_size"},
            "min_size",
            "Indiquez une taille minimale, une taille maximale ou les deux.",
        ),
        (
            {"kind": "household_size", "min_size": "5", "max_size": "2"},
            "max_size",
            "La taille minimale dépasse la taille maximale.",
        ),
        (
            {"kind": "household_size", "min_size": "0"},
            "min_size",
            "Une taille de ménage compte de 1 à 40 personnes.",
        ),
        (
            {"kind": "household_size", "max_size": "41"},
            "max_size",
            "Une taille de ménage compte de 1 à 40 personnes.",
        ),
        ({"kind": "question"}, "question_fr", "Écrivez la question en français."),
        ({"kind": ""}, "kind", "Choisissez un type de critère."),
        ({"kind": "astrologie"}, "kind", "Choisissez un des types proposés."),
    ],
)
def test_a_bad_criterion_is_refused_with_a_french_message_and_changes_nothing(
    client: Client, world: Any, values: dict[str, str], field: str, message: str
) -> None:
    client.force_login(world.a.coordinator)
    before = criteria_of(world.a.program)

    response = client.post(settings_url(world.a.program), criterion_data(**values))

    assert response.status_code == 400
    assert message in text(response)
    assert response.context["criterion_form"].has_error(field)
    assert f'id="id_criterion-{field}_error"' in text(response)
    assert criteria_of(world.a.program) == before


def test_each_kind_gets_a_readable_unique_key(world: Any) -> None:
    program = world.a.program
    world.a.criterion.delete()
    add = program_services.add_criterion

    keys = [
        add(program=program, kind="territory", postal_prefixes="G0A").key,
        add(program=program, kind="territory", postal_prefixes="G3N").key,
        add(program=program, kind="income", income_threshold=Decimal("35000")).key,
        add(program=program, kind="referred").key,
        add(program=program, kind="household_size", max_size=8).key,
        add(program=program, kind="question", question_fr="Habite la MRC depuis 6 mois ?").key,
        add(program=program, kind="question", question_fr="Habite la MRC depuis 6 mois ?").key,
        add(program=program, kind="question", question_fr="?!").key,
    ]

    assert keys == [
        "territoire",
        "territoire-2",
        "revenu",
        "refere",
        "taille",
        "question-habite-la-mrc-depuis-6-mois",
        "question-habite-la-mrc-depuis-6-mois-2",
        "question",
    ]


def test_a_long_question_gets_a_key_of_at_most_40_characters(world: Any) -> None:
    question = "La personne fréquente-t-elle le comptoir alimentaire chaque semaine ?"
    first = program_services.add_criterion(
        program=world.a.program, kind="question", question_fr=question
    )
    second = program_services.add_criterion(
        program=world.a.program, kind="question", question_fr=question
    )

    assert len(first.key) <= 40 and len(second.key) <= 40
    assert first.key != second.key
    assert second.key.endswith("-2")


def test_the_income_threshold_is_read_the_french_way(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    client.post(
        settings_url(world.a.program),
        criterion_data(kind="income", income_threshold="35 000,50 $"),
    )

    criterion = EligibilityCriterion.objects.get(program=world.a.program, kind="income")
    assert criterion.income_threshold == Decimal("35000.50")
    assert criterion.key == "revenu"
    assert "Le revenu annuel du ménage est-il inférieur à 35\xa0000,50" in criterion.question


def test_the_edit_form_shows_the_fields_its_kind_uses(client: Client, world: Any) -> None:
    criterion = program_services.add_criterion(
        program=world.a.program, kind="household_size", min_size=2, max_size=6
    )
    client.force_login(world.a.coordinator)

    response = client.get(edit_url(world.a.program, criterion))

    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"min_size", "max_size"}
    page = text(response)
    assert 'value="2"' in page and 'value="6"' in page
    assert "taille" in page


def test_the_coordinator_edits_a_criterion_and_its_key_stays(client: Client, world: Any) -> None:
    criterion = program_services.add_criterion(
        program=world.a.program, kind="territory", postal_prefixes="G0A"
    )
    client.force_login(world.a.coordinator)

    response = client.post(
        edit_url(world.a.program, criterion), {"postal_prefixes": "g0a, g3n, g0x"}, follow=True
    )

    criterion.refresh_from_db()
    assert criterion.postal_prefixes == "G0A, G3N, G0X"
    assert (criterion.kind, criterion.key) == ("territory", "territoire")
    assert "Critère modifié : Habite le territoire (codes postaux)." in messages_of(response)


def test_a_bad_edit_is_refused_and_changes_nothing(client: Client, world: Any) -> None:
    criterion = program_services.add_criterion(
        program=world.a.program, kind="question", question_fr="Habite la MRC ?"
    )
    client.force_login(world.a.coordinator)

    response = client.post(
        edit_url(world.a.program, criterion), {"question_fr": "  ", "question_en": "Lives here?"}
    )

    assert response.status_code == 400
    assert "Écrivez la question en français." in text(response)
    criterion.refresh_from_db()
    assert (criterion.question_fr, criterion.question_en) == ("Habite la MRC ?", "")


def test_deleting_a_criterion_asks_first_and_households_keep_their_answers(
    client: Client, world: Any
) -> None:
    criterion = program_services.add_criterion(program=world.a.program, kind="referred")
    household = enroll(world.a, answers={criterion.key: True})
    client.force_login(world.a.coordinator)

    confirmation = client.get(delete_url(world.a.program, criterion))
    assert confirmation.status_code == 200
    assert "Oui, supprimer ce critère" in text(confirmation)
    assert EligibilityCriterion.objects.filter(pk=criterion.pk).exists()

    response = client.post(delete_url(world.a.program, criterion), follow=True)

    assert not EligibilityCriterion.objects.filter(pk=criterion.pk).exists()
    assert "Critère supprimé : Référé·e par l'organisme." in messages_of(response)
    household.refresh_from_db()
    assert household.eligibility == {"taille": True, "refere": True}
    # Without the criterion, a household that does not meet it can now be enrolled.
    assert enroll(world.a, name="Lou Pelletier").eligibility == {"taille": True}


def test_deleting_by_get_only_shows_the_confirmation(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    client.get(delete_url(world.a.program, world.a.criterion))
    assert EligibilityCriterion.objects.filter(pk=world.a.criterion.pk).exists()


# --- Criteria decide who can be enrolled ---------------------------------------------------


def enroll(scope: Any, **overrides: Any) -> Household:
    kwargs: dict[str, Any] = {
        "organization": scope.organization,
        "program": scope.program,
        "name": "Camille Bérubé",
        "adults": 1,
        "children": 0,
        "postal_code": "G0A 1A0",
        "preferred_language": "fr",
        "consent_given": True,
        "enrolled_by": scope.intervenant,
    }
    kwargs.update(overrides)
    return enroll_household(**kwargs)


def test_a_household_that_does_not_meet_a_criterion_is_not_enrolled(world: Any) -> None:
    key = program_services.add_criterion(program=world.a.program, kind="referred").key

    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, answers={key: False})

    assert raised.value.code == "not_eligible"
    assert raised.value.field == f"critere_{key}"
    assert "Ce ménage ne remplit pas ce critère du programme" in raised.value.message
    assert not Household.objects.filter(name="Camille Bérubé").exists()


def test_a_territory_criterion_refuses_a_postal_code_outside_its_prefixes(world: Any) -> None:
    program_services.add_criterion(
        program=world.a.program, kind="territory", postal_prefixes="G0A, G3N"
    )
    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, postal_code="G5L 2X9")

    assert (raised.value.code, raised.value.field) == ("not_eligible", "postal_code")
    assert "G0A, G3N" in raised.value.message
    assert not Household.objects.filter(name="Camille Bérubé").exists()
    household = enroll(world.a, postal_code="g3n 1a1")
    assert household.postal_code == "G3N 1A1"


def test_the_recorded_answers_are_saved_with_the_household(world: Any) -> None:
    referred = program_services.add_criterion(program=world.a.program, kind="referred")
    income = program_services.add_criterion(
        program=world.a.program, kind="income", income_threshold=Decimal("35000")
    )
    territory = program_services.add_criterion(
        program=world.a.program, kind="territory", postal_prefixes="G0A"
    )
    size = program_services.add_criterion(
        program=world.a.program, kind="household_size", min_size=2
    )

    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, answers={referred.key: True, income.key: False})
    assert (raised.value.code, raised.value.field) == ("not_eligible", "critere_revenu")
    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, answers={referred.key: True, income.key: True})
    assert (raised.value.code, raised.value.field) == ("not_eligible", "adults")
    assert "de 2 à 40 personnes" in raised.value.message

    household = enroll(
        world.a, adults=1, children=2, answers={referred.key: True, income.key: True}
    )
    assert household.eligibility == {
        "taille": True,
        "refere": True,
        "revenu": True,
        "territoire": True,
        "taille-2": True,
    }
    assert size.key == "taille-2" and territory.key == "territoire"


def test_a_household_size_criterion_bounds_the_size(world: Any) -> None:
    program_services.add_criterion(program=world.a.program, kind="household_size", max_size=2)

    with pytest.raises(EnrollmentError) as raised:
        enroll(world.a, adults=2, children=1)
    assert raised.value.code == "not_eligible"
    assert enroll(world.a, adults=2, children=0).size == 2


# --- Partner quotas -----------------------------------------------------------------------


def test_the_coordinator_sets_a_partners_quota(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    page = client.get(quota_url(world.a.program, world.a.organization))
    assert page.status_code == 200
    assert "Ménages inscrits (actifs)" in text(page)

    response = client.post(
        quota_url(world.a.program, world.a.organization),
        {"household_quota": "12", "value_quota": "1 500,00"},
        follow=True,
    )

    partnership = Partnership.objects.get(
        organization=world.a.organization, program=world.a.program
    )
    assert (partnership.household_quota, partnership.value_quota) == (12, Decimal("1500.00"))
    assert "Le quota de l'organisme Organisme a est enregistré." in messages_of(response)

    client.post(
        quota_url(world.a.program, world.a.organization),
        {"household_quota": "", "value_quota": ""},
    )
    partnership.refresh_from_db()
    assert (partnership.household_quota, partnership.value_quota) == (None, None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"household_quota": "-1", "value_quota": ""},
            "Le quota de ménages est un nombre entier de 0 à",
        ),
        ({"household_quota": "deux", "value_quota": ""}, "Indiquez un nombre entier."),
        (
            {"household_quota": "", "value_quota": "-5"},
            "Le quota en dollars est un montant de 0 à",
        ),
        (
            {"household_quota": "", "value_quota": "cinq cents"},
            "Saisissez un montant, par exemple 35000 ou 1250,50.",
        ),
    ],
)
def test_a_bad_quota_is_refused_and_changes_nothing(
    client: Client, world: Any, data: dict[str, str], message: str
) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(quota_url(world.a.program, world.a.organization), data)

    assert response.status_code == 400
    assert message in text(response)
    partnership = Partnership.objects.get(organization=world.a.organization)
    assert (partnership.household_quota, partnership.value_quota) == (None, None)


def test_the_quota_of_an_organization_that_is_not_a_partner_is_404(
    client: Client, world: Any
) -> None:
    outsider = OrganizationFactory(program=world.b.program)
    client.force_login(world.a.coordinator)

    assert client.get(quota_url(world.a.program, outsider)).status_code == 404
    assert client.get(quota_url(world.a.program, world.b.organization)).status_code == 404


def test_a_user_without_a_role_gets_404(client: Client, world: Any) -> None:
    client.force_login(UserFactory())
    assert client.get(settings_url(world.a.program)).status_code == 404
    assert client.get(quota_url(world.a.program, world.a.organization)).status_code == 404


def test_criteria_crud_does_not_touch_another_program(world: Any) -> None:
    EligibilityCriterionFactory(program=world.b.program, kind="territory", key="territoire")

    criterion = program_services.add_criterion(
        program=world.a.program, kind="territory", postal_prefixes="G0A"
    )

    assert criterion.key == "territoire"  # keys are unique per program only
