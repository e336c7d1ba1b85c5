"""Programs: the list, creating and configuring a program, and who may do it."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from comptes.registry import role_definition, workspaces_for
from programmes.forms import parse_denominations
from programmes.models import AllotmentRule, Denomination, ProductCategory, Program, Territory
from programmes.services import ProgramError, ProgramSetup, create_program, update_program
from tests.helpers import text

pytestmark = pytest.mark.django_db

CREATE_URL = "/programmes/nouveau/"


def categories(*slugs: str) -> list[str]:
    return [str(ProductCategory.objects.get(slug=slug).pk) for slug in slugs]


def rules(*rows: tuple[Any, Any]) -> dict[str, str]:
    data = {
        "regles-TOTAL_FORMS": "6",
        "regles-INITIAL_FORMS": "0",
        "regles-MIN_NUM_FORMS": "0",
        "regles-MAX_NUM_FORMS": "6",
    }
    for index, (size, amount) in enumerate(rows):
        data[f"regles-{index}-household_size"] = str(size)
        data[f"regles-{index}-amount"] = str(amount)
    return data


def program_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Coupons Portneuf 2026",
        "territory_name": "Portneuf",
        "territory_kind": "mrc",
        "season_start": "2026-06-01",
        "season_end": "2026-10-31",
        "serial_prefix": "port",
        "distribution_count": "12",
        "distribution_frequency": "weekly",
        "denominations": "5, 2",
        "categories": categories("fruits-legumes", "oeufs-produits-laitiers"),
        "offline_max_count": "20",
        "offline_max_value": "100.00",
        "local_currency": "",
        "local_rate": "",
        **rules((1, "20"), (3, "30.00"), (5, "60")),
    }
    if any(key.startswith("regles-") for key in overrides):
        data = {key: value for key, value in data.items() if not key.startswith("regles-")}
    data.update(overrides)
    return data


def snapshot(program: Program) -> tuple[Any, ...]:
    program.refresh_from_db()
    return (
        program.name,
        program.territory_id,
        program.season_start,
        program.season_end,
        program.serial_prefix,
        program.distribution_count,
        program.distribution_frequency,
        program.coupon_validity_days,
        sorted(program.categories.values_list("slug", flat=True)),
        sorted(program.denominations.values_list("value", flat=True)),
        list(program.allotment_rules.values_list("household_size", "amount")),
        program.offline_max_count,
        program.offline_max_value,
        program.local_currency,
        program.local_rate,
    )


# The default categories ------------------------------------------------------------------------


def test_the_default_product_categories_exist_in_both_languages() -> None:
    names = dict(ProductCategory.objects.values_list("slug", "name_fr"))
    assert names["fruits-legumes"] == "Fruits et légumes"
    assert names["oeufs-produits-laitiers"] == "Œufs et produits laitiers"
    assert names["viandes-poissons"] == "Viandes et poissons"
    assert names["pain-cereales"] == "Pain et céréales"
    assert names["miel-erable"] == "Miel et produits de l'érable"
    assert names["plants-semis"] == "Plants et semis"
    assert ProductCategory.objects.get(slug="plants-semis").name_en == "Seedlings"


# Creating --------------------------------------------------------------------------------------


def test_a_coordinator_creates_a_program_and_becomes_its_coordinator(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(CREATE_URL, program_data())

    program = Program.objects.get(name="Coupons Portneuf 2026")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "rapports:program_dashboard", kwargs={"slug": program.slug}
    )
    assert program.slug == "coupons-portneuf-2026"
    assert program.territory == Territory.objects.get(name="Portneuf", kind="mrc")
    assert program.season_start == datetime.date(2026, 6, 1)
    assert program.season_end == datetime.date(2026, 10, 31)
    assert program.currency == "CAD"
    assert program.serial_prefix == "PORT"
    assert (program.distribution_count, program.distribution_frequency) == (12, "weekly")
    assert program.coupon_validity_days is None
    assert sorted(program.categories.values_list("slug", flat=True)) == [
        "fruits-legumes",
        "oeufs-produits-laitiers",
    ]
    assert list(program.denominations.values_list("value", flat=True)) == [
        Decimal("5.00"),
        Decimal("2.00"),
    ]
    assert list(program.allotment_rules.values_list("household_size", "amount")) == [
        (1, Decimal("20.00")),
        (3, Decimal("30.00")),
        (5, Decimal("60.00")),
    ]
    assert list(program.coordinators.all()) == [world.a.coordinator]


def test_a_network_admin_may_create_a_program_and_amounts_may_be_typed_the_french_way(
    client: Client, world: Any
) -> None:
    client.force_login(world.admin)

    response = client.post(
        CREATE_URL,
        program_data(denominations="5 ; 2 ; 0.50", **rules((1, "27,50"))),
    )

    assert response.status_code == 302
    program = Program.objects.get(name="Coupons Portneuf 2026")
    assert program.allotment_rules.get().amount == Decimal("27.50")
    assert list(program.denominations.values_list("value", flat=True)) == [
        Decimal("5.00"),
        Decimal("2.00"),
        Decimal("0.50"),
    ]
    assert list(program.allotment_rules.values_list("amount", flat=True)) == [Decimal("27.50")]
    assert world.admin in program.coordinators.all()


@pytest.mark.parametrize("who", ["intervenant", "manager", "vendor_user"])
def test_people_who_coordinate_nothing_may_not_create_a_program(
    client: Client, world: Any, who: str
) -> None:
    client.force_login(getattr(world.a, who))

    assert client.get(CREATE_URL).status_code == 403
    assert client.post(CREATE_URL, program_data()).status_code == 403
    assert not Program.objects.filter(name="Coupons Portneuf 2026").exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client, world: Any) -> None:
    response = client.get(CREATE_URL)
    assert response.status_code == 302
    assert "/comptes/" in response["Location"]


def test_the_creation_form_shows_six_allotment_rows_and_the_categories(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    page = text(client.get(CREATE_URL))

    assert "Valeurs des coupons" in page
    assert 'name="regles-5-amount"' in page
    assert 'name="regles-6-amount"' not in page
    assert "Miel et produits de l'érable" in page


INVALID_INPUTS = [
    pytest.param(
        {"season_start": "2026-10-31", "season_end": "2026-06-01"},
        "La fin de la saison doit être le même jour que son début ou après.",
        id="season-ends-before-start",
    ),
    pytest.param({"denominations": ""}, "Ce champ est obligatoire.", id="no-denomination"),
    pytest.param(
        {"denominations": " , ; "},
        "Indiquez au moins une valeur de coupon.",
        id="only-separators",
    ),
    pytest.param(
        {"denominations": "5, deux"},
        "« deux » n'est pas une valeur de coupon valide",
        id="denomination-not-a-number",
    ),
    pytest.param(
        {"denominations": "5, 2,50"}, "Écriture ambiguë", id="denomination-ambiguous-comma"
    ),
    pytest.param(
        {"denominations": "5, 0"},
        "Chaque valeur de coupon doit être plus grande que 0",
        id="denomination-zero",
    ),
    pytest.param(
        {"denominations": "5, 2.505"},
        "n'est pas une valeur de coupon valide",
        id="denomination-three-decimals",
    ),
    pytest.param(
        rules(),
        "Indiquez au moins une règle d'allocation, à partir d'une personne.",
        id="no-allotment-rule",
    ),
    pytest.param(
        rules((2, "20"), (4, "30")),
        "La première règle d'allocation doit commencer à un ménage d'une personne.",
        id="first-rule-not-at-one",
    ),
    pytest.param(
        rules((1, "20"), (1, "30")),
        "Chaque taille de ménage n'a qu'une règle d'allocation.",
        id="duplicate-size",
    ),
    pytest.param(
        rules((1, "20"), (3, "")),
        "Indiquez à la fois la taille du ménage et le montant",
        id="half-filled-row",
    ),
    pytest.param(
        rules((1, "-20")),
        "Le montant par distribution doit être plus grand que 0",
        id="negative-amount",
    ),
    pytest.param(
        {"serial_prefix": "PO-1"},
        "Le préfixe compte de 1 à 6 lettres non accentuées ou chiffres",
        id="serial-prefix-with-a-dash",
    ),
    pytest.param(
        {"serial_prefix": "ÉTÉ"},
        "Le préfixe compte de 1 à 6 lettres non accentuées ou chiffres",
        id="serial-prefix-accented",
    ),
    pytest.param(
        {"categories": []},
        "Choisissez au moins une catégorie de produits admissibles.",
        id="no-category",
    ),
    pytest.param(
        {"categories": ["999999"]},
        "Sélectionnez un choix valide.",
        id="unknown-category",
    ),
    pytest.param(
        {"distribution_count": "0"},
        "Assurez-vous que cette valeur est supérieure ou égale à 1.",
        id="no-distribution",
    ),
    pytest.param(
        {"distribution_count": "40", "distribution_frequency": "weekly"},
        "La dernière distribution aurait lieu le",
        id="distributions-beyond-the-season",
    ),
    pytest.param({"season_start": "pas une date"}, "Saisissez une date valide.", id="bad-date"),
    pytest.param({"name": "   "}, "Ce champ est obligatoire.", id="blank-name"),
    pytest.param(
        {"territory_kind": "province"},
        "Sélectionnez un choix valide.",
        id="unknown-territory-kind",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), INVALID_INPUTS)
def test_bad_input_on_creation_is_explained_and_creates_nothing(
    client: Client, world: Any, overrides: dict[str, Any], message: str
) -> None:
    client.force_login(world.a.coordinator)
    counts = (
        Program.objects.count(),
        Territory.objects.count(),
        Denomination.objects.count(),
        AllotmentRule.objects.count(),
    )

    response = client.post(CREATE_URL, program_data(**overrides))

    assert response.status_code == 400
    assert message in text(response)
    assert counts == (
        Program.objects.count(),
        Territory.objects.count(),
        Denomination.objects.count(),
        AllotmentRule.objects.count(),
    )


def test_an_allotment_that_the_coupon_values_cannot_make_names_the_amount(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        CREATE_URL, program_data(denominations="5", **rules((1, "20"), (3, "27")))
    )

    assert response.status_code == 400
    page = text(response)
    assert (
        "Le montant 27,00\xa0$ (ménages de 3 personne(s) et plus) ne peut pas être composé" in page
    )
    assert "5,00\xa0$" in page
    assert not Program.objects.filter(name="Coupons Portneuf 2026").exists()


def test_an_allotment_that_needs_a_mix_of_coupons_is_accepted(world: Any) -> None:
    # $6 with $5 and $2 coupons is 2+2+2: a greedy split would wrongly refuse it.
    program = create_program(
        setup=ProgramSetup(
            **service_kwargs(
                denominations=[Decimal("5"), Decimal("2")], allotment_rules=[(1, Decimal("6"))]
            )
        ),
        created_by=world.a.coordinator,
    )
    assert list(program.allotment_rules.values_list("amount", flat=True)) == [Decimal("6.00")]


def test_a_program_slug_never_takes_a_reserved_or_used_one(world: Any) -> None:
    first = create_program(
        setup=ProgramSetup(**service_kwargs(name="Nouveau")), created_by=world.admin
    )
    second = create_program(
        setup=ProgramSetup(**service_kwargs(name="Nouveau")), created_by=world.admin
    )
    assert first.slug == "nouveau-2"
    assert second.slug == "nouveau-3"


# The service's error codes ---------------------------------------------------------------------


def service_kwargs(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "name": "Programme de service",
        "territory_name": "La Mitis",
        "territory_kind": "mrc",
        "season_start": datetime.date(2026, 6, 1),
        "season_end": datetime.date(2026, 9, 30),
        "serial_prefix": "MIT",
        "distribution_count": 4,
        "distribution_frequency": "biweekly",
        "categories": list(ProductCategory.objects.filter(slug="fruits-legumes")),
        "denominations": [Decimal("5"), Decimal("2")],
        "allotment_rules": [(1, Decimal("20")), (3, Decimal("30"))],
    }
    kwargs.update(overrides)
    return kwargs


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"season_end": datetime.date(2026, 5, 31)}, "season_ends_before_start"),
        ({"denominations": []}, "no_denominations"),
        ({"denominations": [Decimal("-5")]}, "invalid_denomination"),
        ({"allotment_rules": []}, "no_allotment_rules"),
        ({"allotment_rules": [(2, Decimal("20"))]}, "first_rule_not_one"),
        ({"allotment_rules": [(1, Decimal("7.50"))]}, "allotment_not_composable"),
        ({"serial_prefix": "TROPLONG"}, "invalid_serial_prefix"),
        ({"currency": "USD"}, "unsupported_currency"),
        ({"categories": []}, "no_categories"),
        ({"territory_kind": "pays"}, "invalid_territory_kind"),
    ],
)
def test_create_program_refuses_bad_settings_with_a_code(
    world: Any, overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(ProgramError) as raised:
        create_program(setup=ProgramSetup(**service_kwargs(**overrides)), created_by=world.admin)
    assert raised.value.code == code
    assert not Program.objects.filter(name="Programme de service").exists()
    assert not Territory.objects.filter(name="La Mitis").exists()


def test_parse_denominations() -> None:
    assert parse_denominations("5, 2") == [Decimal("5"), Decimal("2")]
    assert parse_denominations("5$ 2 $;0.25") == [Decimal("5"), Decimal("2"), Decimal("0.25")]


# Editing ---------------------------------------------------------------------------------------


def edit_url(program: Program) -> str:
    return reverse("programmes:program_edit", kwargs={"slug": program.slug})


def test_the_edit_form_is_filled_with_the_current_settings(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    page = text(client.get(edit_url(world.a.program)))

    assert 'value="Programme a"' in page
    assert 'value="5, 2"' in page
    assert 'name="regles-0-household_size" value="1"' in page
    assert 'name="regles-1-household_size" value="3"' in page
    assert 'name="regles-1-amount" value="30.00"' in page


def test_a_coordinator_edits_their_program(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    program = world.a.program

    response = client.post(
        edit_url(program),
        program_data(
            name="Programme a, saison 2",
            territory_name="Kamouraska",
            denominations="10, 5, 1",
            **rules((1, "21"), (4, "41")),
            categories=categories("miel-erable"),
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse(
        "rapports:program_dashboard", kwargs={"slug": program.slug}
    )
    program.refresh_from_db()
    assert program.name == "Programme a, saison 2"
    assert program.slug == "programme-a"
    assert program.territory.name == "Kamouraska"
    assert list(program.denominations.values_list("value", flat=True)) == [
        Decimal("10.00"),
        Decimal("5.00"),
        Decimal("1.00"),
    ]
    assert list(program.allotment_rules.values_list("household_size", "amount")) == [
        (1, Decimal("21.00")),
        (4, Decimal("41.00")),
    ]
    assert list(program.categories.values_list("slug", flat=True)) == ["miel-erable"]


@pytest.mark.parametrize(("overrides", "message"), INVALID_INPUTS)
def test_bad_input_on_edit_is_explained_and_changes_nothing(
    client: Client, world: Any, overrides: dict[str, Any], message: str
) -> None:
    client.force_login(world.a.coordinator)
    before = snapshot(world.a.program)

    response = client.post(
        edit_url(world.a.program), program_data(**{"name": "Autre nom", **overrides})
    )

    assert response.status_code == 400
    assert message in text(response)
    assert snapshot(world.a.program) == before


def test_an_edit_with_an_allotment_not_composable_names_the_amount_and_changes_nothing(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    before = snapshot(world.a.program)

    response = client.post(
        edit_url(world.a.program), program_data(denominations="10", **rules((1, "25")))
    )

    assert response.status_code == 400
    assert "Le montant 25,00\xa0$" in text(response)
    assert snapshot(world.a.program) == before


def test_update_program_keeps_the_coordinators(world: Any) -> None:
    program = update_program(program=world.a.program, setup=ProgramSetup(**service_kwargs()))
    assert program.name == "Programme de service"
    assert list(program.coordinators.all()) == [world.a.coordinator]


@pytest.mark.parametrize("who", ["intervenant", "manager", "vendor_user"])
def test_only_the_programs_coordinators_may_edit_it(client: Client, world: Any, who: str) -> None:
    before = snapshot(world.a.program)
    for user in (world.b.coordinator, getattr(world.a, who), world.nobody):
        client.force_login(user)
        assert client.get(edit_url(world.a.program)).status_code == 404
        assert client.post(edit_url(world.a.program), program_data()).status_code == 404
    assert snapshot(world.a.program) == before


def test_a_network_admin_may_edit_any_program(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    response = client.post(edit_url(world.b.program), program_data(name="Renommé"))
    assert response.status_code == 302
    world.b.program.refresh_from_db()
    assert world.b.program.name == "Renommé"


# The list --------------------------------------------------------------------------------------


def test_the_list_shows_only_the_users_programs(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    page = text(client.get("/programmes/"))
    assert "Programme a" in page
    assert "Programme b" not in page
    assert "Nouveau programme" in page

    client.force_login(world.admin)
    page = text(client.get("/programmes/"))
    assert "Programme a" in page and "Programme b" in page


def test_the_list_is_empty_for_someone_who_coordinates_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    page = text(client.get("/programmes/"))
    assert "Vous ne coordonnez aucun programme." in page
    assert "Programme a" not in page
    assert "Nouveau programme" not in page


def test_the_list_paginates_by_25(client: Client, world: Any) -> None:
    from tests.factories import ProgramFactory

    for number in range(30):
        program: Any = ProgramFactory(name=f"Lot {number:02d}")
        program.coordinators.add(world.a.coordinator)
    client.force_login(world.a.coordinator)
    first = client.get("/programmes/")
    assert len(first.context["page_obj"].object_list) == 25
    assert len(client.get("/programmes/?page=2").context["page_obj"].object_list) == 6
    assert client.get("/programmes/?page=abc").status_code == 200


# Roles and workspaces --------------------------------------------------------------------------


def test_the_coordinator_role_is_registered(world: Any) -> None:
    definition = role_definition("coordinator")
    assert definition.scope_model is Program
    assert set(definition.invitable_scopes(world.admin)) == {world.a.program, world.b.program}
    assert list(definition.invitable_scopes(world.a.coordinator)) == [world.a.program]
    assert list(definition.invitable_scopes(world.a.intervenant)) == []
    definition.grant(world.nobody, world.b.program)
    definition.grant(world.nobody, world.b.program)
    assert list(world.b.program.coordinators.filter(pk=world.nobody.pk)) == [world.nobody]


def test_a_coordinator_has_the_program_list_and_one_workspace_per_program(world: Any) -> None:
    spaces = [w for w in workspaces_for(world.a.coordinator) if w.role == "coordinator"]
    assert [(str(w.label), w.url) for w in spaces] == [
        ("Programmes", reverse("programmes:program_list")),
        ("Programme a", reverse("rapports:program_dashboard", kwargs={"slug": "programme-a"})),
    ]
    admin_spaces = [str(w.label) for w in workspaces_for(world.admin) if w.role == "coordinator"]
    assert admin_spaces == ["Programmes", "Programme a", "Programme b"]
    assert not [w for w in workspaces_for(world.a.intervenant) if w.role == "coordinator"]


# Offline limits and the local currency ---------------------------------------------------------


def test_a_coordinator_sets_the_offline_limits_and_a_local_currency(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    page = text(client.get(edit_url(world.a.program)))
    assert 'name="offline_max_count" value="20"' in page
    assert "Scan hors ligne et remboursement des marchand·es" in page

    response = client.post(
        edit_url(world.a.program),
        program_data(
            offline_max_count="35",
            offline_max_value="150,50 $",
            local_currency="  Le   Napoléon ",
            local_rate="1,25",
        ),
    )

    assert response.status_code == 302
    program = world.a.program
    program.refresh_from_db()
    assert (program.offline_max_count, program.offline_max_value) == (35, Decimal("150.50"))
    assert (program.local_currency, program.local_rate) == ("Le Napoléon", Decimal("1.2500"))
    page = text(client.get(edit_url(program)))
    assert 'value="Le Napoléon"' in page and 'value="1.2500"' in page

    # Emptying the name (and the rate) removes the local currency.
    client.post(edit_url(program), program_data(local_currency="", local_rate=""))
    program.refresh_from_db()
    assert (program.local_currency, program.local_rate) == ("", None)


def test_zero_offline_coupons_is_allowed_and_a_new_program_gets_the_defaults(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    assert 'name="offline_max_count" value="20"' in text(client.get(CREATE_URL))

    client.post(CREATE_URL, program_data(offline_max_count="0", offline_max_value="0"))

    program = Program.objects.get(name="Coupons Portneuf 2026")
    assert (program.offline_max_count, program.offline_max_value) == (0, Decimal("0.00"))
    assert (program.local_currency, program.local_rate) == ("", None)


SETTINGS_ERRORS = [
    pytest.param(
        {"offline_max_count": "501"},
        "Le nombre de coupons hors ligne par appareil va de 0 à 500.",
        id="too-many-offline-coupons",
    ),
    pytest.param(
        {"offline_max_count": "-1"},
        "Le nombre de coupons hors ligne par appareil va de 0 à 500.",
        id="negative-offline-count",
    ),
    pytest.param({"offline_max_count": ""}, "Ce champ est obligatoire.", id="no-offline-count"),
    pytest.param(
        {"offline_max_value": "5000.01"},
        "La valeur hors ligne par appareil va de 0 à 5\xa0000,00\xa0$",
        id="offline-value-too-high",
    ),
    pytest.param(
        {"offline_max_value": "-5"},
        "La valeur hors ligne par appareil va de 0 à",
        id="negative-offline-value",
    ),
    pytest.param(
        {"local_currency": "Napoléon", "local_rate": ""},
        "Indiquez le taux de la monnaie locale : combien d'unités pour 1 $ CA.",
        id="currency-without-rate",
    ),
    pytest.param(
        {"local_currency": "", "local_rate": "1.25"},
        "Indiquez le nom de la monnaie locale, ou laissez son taux vide.",
        id="rate-without-currency",
    ),
    pytest.param(
        {"local_currency": "Napoléon", "local_rate": "0"},
        "Le taux de la monnaie locale est un nombre plus grand que 0 avec au plus 4 décimales",
        id="zero-rate",
    ),
    pytest.param(
        {"local_currency": "Napoléon", "local_rate": "1.23456"},
        "Le taux de la monnaie locale est un nombre plus grand que 0 avec au plus 4 décimales",
        id="rate-with-five-decimals",
    ),
    pytest.param(
        {"local_currency": "Napoléon", "local_rate": "beaucoup"},
        "Saisissez un nombre.",
        id="rate-not-a-number",
    ),
    pytest.param(
        {"local_currency": "N" * 41, "local_rate": "1"},
        "Le nom de la monnaie locale compte 40 caractères au plus.",
        id="currency-name-too-long",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), SETTINGS_ERRORS)
def test_bad_offline_or_local_currency_settings_are_explained_and_change_nothing(
    client: Client, world: Any, overrides: dict[str, Any], message: str
) -> None:
    client.force_login(world.a.coordinator)
    before = snapshot(world.a.program)

    response = client.post(edit_url(world.a.program), program_data(name="Autre nom", **overrides))

    assert response.status_code == 400
    assert message in text(response)
    assert snapshot(world.a.program) == before


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"offline_max_count": 501}, "invalid_offline_count"),
        ({"offline_max_value": Decimal("5000.01")}, "invalid_offline_value"),
        ({"offline_max_value": Decimal("10.005")}, "invalid_offline_value"),
        ({"local_currency": "Napoléon"}, "local_rate_required"),
        ({"local_rate": Decimal("1")}, "local_rate_without_currency"),
        ({"local_currency": "Napoléon", "local_rate": Decimal("-1")}, "invalid_local_rate"),
        ({"local_currency": "Napoléon", "local_rate": Decimal("1.00001")}, "invalid_local_rate"),
        ({"local_currency": "Napoléon", "local_rate": Decimal("1e7")}, "invalid_local_rate"),
        ({"local_currency": "x" * 41, "local_rate": Decimal("1")}, "invalid_local_currency"),
    ],
)
def test_the_service_refuses_bad_offline_and_currency_settings_with_a_code(
    world: Any, overrides: dict[str, Any], code: str
) -> None:
    before = snapshot(world.a.program)
    with pytest.raises(ProgramError) as raised:
        update_program(program=world.a.program, setup=ProgramSetup(**service_kwargs(**overrides)))
    assert raised.value.code == code
    assert snapshot(world.a.program) == before


def test_the_service_keeps_the_limits_at_their_bounds(world: Any) -> None:
    program = update_program(
        program=world.a.program,
        setup=ProgramSetup(
            **service_kwargs(
                offline_max_count=500,
                offline_max_value=Decimal("5000"),
                local_currency="Napoléon",
                local_rate=Decimal("0.0001"),
            )
        ),
    )
    assert (program.offline_max_count, program.offline_max_value) == (500, Decimal("5000.00"))
    assert program.local_rate == Decimal("0.0001")
