"""Recording a contribution: the page, its idempotency, its errors (nothing written), its
document, and the budget guard of issuance that counts it."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons.services import IssuanceError, issue_household_allotment
from financement.models import Contribution, ContributionDocument, Funder, LedgerEntry
from financement.selectors import program_funds
from financement.services import (
    MAX_DOCUMENT_BYTES,
    Document,
    FundingError,
    NewFunder,
    record_contribution,
)
from programmes.models import Program
from tests import factories as f
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

D = Decimal
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def create_url(program: Program) -> str:
    return reverse("financement:contribution_create", kwargs={"slug": program.slug})


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()),
        "funder": "",
        "new_funder_name": "Ministère de l'Agriculture",
        "new_funder_kind": "government",
        "amount": "2 500,50",
        "received_on": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(),
        "reference": "MAPAQ-2026-014",
        "restrictions": "Fruits et légumes seulement; rapport le 31 octobre.",
    }
    data.update(overrides)
    return data


def counts() -> tuple[int, int, int, int]:
    return (
        Funder.objects.count(),
        Contribution.objects.count(),
        LedgerEntry.objects.count(),
        ContributionDocument.objects.count(),
    )


# Recording -------------------------------------------------------------------------------------


def test_a_coordinator_records_a_contribution_from_a_new_funder(client: Client, world: Any) -> None:
    program = world.a.program
    client.force_login(world.a.coordinator)
    assert client.get(create_url(program)).status_code == 200

    response = client.post(create_url(program), form_data(), follow=True)

    assert response.redirect_chain == [
        (reverse("financement:program_funds", kwargs={"slug": program.slug}), 302)
    ]
    funder = Funder.objects.get(name="Ministère de l'Agriculture")
    assert funder.kind == Funder.Kind.GOVERNMENT
    contribution = Contribution.objects.get(funder=funder)
    assert contribution.program == program
    assert contribution.amount == D("2500.50")
    assert contribution.received_on == timezone.localdate() - datetime.timedelta(days=2)
    assert contribution.reference == "MAPAQ-2026-014"
    assert contribution.restrictions.startswith("Fruits et légumes")
    assert contribution.recorded_by == world.a.coordinator
    assert contribution.entry.amount == D("2500.50")
    assert program_funds(program) == D("12500.50")
    assert messages_of(response) == [
        "Contribution de Ministère de l'Agriculture enregistrée : 2\u00a0500,50\u00a0$."
    ]


def test_a_coordinator_records_a_contribution_from_a_funder_of_the_list(
    client: Client, world: Any
) -> None:
    funder = Funder.objects.get(name="Fondation a")
    client.force_login(world.a.coordinator)

    response = client.post(
        create_url(world.a.program),
        form_data(funder=str(funder.pk), new_funder_name="", amount="100"),
    )

    assert response.status_code == 302
    assert world.a.program.contributions.filter(funder=funder, amount=D("100.00")).exists()


def test_an_admin_records_a_contribution_for_any_program(client: Client, world: Any) -> None:
    client.force_login(world.admin)

    assert client.post(create_url(world.b.program), form_data()).status_code == 302
    assert program_funds(world.b.program) == D("12500.50")


def test_the_same_form_posted_twice_records_one_contribution(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    data = form_data()

    first = client.post(create_url(world.a.program), data)
    before = counts()
    second = client.post(create_url(world.a.program), data)

    assert first.status_code == second.status_code == 302
    assert counts() == before
    assert Contribution.objects.filter(idempotency_key=data["idempotency_key"]).count() == 1
    assert program_funds(world.a.program) == D("12500.50")


def test_a_key_used_for_another_program_is_refused(world: Any) -> None:
    key = uuid.uuid4()
    funder = Funder.objects.get(name="Fondation a")
    arguments: dict[str, Any] = {
        "funder": funder,
        "amount": D("10.00"),
        "received_on": timezone.localdate(),
        "recorded_by": None,
        "idempotency_key": key,
    }
    record_contribution(program=world.a.program, **arguments)

    with pytest.raises(FundingError) as excinfo:
        record_contribution(program=world.b.program, **arguments)

    assert excinfo.value.code == "idempotency_key_reused"
    assert program_funds(world.b.program) == D("10000.00")


# Errors: a clear message, 400, nothing written -------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "-5"}, "amount", "plus grand que 0"),
        ({"amount": "0"}, "amount", "plus grand que 0"),
        ({"amount": "12,345"}, "amount", "2 chiffres après la virgule"),
        ({"amount": "100000000"}, "amount", "d'au plus 99\u00a0999\u00a0999,99"),
        ({"amount": "beaucoup"}, "amount", "Saisissez un nombre"),
        ({"amount": ""}, "amount", "obligatoire"),
        ({"received_on": "2999-01-01"}, "received_on", "ne peut pas être dans l'avenir"),
        ({"received_on": "1999-12-31"}, "received_on", "à partir du 2000-01-01"),
        ({"received_on": "0001-01-01"}, "received_on", "à partir du 2000-01-01"),
        ({"received_on": "31/02/2026"}, "received_on", "Saisissez une date valide"),
        ({"new_funder_name": ""}, "funder", "nommez-en un nouveau"),
        ({"new_funder_name": "fondation a"}, "new_funder_name", "existe déjà"),
        ({"new_funder_name": "X" * 161}, "new_funder_name", "160 caractères au plus"),
        ({"funder": "999999"}, "funder", "choix valide"),
        ({"reference": "R" * 81}, "reference", "80 caractères"),
        ({"idempotency_key": "pas-une-clé"}, "idempotency_key", "rechargez la page"),
    ],
)
def test_bad_input_is_refused_with_a_french_message_and_nothing_is_written(
    client: Client, world: Any, overrides: dict[str, str], field: str, message: str
) -> None:
    client.force_login(world.a.coordinator)
    before = counts()

    response = client.post(create_url(world.a.program), form_data(**overrides))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field]), errors
    assert "rien n'a été enregistré" in text(response)
    assert counts() == before


def test_choosing_a_funder_and_naming_a_new_one_is_refused(client: Client, world: Any) -> None:
    funder = Funder.objects.get(name="Fondation a")
    client.force_login(world.a.coordinator)
    before = counts()

    response = client.post(create_url(world.a.program), form_data(funder=str(funder.pk)))

    assert response.status_code == 400
    assert "pas les deux" in text(response)
    assert counts() == before


def test_a_document_too_large_is_refused(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    before = counts()
    big = SimpleUploadedFile("entente.pdf", PDF + b"0" * MAX_DOCUMENT_BYTES, "application/pdf")

    response = client.post(create_url(world.a.program), form_data(document=big))

    assert response.status_code == 400
    assert "Le document pèse au plus 5 Mo." in response.context["form"].errors["document"]
    assert counts() == before


def test_a_document_that_is_not_a_pdf_png_or_jpeg_is_refused_whatever_its_name(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    before = counts()
    fake = SimpleUploadedFile("entente.pdf", b"<html><script>alert(1)</script>", "application/pdf")

    response = client.post(create_url(world.a.program), form_data(document=fake))

    assert response.status_code == 400
    assert "Le document doit être un PDF, un PNG ou un JPEG." in text(response)
    assert counts() == before


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (
            Document("a.pdf", "application/pdf", PDF + b"0" * MAX_DOCUMENT_BYTES),
            "document_too_large",
        ),
        (Document("a.exe", "application/octet-stream", b"MZ"), "document_type"),
    ],
)
def test_the_service_checks_the_document_too(world: Any, document: Document, code: str) -> None:
    with pytest.raises(FundingError) as excinfo:
        record_contribution(
            program=world.a.program,
            funder=NewFunder(name="Nouveau"),
            amount=D("10.00"),
            received_on=timezone.localdate(),
            recorded_by=None,
            document=document,
        )

    assert excinfo.value.code == code
    assert not Funder.objects.filter(name="Nouveau").exists()


@pytest.mark.parametrize(
    ("amount", "received_on", "code"),
    [
        (D("-1.00"), None, "invalid_amount"),
        (D("1.005"), None, "invalid_amount"),
        (D("NaN"), None, "invalid_amount"),
        (D("100000000.00"), None, "invalid_amount"),
        (D("1.00"), datetime.date(1999, 12, 31), "invalid_date"),
        (D("1.00"), timezone.localdate() + datetime.timedelta(days=1), "received_in_future"),
    ],
)
def test_the_service_names_what_is_wrong(
    world: Any, amount: Decimal, received_on: datetime.date | None, code: str
) -> None:
    with pytest.raises(FundingError) as excinfo:
        record_contribution(
            program=world.a.program,
            funder=NewFunder(name="Nouveau"),
            amount=amount,
            received_on=received_on or timezone.localdate(),
            recorded_by=None,
        )

    assert excinfo.value.code == code
    assert not Funder.objects.filter(name="Nouveau").exists()
    assert program_funds(world.a.program) == D("10000.00")


# Scope -----------------------------------------------------------------------------------------


def test_a_coordinator_of_another_program_gets_404_and_writes_nothing(
    client: Client, world: Any
) -> None:
    client.force_login(world.b.coordinator)
    before = counts()

    assert client.get(create_url(world.a.program)).status_code == 404
    assert client.post(create_url(world.a.program), form_data()).status_code == 404
    assert counts() == before


@pytest.mark.parametrize("role", ["intervenant", "market_manager", "vendor"])
def test_the_program_s_other_people_may_not_record_a_contribution(
    client: Client, world: Any, role: str
) -> None:
    client.force_login(world.a.users()[role])
    before = counts()

    assert client.post(create_url(world.a.program), form_data()).status_code == 404
    assert counts() == before


# The document ----------------------------------------------------------------------------------


def record_with_document(client: Client, world: Any, upload: SimpleUploadedFile) -> Contribution:
    client.force_login(world.a.coordinator)
    response = client.post(create_url(world.a.program), form_data(document=upload))
    assert response.status_code == 302
    return Contribution.objects.get(funder__name="Ministère de l'Agriculture")


def test_the_document_is_kept_with_the_type_read_from_its_bytes(client: Client, world: Any) -> None:
    upload = SimpleUploadedFile("../../Entente MAPAQ\x00 2026.PDF", PDF, "text/html")

    contribution = record_with_document(client, world, upload)

    document = contribution.document
    assert document.content_type == "application/pdf"
    assert document.filename == "Entente MAPAQ 2026.PDF"
    assert bytes(document.data) == PDF
    assert document.size == len(PDF)


def test_the_document_downloads_as_an_attachment_never_cached_never_sniffed(
    client: Client, world: Any
) -> None:
    contribution = record_with_document(
        client, world, SimpleUploadedFile("scan entente.png", PNG, "image/png")
    )
    url = reverse("financement:contribution_document", kwargs={"pk": contribution.pk})

    response = client.get(url)

    assert response.status_code == 200
    assert response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="scan entente.png"'
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    funds = client.get(reverse("financement:program_funds", kwargs={"slug": world.a.program.slug}))
    assert url in text(funds)


def test_the_document_is_404_outside_the_program_s_scope(client: Client, world: Any) -> None:
    contribution = record_with_document(
        client, world, SimpleUploadedFile("entente.pdf", PDF, "application/pdf")
    )
    url = reverse("financement:contribution_document", kwargs={"pk": contribution.pk})

    for user in (world.b.coordinator, world.a.intervenant, world.a.vendor_user, world.nobody):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
    client.force_login(world.admin)
    assert client.get(url).status_code == 200


def test_a_contribution_without_a_document_has_none_to_download(client: Client, world: Any) -> None:
    contribution = Contribution.objects.get(program=world.a.program)
    client.force_login(world.a.coordinator)

    url = reverse("financement:contribution_document", kwargs={"pk": contribution.pk})
    assert client.get(url).status_code == 404


# The budget guard counts the contributions ------------------------------------------------------


def test_issuance_is_refused_when_funds_are_short_and_allowed_after_a_contribution(
    client: Client, world: Any
) -> None:
    a = world.a
    f.set_funds(a.program, D("0.00"))
    with pytest.raises(IssuanceError) as excinfo:
        issue_household_allotment(
            household=a.household, issued_by=a.intervenant, idempotency_key=uuid.uuid4()
        )
    assert excinfo.value.code == "insufficient_funds"
    assert not a.household.coupons.exists()

    client.force_login(a.coordinator)
    response = client.post(create_url(a.program), form_data(amount="500"))
    assert response.status_code == 302

    batch = issue_household_allotment(
        household=a.household, issued_by=a.intervenant, idempotency_key=uuid.uuid4()
    )
    assert batch.total_value > 0
    assert a.household.coupons.count() == batch.coupon_count


def test_a_post_that_finds_its_new_funder_made_by_its_twin_answers_with_the_twin_s_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The interleaving that the concurrent test below meets by chance: the twin post commits
    its funder and contribution after this post's first look but before its name check."""
    from financement import services

    program = f.ProgramFactory(budget=D("0"))
    key = uuid.uuid4()
    checked = services._checked_funder
    twin: list[Contribution] = []

    def twin_commits_first(funder: NewFunder) -> NewFunder:
        if not twin:
            monkeypatch.setattr(services, "_checked_funder", checked)
            twin.append(
                record_contribution(
                    program=program,
                    funder=NewFunder(name=funder.name),
                    amount=D("250.00"),
                    received_on=timezone.localdate(),
                    recorded_by=None,
                    idempotency_key=key,
                )
            )
        return checked(funder)

    monkeypatch.setattr(services, "_checked_funder", twin_commits_first)
    contribution = record_contribution(
        program=program,
        funder=NewFunder(name="Fondation jumelle"),
        amount=D("250.00"),
        received_on=timezone.localdate(),
        recorded_by=None,
        idempotency_key=key,
    )

    assert contribution == twin[0]
    assert Contribution.objects.filter(idempotency_key=key).count() == 1
    assert program_funds(program) == D("250.00")


def test_a_new_funder_whose_name_is_taken_is_still_refused_on_a_fresh_form() -> None:
    program = f.ProgramFactory(budget=D("0"))
    f.FunderFactory(name="Fondation existante")

    with pytest.raises(FundingError) as caught:
        record_contribution(
            program=program,
            funder=NewFunder(name="fondation EXISTANTE"),
            amount=D("250.00"),
            received_on=timezone.localdate(),
            recorded_by=None,
            idempotency_key=uuid.uuid4(),
        )

    assert caught.value.code == "duplicate_funder"
    assert not Contribution.objects.filter(program=program).exists()


# The same form posted at once (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_form_posted_at_once_records_one_contribution_and_one_funder() -> None:
    from django.db import connection

    from tests.marches.test_concurrency import run_at_once

    assert connection.vendor == "postgresql"
    program = f.ProgramFactory(budget=D("0"))
    key = uuid.uuid4()

    def post(_index: int) -> str:
        try:
            contribution = record_contribution(
                program=program,
                funder=NewFunder(name="Fondation simultanée"),
                amount=D("250.00"),
                received_on=timezone.localdate(),
                recorded_by=None,
                idempotency_key=key,
            )
        except FundingError as error:
            return error.code
        return f"contribution {contribution.pk}"

    results = run_at_once(8, post)  # type: ignore[arg-type]

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(set(results)) == 1 and results[0].startswith("contribution"), results
    assert Contribution.objects.filter(idempotency_key=key).count() == 1
    assert Funder.objects.filter(name="Fondation simultanée").count() == 1
    assert program_funds(program) == D("250.00")
