"""The program form's funding fields: who holds the funds, the charity number, and the public
solidarity sale (price, value, subsidy, packs per purchase): validation and saved values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from programmes.models import Program
from tests.helpers import text
from tests.programmes.test_programs import CREATE_URL, program_data

pytestmark = pytest.mark.django_db

D = Decimal
NAME = "Coupons Portneuf 2026"


def edit_url(program: Program) -> str:
    return reverse("programmes:program_edit", kwargs={"slug": program.slug})


# With a charity number, an official receipt also needs the charity's address and signatory.
OFFICIAL = {
    "fund_holder_address": "50, rue de la Gare\nSaint-Casimir (Québec)  G0A 3L0",
    "receipt_signatory": "Marie Gagnon, trésorière",
}


def sale(**overrides: str) -> dict[str, str]:
    return {
        "sale_enabled": "on",
        "sale_price": "20",
        "sale_value": "30,00",
        "sale_subsidy_cap": "1 500",
        "sale_max_packs": "3",
        **overrides,
    }


def test_a_program_saves_its_fund_holder_and_charity_number(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        CREATE_URL,
        program_data(
            fund_holder="  UPA  de Portneuf ",
            charity_number="123456789 rr 0001",
            fund_holder_address="  50, rue  de la Gare \r\n\r\n Saint-Casimir (Québec)  G0A 3L0 ",
            receipt_signatory=" Marie  Gagnon, trésorière ",
        ),
    )

    assert response.status_code == 302
    program = Program.objects.get(name=NAME)
    assert program.fund_holder == "UPA de Portneuf"
    assert program.charity_number == "123456789RR0001"
    assert program.fund_holder_address == "50, rue de la Gare\nSaint-Casimir (Québec) G0A 3L0"
    assert program.receipt_signatory == "Marie Gagnon, trésorière"
    assert program.gives_official_receipts


def test_a_program_without_funding_fields_has_none_and_no_sale(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    assert client.post(CREATE_URL, program_data()).status_code == 302

    program = Program.objects.get(name=NAME)
    assert (program.fund_holder, program.charity_number) == ("", "")
    assert program.sale_enabled is False
    assert program.sale_price is None and program.sale_value is None
    assert program.sale_subsidy_cap == D("0.00")
    assert program.sale_max_packs == 5


def test_a_program_opens_its_solidarity_sale(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    assert client.post(CREATE_URL, program_data(**sale())).status_code == 302

    program = Program.objects.get(name=NAME)
    assert program.sale_enabled is True
    assert program.sale_price == D("20.00")
    assert program.sale_value == D("30.00")
    assert program.sale_subsidy_cap == D("1500.00")
    assert program.sale_max_packs == 3


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"charity_number": "12345678RR0001"},
            "charity_number",
            "9 chiffres, les lettres RR et 4 chiffres",
        ),
        ({"charity_number": "123456789RC0001"}, "charity_number", "les lettres RR"),
        (
            {"fund_holder": "", "charity_number": "123456789RR0001", **OFFICIAL},
            "fund_holder",
            "Indiquez l'organisme fiduciaire",
        ),
        (
            {"fund_holder": "UPA", "charity_number": "123456789RR0001", **OFFICIAL}
            | {"fund_holder_address": " \n "},
            "fund_holder_address",
            "telle qu'enregistrée auprès de l'Agence du revenu du Canada",
        ),
        (
            {"fund_holder": "UPA", "charity_number": "123456789RR0001", **OFFICIAL}
            | {"receipt_signatory": ""},
            "receipt_signatory",
            "autorisée à signer les reçus officiels",
        ),
        ({"fund_holder_address": "a" * 301}, "fund_holder_address", "300 caractères au plus"),
        ({"receipt_signatory": "S" * 161}, "receipt_signatory", "160 caractères au plus"),
        ({"fund_holder": "U" * 161}, "fund_holder", "160 caractères au plus"),
        (sale(sale_price=""), "sale_price", "Indiquez le prix d'un carnet"),
        (sale(sale_value=""), "sale_value", "Indiquez la valeur en coupons"),
        (sale(sale_value="20"), "sale_value", "doit dépasser son prix"),
        (sale(sale_value="15", sale_price="20"), "sale_value", "doit dépasser son prix"),
        (sale(sale_value="30,50"), "sale_value", "ne peut pas être composée"),
        (sale(sale_price="-1"), "sale_price", "plus grand que 0"),
        (sale(sale_price="20,005"), "sale_price", "2 chiffres après la virgule"),
        (sale(sale_price="1001"), "sale_price", "d'au plus 1\u00a0000,00"),
        (sale(sale_value="1005"), "sale_value", "d'au plus 1\u00a0000,00"),
        (sale(sale_subsidy_cap="-5"), "sale_subsidy_cap", "va de 0 à"),
        (sale(sale_subsidy_cap="2000000"), "sale_subsidy_cap", "va de 0 à"),
        (sale(sale_max_packs="0"), "sale_max_packs", "de 1 à 20"),
        (sale(sale_max_packs="21"), "sale_max_packs", "de 1 à 20"),
        (sale(sale_max_packs="trois"), "sale_max_packs", "Saisissez un nombre entier"),
        # Checked while the sale is off, so that turning it on finds sane settings.
        ({"sale_price": "20", "sale_value": "10"}, "sale_value", "doit dépasser son prix"),
    ],
)
def test_bad_funding_fields_are_refused_and_no_program_is_created(
    client: Client, world: Any, overrides: dict[str, str], field: str, message: str
) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(CREATE_URL, program_data(**overrides))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field]), errors
    assert not Program.objects.filter(name=NAME).exists()


def test_the_edit_form_shows_and_saves_the_funding_fields(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    assert client.post(CREATE_URL, program_data(fund_holder="UPA", **sale())).status_code == 302
    program = Program.objects.get(name=NAME)

    page = text(client.get(edit_url(program)))

    assert 'name="fund_holder" value="UPA"' in page
    assert 'name="sale_price" value="20.00"' in page
    assert 'name="sale_max_packs" value="3"' in page
    assert "Vente solidaire au public" in page

    response = client.post(
        edit_url(program),
        program_data(
            fund_holder="UPA de Portneuf",
            charity_number="987654321RR0002",
            **OFFICIAL,
            **sale(sale_enabled="", sale_subsidy_cap="", sale_max_packs=""),
        ),
    )

    assert response.status_code == 302
    program.refresh_from_db()
    assert program.charity_number == "987654321RR0002"
    assert program.sale_enabled is False
    assert program.sale_price == D("20.00")  # kept for the next season
    assert program.sale_subsidy_cap == D("0.00")
    assert program.sale_max_packs == 5


def test_an_invalid_edit_changes_nothing(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    assert client.post(CREATE_URL, program_data(**sale())).status_code == 302
    program = Program.objects.get(name=NAME)

    response = client.post(edit_url(program), program_data(**sale(sale_value="19")))

    assert response.status_code == 400
    program.refresh_from_db()
    assert program.sale_value == D("30.00")
