"""The funds ledger: one append-only row per movement, a program's funds are their sum, and the
ledger as a spreadsheet (CSV) for those who run the program."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from financement.models import Funder, LedgerEntry
from financement.selectors import funds_by_program, program_funds
from financement.services import NewFunder, record_contribution, record_entry
from programmes.models import Program

pytestmark = pytest.mark.django_db

D = Decimal


def csv_url(program: Program) -> str:
    return reverse("financement:ledger_csv", kwargs={"slug": program.slug})


def read_csv(response: Any) -> tuple[str, list[list[str]]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return body, list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


# The rows --------------------------------------------------------------------------------------


def test_a_contribution_writes_one_ledger_row_dated_the_day_it_was_received(world: Any) -> None:
    received_on = timezone.localdate() - datetime.timedelta(days=10)

    contribution = record_contribution(
        program=world.a.program,
        funder=NewFunder(name="Ville de Rimouski", kind=Funder.Kind.MUNICIPAL),
        amount=D("1200"),
        received_on=received_on,
        recorded_by=world.a.coordinator,
    )

    entry = LedgerEntry.objects.get(contribution=contribution)
    assert entry.kind == LedgerEntry.Kind.CONTRIBUTION
    assert entry.amount == D("1200.00")
    assert timezone.localtime(entry.at).date() == received_on
    assert entry.memo == "Ville de Rimouski"
    assert entry.recorded_by == world.a.coordinator


def test_a_program_s_funds_are_the_sum_of_its_ledger(world: Any) -> None:
    a, b = world.a.program, world.b.program
    record_entry(program=a, kind=LedgerEntry.Kind.DONATION, amount=D("25.00"))
    record_entry(program=a, kind=LedgerEntry.Kind.SALE, amount=D("20.00"), source="sale:1")
    record_entry(program=a, kind=LedgerEntry.Kind.REFUND, amount=D("-20.00"), source="sale:1")

    assert program_funds(a) == D("10025.00")
    assert funds_by_program([a.pk, b.pk]) == {a.pk: D("10025.00"), b.pk: D("10000.00")}


def test_the_ledger_is_append_only(world: Any) -> None:
    entry = LedgerEntry.objects.filter(program=world.a.program).get()
    entry.amount = D("1.00")

    with pytest.raises(PermissionError):
        entry.save()

    entry.refresh_from_db()
    assert entry.amount == D("10000.00")


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (LedgerEntry.Kind.REFUND, D("5.00")),  # a refund is negative
        (LedgerEntry.Kind.DONATION, D("-5.00")),  # money in is positive
        (LedgerEntry.Kind.CONTRIBUTION, D("5.00")),  # a contribution row needs its contribution
    ],
)
def test_the_database_refuses_a_row_of_the_wrong_sign_or_without_its_source(
    world: Any, kind: str, amount: Decimal
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        record_entry(program=world.a.program, kind=kind, amount=amount)


# The CSV export --------------------------------------------------------------------------------


def test_the_ledger_exports_as_csv_with_iso_dates_and_plain_decimal_amounts(
    client: Client, world: Any
) -> None:
    program = world.a.program
    record_entry(
        program=program, kind=LedgerEntry.Kind.REFUND, amount=D("-10.25"), memo="Remboursement"
    )
    client.force_login(world.a.coordinator)

    response = client.get(csv_url(program))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="registre-fonds-programme-a-'
    )
    assert "no-store" in response["Cache-Control"]
    body, rows = read_csv(response)
    assert body.startswith("\ufeff")
    assert rows[0][0] == "Date" and rows[0][5] == "Montant (CAD)"
    refund, contribution = rows[1], rows[2]  # newest first
    assert refund[1] == "Remboursement"
    assert refund[5] == "-10.25"  # an amount stays a number, sign included
    assert contribution[1:3] == ["Contribution", "Fondation a"]
    assert contribution[5] == "10000.00"
    day = datetime.datetime.fromisoformat(contribution[0])
    assert day.tzinfo is not None
    assert day.date() == timezone.localdate() - datetime.timedelta(days=1)
    assert len(rows) == 3


def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(
    client: Client, world: Any
) -> None:
    program = world.a.program
    record_contribution(
        program=program,
        funder=NewFunder(name='=HYPERLINK("http://evil.example","clic")'),
        amount=D("5.00"),
        received_on=timezone.localdate(),
        recorded_by=None,
        reference="+1-800",
    )
    record_entry(program=program, kind=LedgerEntry.Kind.DONATION, amount=D("1.00"), memo="@SUM(1)")
    client.force_login(world.a.coordinator)

    _body, rows = read_csv(client.get(csv_url(program)))

    donation, contribution = rows[1], rows[2]
    assert donation[4] == "'@SUM(1)"
    assert contribution[2] == '\'=HYPERLINK("http://evil.example","clic")'
    assert contribution[3] == "'+1-800"
    assert contribution[4] == '\'=HYPERLINK("http://evil.example","clic")'


def test_an_empty_ledger_exports_its_header_only(client: Client, world: Any) -> None:
    from tests import factories as f

    program = f.ProgramFactory(budget=D("0"))
    client.force_login(world.admin)

    _body, rows = read_csv(client.get(csv_url(program)))

    assert len(rows) == 1


def test_the_export_is_for_those_who_run_the_program(client: Client, world: Any) -> None:
    for user in (world.b.coordinator, world.a.intervenant, world.a.manager, world.a.vendor_user):
        client.force_login(user)
        assert client.get(csv_url(world.a.program)).status_code == 404
    client.force_login(world.admin)
    assert client.get(csv_url(world.a.program)).status_code == 200
