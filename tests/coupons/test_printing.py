"""Printing at scale: what is printed, the print_coupons command, the CSV for a print shop and
the background print jobs with their pages."""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons import codes, printing
from coupons.models import Coupon, IssuanceBatch, PrintJob
from coupons.selectors import resolve_scanned_code
from programmes.models import ProgramLogo
from tests.factories import BatchFactory, CouponFactory
from tests.helpers import messages_of, text
from tests.qr_images import decode_qr_codes, render_pdf_page

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
MANUAL_CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{2}\b")


@pytest.fixture(autouse=True)
def _print_root(settings: Any, tmp_path: Path) -> Path:
    settings.PRINT_ROOT = tmp_path / "print"
    settings.TASKS = IMMEDIATE
    return settings.PRINT_ROOT


def make_batch(scope: Any, count: int, **coupon_fields: Any) -> IssuanceBatch:
    batch = BatchFactory(
        program=scope.program, organization=scope.organization, issued_by=scope.intervenant
    )
    for _ in range(count):
        CouponFactory(program=scope.program, batch=batch, **coupon_fields)
    return batch


def add_unprintable(batch: IssuanceBatch) -> dict[str, Any]:
    """One coupon of each kind that must not be printed, and one of a later distribution."""
    today = timezone.localdate()
    now = timezone.now()
    program = batch.program
    return {
        "expired": CouponFactory(
            program=program,
            batch=batch,
            valid_from=today - datetime.timedelta(days=30),
            valid_until=today - datetime.timedelta(days=1),
        ),
        "void": CouponFactory(
            program=program, batch=batch, status=Coupon.Status.VOID, voided_at=now
        ),
        "redeemed": CouponFactory(
            program=program, batch=batch, status=Coupon.Status.REDEEMED, redeemed_at=now
        ),
        "later": CouponFactory(
            program=program,
            batch=batch,
            valid_from=today + datetime.timedelta(days=7),
            valid_until=today + datetime.timedelta(days=40),
        ),
    }


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def batch_pdf(batch: IssuanceBatch) -> bytes:
    out = io.BytesIO()
    printing.write_coupons_pdf(
        printing.batch_print_queryset(batch, timezone.localdate()),
        out,
        title="Lot",
        author="Test",
        logo_png=None,
    )
    return out.getvalue()


def post_scan(client: Client, token: str, code: str) -> Any:
    return client.post(
        "/api/v1/redemptions",
        {"code": code, "client_id": str(uuid.uuid4())},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


# --- What a printed coupon is worth ---------------------------------------------------------------


def test_every_printed_qr_is_accepted_by_the_api_and_its_manual_code_is_the_same_coupon(
    client: Client, world: Any
) -> None:
    batch = make_batch(world.a, 10)
    pdf = batch_pdf(batch)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2

    checked: set[str] = set()
    for index, page in enumerate(reader.pages):
        qr_texts = [qr.text for qr in decode_qr_codes(render_pdf_page(pdf, index, dpi=150))]
        manual_codes = MANUAL_CODE.findall(page.extract_text())
        # One QR per coupon, and one manual code per coupon, in the same (slot) order.
        assert len(qr_texts) == len(manual_codes) == (8 if index == 0 else 2)
        for qr_text, manual_code in zip(qr_texts, manual_codes, strict=True):
            coupon = resolve_scanned_code(manual_code)
            assert resolve_scanned_code(qr_text) == coupon
            assert coupon.serial in page.extract_text()

            response = post_scan(client, world.a.token, qr_text)

            assert response.status_code == 201, response.json()
            assert response.json()["coupon"]["serial"] == coupon.serial
            checked.add(coupon.serial)
    assert checked == set(batch.coupons.values_list("serial", flat=True))
    assert not Coupon.objects.filter(batch=batch, status=Coupon.Status.ISSUED).exists()


def test_a_household_coupon_carries_its_reference(world: Any) -> None:
    batch = make_batch(world.a, 2, household=world.a.household)

    assert world.a.household.reference in pdf_text(batch_pdf(batch))


def test_only_still_valid_coupons_are_printed_in_serial_order(world: Any) -> None:
    batch = make_batch(world.a, 2)
    others = add_unprintable(batch)

    printed = list(
        printing.iter_printable(printing.batch_print_queryset(batch, timezone.localdate()))
    )

    expected = sorted(printed_coupons(batch), key=lambda coupon: coupon.serial)
    assert [p.serial for p in printed] == [c.serial for c in expected]
    assert others["later"].serial in [p.serial for p in printed]
    for kind in ("expired", "void", "redeemed"):
        assert others[kind].serial not in [p.serial for p in printed]
    first = printed[0]
    coupon = Coupon.objects.get(serial=first.serial)
    assert first.manual_code == codes.format_code(coupon.code)
    assert first.program_name == world.a.program.name
    assert first.categories == ("Fruits et légumes",)
    assert resolve_scanned_code(first.qr_text) == coupon


def printed_coupons(batch: IssuanceBatch) -> list[Coupon]:
    today = timezone.localdate()
    return [
        coupon
        for coupon in batch.coupons.all()
        if coupon.status == Coupon.Status.ISSUED and coupon.valid_until >= today
    ]


def test_streaming_reads_each_program_once_whatever_the_number_of_coupons(
    world: Any, django_assert_max_num_queries: Any
) -> None:
    small = make_batch(world.a, 3)
    large = make_batch(world.a, 40)
    today = timezone.localdate()

    # 1 (coupons, one chunk) + 1 (program) + 1 (its categories), for 3 coupons as for 40.
    with django_assert_max_num_queries(3):
        assert len(list(printing.iter_printable(printing.batch_print_queryset(small, today)))) == 3
    with django_assert_max_num_queries(3):
        assert len(list(printing.iter_printable(printing.batch_print_queryset(large, today)))) == 40


def test_streaming_survives_progress_writes_between_chunks(world: Any) -> None:
    batch = make_batch(world.a, 10)
    job = PrintJob.objects.create(
        program=batch.program, batch=batch, requested_by=world.a.intervenant, total=10
    )
    serials = []

    for done, coupon in enumerate(
        printing.iter_printable(
            printing.batch_print_queryset(batch, timezone.localdate()), chunk=3
        ),
        start=1,
    ):
        serials.append(coupon.serial)
        PrintJob.objects.filter(pk=job.pk).update(done=done)  # what the progress writer does

    assert serials == sorted(batch.coupons.values_list("serial", flat=True))
    job.refresh_from_db()
    assert job.done == 10


# --- The command ----------------------------------------------------------------------------------


def test_the_command_prints_a_batch(world: Any, tmp_path: Path) -> None:
    batch = make_batch(world.a, 9)
    others = add_unprintable(batch)
    output = tmp_path / "lot.pdf"
    stdout = io.StringIO()

    call_command("print_coupons", "--batch", str(batch.pk), "-o", str(output), stdout=stdout)

    assert stdout.getvalue().strip() == f"10 coupons, 2 pages → {output}"
    pdf = output.read_bytes()
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 2
    content = pdf_text(pdf)
    assert others["later"].serial in content
    for kind in ("expired", "void", "redeemed"):
        assert others[kind].serial not in content
    assert list(tmp_path.glob(".*.part")) == []


def test_the_command_prints_a_whole_program_with_its_logo(world: Any, tmp_path: Path) -> None:
    from tests.coupons.test_pdf import png_logo

    first = make_batch(world.a, 5)
    second = make_batch(world.a, 6)
    make_batch(world.b, 4)  # another program's
    others = add_unprintable(second)
    ProgramLogo.objects.create(program=world.a.program, png=png_logo())
    output = tmp_path / "programme.pdf"
    stdout = io.StringIO()

    call_command(
        "print_coupons", "--program", world.a.program.slug, "--output", str(output), stdout=stdout
    )

    assert stdout.getvalue().strip() == f"12 coupons, 2 pages → {output}"
    pdf = output.read_bytes()
    content = pdf_text(pdf)
    for coupon in [*first.coupons.all(), *printed_coupons(second)]:
        assert coupon.serial in content
    assert world.b.program.name not in content
    for kind in ("expired", "void", "redeemed"):
        assert others[kind].serial not in content
    assert pdf.count(b"/Subtype /Image") == 1
    assert all(len(page.images) == 1 for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--program", "inconnu"], "No program with the slug 'inconnu'."),
        (["--batch", "999999"], "No batch with the id 999999."),
    ],
)
def test_the_command_refuses_what_does_not_exist(
    world: Any, tmp_path: Path, arguments: list[str], message: str
) -> None:
    output = tmp_path / "x.pdf"
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("print_coupons", *arguments, "-o", str(output))
    assert not output.exists()


def test_the_command_needs_exactly_one_of_program_and_batch(world: Any, tmp_path: Path) -> None:
    batch = make_batch(world.a, 1)
    output = str(tmp_path / "x.pdf")
    with pytest.raises(CommandError, match="not allowed with"):
        call_command(
            "print_coupons",
            "--program",
            world.a.program.slug,
            "--batch",
            str(batch.pk),
            "-o",
            output,
        )
    with pytest.raises(CommandError, match="one of the arguments --program --batch"):
        call_command("print_coupons", "-o", output)
    with pytest.raises(CommandError, match="--output"):
        call_command("print_coupons", "--batch", str(batch.pk))


def test_the_command_says_when_there_is_nothing_to_print(world: Any, tmp_path: Path) -> None:
    batch = make_batch(world.a, 0)
    unprintable = add_unprintable(batch)
    unprintable["later"].delete()
    output = tmp_path / "x.pdf"

    with pytest.raises(CommandError, match="Nothing to print"):
        call_command("print_coupons", "--batch", str(batch.pk), "-o", str(output))
    assert not output.exists()


def test_the_command_says_when_it_cannot_write(world: Any, tmp_path: Path) -> None:
    batch = make_batch(world.a, 1)
    output = tmp_path / "no-such-folder" / "x.pdf"

    with pytest.raises(CommandError, match="Cannot write"):
        call_command("print_coupons", "--batch", str(batch.pk), "-o", str(output))


# --- The CSV for a print shop ---------------------------------------------------------------------


def csv_url(batch: IssuanceBatch) -> str:
    return reverse("coupons:batch_csv", kwargs={"pk": batch.pk})


def test_the_csv_lists_the_still_valid_coupons_for_a_print_shop(client: Client, world: Any) -> None:
    batch = make_batch(world.a, 3)
    others = add_unprintable(batch)
    client.force_login(world.a.intervenant)

    response = client.get(csv_url(batch))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="coupons-lot-{batch.pk}.csv"'
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == [
        "Numéro de série",
        "Valeur",
        "Devise",
        "Valide à partir du",
        "Valide jusqu'au",
        "Code manuel",
        "Texte du code QR",
        "Programme",
    ]
    expected = sorted(printed_coupons(batch), key=lambda coupon: coupon.serial)
    assert [row[0] for row in rows[1:]] == [coupon.serial for coupon in expected]
    assert others["later"].serial in body
    for kind in ("expired", "void", "redeemed"):
        assert others[kind].serial not in body
    for row, coupon in zip(rows[1:], expected, strict=True):
        assert row[1:6] == [
            "5.00",
            "CAD",
            coupon.valid_from.isoformat(),
            coupon.valid_until.isoformat(),
            codes.format_code(coupon.code),
        ]
        assert resolve_scanned_code(row[6]) == coupon
        assert row[7] == world.a.program.name


def test_the_csv_never_lets_a_spreadsheet_run_a_cell(world: Any) -> None:
    world.a.program.name = '=HYPERLINK("http://example.org","Programme")'
    world.a.program.save()
    batch = make_batch(world.a, 1)
    out = io.StringIO()

    assert printing.batch_csv(batch, out, timezone.localdate()) == 1

    row = list(csv.reader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))[1]
    assert row[7] == "'" + world.a.program.name


def test_the_csv_of_a_batch_with_nothing_valid_says_so(client: Client, world: Any) -> None:
    batch = make_batch(world.a, 0)
    add_unprintable(batch)["later"].delete()
    client.force_login(world.a.intervenant)

    response = client.get(csv_url(batch), follow=True)

    assert response.redirect_chain[-1][0] == reverse("coupons:batch_detail", args=[batch.pk])
    assert "rien à exporter" in " ".join(messages_of(response))


def test_the_csv_is_not_found_outside_the_batch_scope(client: Client, world: Any) -> None:
    batch = make_batch(world.a, 1)
    for user in (world.b.intervenant, world.b.coordinator, world.a.vendor_user, world.nobody):
        client.force_login(user)
        assert client.get(csv_url(batch)).status_code == 404
    client.force_login(world.a.coordinator)
    assert client.get(csv_url(batch)).status_code == 200


# --- Print jobs ----------------------------------------------------------------------------------


def print_url(batch: IssuanceBatch) -> str:
    return reverse("coupons:batch_print", kwargs={"pk": batch.pk})


def job_url(job: PrintJob, name: str = "print_job") -> str:
    return reverse(f"coupons:{name}", kwargs={"pk": job.pk})


def test_a_large_batch_is_printed_in_the_background_with_its_progress(
    client: Client, world: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setattr(printing, "SYNC_PRINT_LIMIT", 5)
    monkeypatch.setattr(printing, "PROGRESS_INTERVAL", 0)
    batch = make_batch(world.a, 17)
    add_unprintable(batch)
    seen: list[tuple[str, int, int]] = []
    original = printing._ProgressWriter.__call__

    def spy(self: Any, done: int) -> None:
        original(self, done)
        job = PrintJob.objects.get(pk=self.job_id)
        seen.append((job.status, job.done, job.total))

    monkeypatch.setattr(printing._ProgressWriter, "__call__", spy)
    client.force_login(world.a.intervenant)

    response = client.post(print_url(batch))

    job = PrintJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    # The later distribution's coupon is printed: 18 coupons, on 3 pages.
    assert seen == [("running", 8, 18), ("running", 16, 18), ("running", 18, 18)]
    assert job.status == PrintJob.Status.DONE
    assert (job.done, job.total, job.percent) == (18, 18, 100)
    assert job.batch == batch and job.requested_by == world.a.intervenant
    assert job.started_at is not None and job.finished_at is not None
    assert printing.print_job_path(job).is_file()
    assert list(Path(settings.PRINT_ROOT).iterdir()) == [printing.print_job_path(job)]

    page = text(client.get(job_url(job)))
    assert "18 coupons imprimés." in page
    assert job_url(job, "print_job_download") in page
    assert 'http-equiv="refresh"' not in page

    for user in (world.a.intervenant, world.a.coordinator, world.admin):
        client.force_login(user)
        download = client.get(job_url(job, "print_job_download"))
        assert download.status_code == 200
        assert download["Content-Type"] == "application/pdf"
        assert download["Cache-Control"] == "no-store"
        assert download["Content-Disposition"].startswith("attachment;")
        pdf = b"".join(download.streaming_content)
        assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 3


def test_a_queued_job_shows_its_progress_and_refreshes_itself(
    client: Client, world: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.TASKS = DUMMY  # the task is queued, never run
    monkeypatch.setattr(printing, "SYNC_PRINT_LIMIT", 2)
    batch = make_batch(world.a, 5)
    client.force_login(world.a.intervenant)

    client.post(print_url(batch))
    client.post(print_url(batch))  # a double click

    job = PrintJob.objects.get()  # one job, not two
    assert job.status == PrintJob.Status.QUEUED and job.total == 5
    PrintJob.objects.filter(pk=job.pk).update(status=PrintJob.Status.RUNNING, done=2)
    response = client.get(job_url(job))
    page = text(response)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert '<progress id="progression" max="100" value="40">' in page
    assert "2 / 5 coupons" in page
    assert "<script" not in page.split("</head>")[0]
    assert job_url(job, "print_job_download") not in page
    # Not done yet: nothing to download.
    download = client.get(job_url(job, "print_job_download"))
    assert download.status_code == 302 and download["Location"] == job_url(job)

    # The worker runs it later, with the coupons valid then.
    PrintJob.objects.filter(pk=job.pk).update(status=PrintJob.Status.QUEUED, done=0)
    printing.run_print_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done) == (PrintJob.Status.DONE, 5)
    # Run twice (a task delivered again): nothing happens the second time.
    printing.run_print_job(job.pk)
    job.refresh_from_db()
    assert job.status == PrintJob.Status.DONE


def test_the_background_task_prints_a_queued_job(world: Any) -> None:
    from coupons.tasks import print_job_task

    batch = make_batch(world.a, 3)
    job = PrintJob.objects.create(
        program=batch.program, batch=batch, requested_by=world.a.intervenant, total=3
    )

    print_job_task.enqueue(job.pk)

    job.refresh_from_db()
    assert job.status == PrintJob.Status.DONE
    assert len(pypdf.PdfReader(printing.print_job_path(job)).pages) == 1


def test_a_small_batch_is_printed_within_the_request(
    client: Client, world: Any, settings: Any
) -> None:
    settings.TASKS = DUMMY  # would never run: the small batch does not need it
    batch = make_batch(world.a, 3)
    client.force_login(world.a.coordinator)

    response = client.post(print_url(batch), follow=True)

    job = PrintJob.objects.get()
    assert job.status == PrintJob.Status.DONE and job.total == 3
    assert response.redirect_chain == [(job_url(job), 302)]
    assert "Télécharger le PDF" in text(response)


def test_printing_a_batch_is_post_only(client: Client, world: Any) -> None:
    batch = make_batch(world.a, 1)
    client.force_login(world.a.intervenant)

    assert client.get(print_url(batch)).status_code == 405
    assert not PrintJob.objects.exists()


def test_a_batch_with_nothing_to_print_says_so_and_starts_nothing(
    client: Client, world: Any
) -> None:
    batch = make_batch(world.a, 0)
    add_unprintable(batch)["later"].delete()

    with pytest.raises(printing.PrintError) as excinfo:
        printing.start_print_job(
            program=batch.program, batch=batch, requested_by=world.a.intervenant
        )
    assert excinfo.value.code == "nothing_to_print"

    client.force_login(world.a.intervenant)
    response = client.post(print_url(batch), follow=True)
    assert response.redirect_chain[-1][0] == reverse("coupons:batch_detail", args=[batch.pk])
    assert "Il n'y a rien à imprimer" in " ".join(messages_of(response))
    assert not PrintJob.objects.exists()


def test_a_batch_of_another_program_is_refused(world: Any) -> None:
    batch = make_batch(world.a, 1)
    with pytest.raises(printing.PrintError) as excinfo:
        printing.start_print_job(
            program=world.b.program, batch=batch, requested_by=world.b.coordinator
        )
    assert excinfo.value.code == "wrong_program"


def test_a_job_whose_coupons_were_spent_meanwhile_says_so(
    client: Client, world: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TASKS = DUMMY
    monkeypatch.setattr(printing, "SYNC_PRINT_LIMIT", 0)
    batch = make_batch(world.a, 2)
    job = printing.start_print_job(
        program=batch.program, batch=batch, requested_by=world.a.intervenant
    )
    batch.coupons.update(status=Coupon.Status.REDEEMED, redeemed_at=timezone.now())

    printing.run_print_job(job.pk)

    job.refresh_from_db()
    assert job.status == PrintJob.Status.FAILED
    assert job.error == printing.NOTHING_TO_PRINT
    client.force_login(world.a.intervenant)
    page = text(client.get(job_url(job)))
    assert "Il n'y avait plus rien à imprimer" in page
    assert "Détail technique" not in page


def test_a_failing_render_marks_the_job_failed_and_leaves_no_file(
    client: Client, world: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> int:
        out = args[1]
        out.write(b"%PDF-1.3 half a file")
        raise RuntimeError("l'imprimante a pris feu")

    monkeypatch.setattr(printing, "stream_coupons_pdf", broken)
    batch = make_batch(world.a, 2)
    client.force_login(world.a.intervenant)

    response = client.post(print_url(batch), follow=True)

    job = PrintJob.objects.get()
    assert job.status == PrintJob.Status.FAILED
    assert job.error == "RuntimeError: l'imprimante a pris feu"
    assert job.finished_at is not None and job.file_name == ""
    assert list(Path(settings.PRINT_ROOT).iterdir()) == []
    page = text(response)
    assert response.status_code == 200
    assert "L'impression a échoué." in page
    assert "RuntimeError: l'imprimante a pris feu" in page
    assert "Relancer l'impression" in page
    assert client.get(job_url(job, "print_job_download")).status_code == 302

    # Retrying, once the printer is fixed, makes a new job that succeeds.
    monkeypatch.undo()
    client.post(print_url(batch))
    assert PrintJob.objects.filter(status=PrintJob.Status.DONE).count() == 1


def test_deleting_the_file_keeps_the_job_as_a_record(client: Client, world: Any) -> None:
    batch = make_batch(world.a, 2)
    job = printing.start_print_job(
        program=batch.program, batch=batch, requested_by=world.a.intervenant
    )
    path = printing.print_job_path(job)
    client.force_login(world.a.coordinator)

    confirm = client.get(job_url(job, "print_job_delete"))
    assert confirm.status_code == 200 and path.is_file()
    assert "Oui, supprimer le fichier" in text(confirm)

    response = client.post(job_url(job, "print_job_delete"), follow=True)

    assert not path.exists()
    job.refresh_from_db()
    assert job.status == PrintJob.Status.DONE and job.file_name == ""
    assert "Le fichier PDF a été supprimé." in messages_of(response)
    assert "Le fichier de cette impression a été supprimé." in text(response)
    download = client.get(job_url(job, "print_job_download"), follow=True)
    assert "Ce fichier n'est plus disponible" in " ".join(messages_of(download))


def test_print_jobs_are_not_found_outside_their_batch_scope(client: Client, world: Any) -> None:
    batch = make_batch(world.a, 2)
    job = printing.start_print_job(
        program=batch.program, batch=batch, requested_by=world.a.intervenant
    )
    names = ("print_job", "print_job_download", "print_job_delete")
    for user in (world.b.intervenant, world.b.coordinator, world.a.vendor_user, world.nobody):
        client.force_login(user)
        for name in names:
            assert client.get(job_url(job, name)).status_code == 404
        assert client.post(job_url(job, "print_job_delete")).status_code == 404
        assert client.post(print_url(batch)).status_code == 404
    assert printing.print_job_path(job).is_file()
    assert PrintJob.objects.count() == 1

    client.logout()
    response = client.get(job_url(job))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_program_wide_jobs_are_seen_by_the_programs_coordinators_only(world: Any) -> None:
    make_batch(world.a, 2)
    job = printing.start_print_job(program=world.a.program, requested_by=world.a.coordinator)

    assert job.status == PrintJob.Status.DONE and job.total == 2
    assert list(printing.print_jobs_for(world.a.coordinator)) == [job]
    assert list(printing.print_jobs_for(world.admin)) == [job]
    assert list(printing.print_jobs_for(world.a.intervenant)) == []
    assert list(printing.print_jobs_for(world.b.coordinator)) == []


def test_old_print_files_are_purged(world: Any, settings: Any) -> None:
    batch = make_batch(world.a, 1)
    old = printing.start_print_job(
        program=batch.program, batch=batch, requested_by=world.a.intervenant
    )
    recent = printing.start_print_job(
        program=batch.program, batch=batch, requested_by=world.a.intervenant
    )
    PrintJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=8)
    )
    leftover = Path(settings.PRINT_ROOT) / ".job-99.pdf.abc.part"
    leftover.write_bytes(b"%PDF")
    ten_days_ago = (timezone.now() - datetime.timedelta(days=10)).timestamp()
    os.utime(leftover, (ten_days_ago, ten_days_ago))

    assert printing.purge_old_print_files(older_than_days=7) == 2

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.file_name == ""
    assert not (printing.print_root() / f"job-{old.pk}.pdf").exists()
    assert printing.print_job_path(recent).is_file()
    assert not leftover.exists()
    assert printing.purge_old_print_files(older_than_days=7) == 0


def test_the_daily_purge_fails_a_stalled_job_and_deletes_old_files(
    world: Any, settings: Any, tmp_path: Any
) -> None:
    from coupons.printing import print_job_path, run_print_job
    from coupons.services import issue_household_allotment

    settings.PRINT_ROOT = tmp_path / "print"
    issue_household_allotment(
        household=world.a.household, issued_by=world.a.intervenant, idempotency_key=uuid.uuid4()
    )
    batch = world.a.household.batches.get()
    old = PrintJob.objects.create(
        program=world.a.program, batch=batch, requested_by=world.a.intervenant, total=4
    )
    run_print_job(old.pk)
    old.refresh_from_db()
    path = print_job_path(old)
    assert path.is_file()
    PrintJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=8)
    )
    stalled = PrintJob.objects.create(
        program=world.a.program,
        batch=batch,
        requested_by=world.a.intervenant,
        status=PrintJob.Status.RUNNING,
        started_at=timezone.now() - datetime.timedelta(hours=2),
        total=4,
    )
    out = io.StringIO()

    call_command("purge_print_files", stdout=out)

    assert not path.exists()
    stalled.refresh_from_db()
    assert stalled.status == PrintJob.Status.FAILED and stalled.error
    assert "1 print file(s) deleted, 1 stalled job(s) marked failed." in out.getvalue()
