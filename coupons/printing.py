"""Printing coupons at scale: the Django side of coupons/pdf.py.

- What gets printed: only still-valid coupons (issued, not expired), ordered by serial.
- How: coupons are streamed from the database in chunks and the PDF is written page by page,
  so a batch of 10,000 coupons never sits in memory (bench/print_coupons.py).
- Where: a large batch is printed by a background task (`coupons.tasks.print_job_task`, run by
  `manage.py db_worker`) into a file under PRINT_ROOT, with its progress on a `PrintJob`; a
  small one is printed at once, within the request. The file holds bearer secrets (the manual
  codes): it is served only through a scoped view, deleted on request and purged after
  PRINT_FILE_DAYS days.
- The CSV of a batch is for an outside print shop that lays the coupons out itself.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons import codes
from coupons.models import Coupon, IssuanceBatch, PrintJob
from coupons.pdf import PrintableCoupon, stream_coupons_pdf
from coupons.selectors import batches_for, qr_text_for, spendable_or_future
from programmes.models import Program, ProgramLogo
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from beneficiaires.models import Household
    from comptes.models import User

logger = logging.getLogger(__name__)

# At most this many coupons are printed within the request (well under a second); more go to
# the background task, whose page shows the progress.
SYNC_PRINT_LIMIT = 200
# The job's progress is written at most this often (seconds), not on every page.
PROGRESS_INTERVAL = 0.5
# PrintJob.error for a job that found nothing left to print; anything else is a failure.
NOTHING_TO_PRINT = "nothing_to_print"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class TextOut(Protocol):
    """Where a CSV is written: a text file, an HttpResponse."""

    def write(self, text: str, /) -> object: ...


class PrintError(Exception):
    """Why a print could not start; `code` is machine-readable, the message is translated."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- What is printed ----------------------------------------------------------------------------


def program_print_queryset(program: Program, today: datetime.date) -> QuerySet[Coupon]:
    """Every still-valid coupon of `program` (a later distribution's included), by serial."""
    return spendable_or_future(Coupon.objects.filter(program=program), today).order_by("serial")


def batch_print_queryset(batch: IssuanceBatch, today: datetime.date) -> QuerySet[Coupon]:
    """Every still-valid coupon of `batch`, by serial."""
    return spendable_or_future(Coupon.objects.filter(batch=batch), today).order_by("serial")


def household_print_queryset(household: Household, today: datetime.date) -> QuerySet[Coupon]:
    """A household's still-valid coupons in booklet order: by distribution day, then value."""
    return spendable_or_future(Coupon.objects.filter(household=household), today).order_by(
        "valid_from", "-value", "serial"
    )


def iter_printable(coupons: QuerySet[Coupon], *, chunk: int = 500) -> Iterator[PrintableCoupon]:
    """`coupons` ready for the PDF, read from the database `chunk` rows at a time.

    Each program's name, currency and categories are read once, whatever the number of its
    coupons; the household's reference comes with the coupon's row, its (encrypted) personal
    data never.
    """
    programs: dict[int, tuple[str, str, tuple[str, ...]]] = {}
    rows = (
        coupons.select_related(None)
        .prefetch_related(None)
        .only("serial", "code", "value", "valid_from", "valid_until", "program_id")
        .annotate(holder_reference=F("household__reference"))
    )
    for coupon in rows.iterator(chunk_size=chunk):
        program = programs.get(coupon.program_id)
        if program is None:
            program = programs[coupon.program_id] = _program_texts(coupon.program_id)
        name, currency, categories = program
        yield PrintableCoupon(
            serial=coupon.serial,
            qr_text=qr_text_for(coupon),
            manual_code=codes.format_code(coupon.code),
            value=coupon.value,
            currency=currency,
            valid_from=coupon.valid_from,
            valid_until=coupon.valid_until,
            program_name=name,
            categories=categories,
            holder=coupon.holder_reference,  # type: ignore[attr-defined]  # annotated above
        )


def _program_texts(program_id: int) -> tuple[str, str, tuple[str, ...]]:
    program = Program.objects.only("name", "currency").get(pk=program_id)
    categories = tuple(
        program.categories.order_by("name_fr", "pk").values_list("name_fr", flat=True)
    )
    return program.name, program.currency, categories


def program_logo_png(program: Program) -> bytes | None:
    """The program's logo as PNG bytes, or None (the logo has its own table: one query)."""
    png = ProgramLogo.objects.filter(program=program).values_list("png", flat=True).first()
    return bytes(png) if png else None


def write_coupons_pdf(
    coupons_qs: QuerySet[Coupon],
    out: BinaryIO,
    *,
    title: str,
    author: str,
    logo_png: bytes | None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the PDF of `coupons_qs` to `out`, streamed; returns how many coupons it holds.

    Raises ValueError, before writing anything, when `coupons_qs` is empty.
    """
    return stream_coupons_pdf(
        iter_printable(coupons_qs),
        out,
        title=title,
        author=author,
        logo_png=logo_png,
        total=coupons_qs.count(),
        progress=progress,
    )


def batch_title(batch: IssuanceBatch) -> str:
    return _("Coupons du lot {batch} · {program}").format(
        batch=batch.pk, program=batch.program.name
    )


def program_title(program: Program) -> str:
    return _("Coupons du programme {program}").format(program=program.name)


# --- CSV for a print shop -----------------------------------------------------------------------


def batch_csv(batch: IssuanceBatch, out_text_file: TextOut, today: datetime.date) -> int:
    """Write the batch's still-valid coupons as CSV (UTF-8 with a byte order mark, so that a
    spreadsheet reads the accents right); returns the number of coupons written.

    One row per coupon: what a print shop needs to lay the coupons out itself, QR text
    included. A cell that a spreadsheet would run as a formula is prefixed with an apostrophe.
    """
    out_text_file.write("\ufeff")
    writer = csv.writer(out_text_file, lineterminator="\r\n")
    writer.writerow(
        [
            _("Numéro de série"),
            _("Valeur"),
            _("Devise"),
            _("Valide à partir du"),
            _("Valide jusqu'au"),
            _("Code manuel"),
            _("Texte du code QR"),
            _("Programme"),
        ]
    )
    count = 0
    for coupon in iter_printable(batch_print_queryset(batch, today)):
        writer.writerow(
            _cell(value)
            for value in (
                coupon.serial,
                f"{coupon.value:.2f}",
                coupon.currency,
                coupon.valid_from.isoformat(),
                coupon.valid_until.isoformat(),
                coupon.manual_code,
                coupon.qr_text,
                coupon.program_name,
            )
        )
        count += 1
    return count


def _cell(text: str) -> str:
    # Shown as text, never run: a program named "=HYPERLINK(...)" stays a name.
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# --- Print jobs -----------------------------------------------------------------------------------


def print_root() -> Path:
    return Path(getattr(settings, "PRINT_ROOT", settings.BASE_DIR / "var" / "print"))


def print_jobs_for(user: User | AnonymousUser) -> QuerySet[PrintJob]:
    """Print jobs the user may see: those of the batches they see (coupons.selectors.
    batches_for), and program-wide ones of the programs they run. Out of scope is a 404."""
    base = PrintJob.objects.select_related(
        "program", "batch", "batch__household", "batch__organization", "requested_by"
    )
    if not user.is_authenticated:
        return base.none()
    return base.filter(
        Q(batch__in=batches_for(user).values("pk"))
        | Q(batch__isnull=True, program__in=programs_for(user).values("pk"))
    )


def start_print_job(
    *, program: Program, batch: IssuanceBatch | None = None, requested_by: User
) -> PrintJob:
    """Make a PDF of the still-valid coupons of `batch` (or of the whole `program`).

    A small batch is printed at once; a larger one is handed to the background task and the
    returned job shows its progress. While a job for the same coupons is still queued or
    running, a second request (a double click) gets that job back instead of another one.
    Raises PrintError("wrong_program" | "nothing_to_print").
    """
    if batch is not None and batch.program_id != program.pk:
        raise PrintError("wrong_program", _("Ce lot n'appartient pas à ce programme."))
    today = timezone.localdate()
    coupons = (
        batch_print_queryset(batch, today)
        if batch is not None
        else program_print_queryset(program, today)
    )
    total = coupons.count()
    if not total:
        raise PrintError(
            NOTHING_TO_PRINT,
            _(
                "Il n'y a rien à imprimer : aucun coupon n'est encore utilisable "
                "(ils sont échangés, annulés ou expirés)."
            ),
        )
    pending = (
        PrintJob.objects.filter(
            program=program,
            batch=batch,
            status__in=[PrintJob.Status.QUEUED, PrintJob.Status.RUNNING],
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if pending is not None:
        return pending
    job = PrintJob.objects.create(
        program=program, batch=batch, requested_by=requested_by, total=total
    )
    if total <= SYNC_PRINT_LIMIT:
        run_print_job(job.pk)
    else:
        from coupons.tasks import print_job_task  # the task module imports this one

        try:
            print_job_task.enqueue(job.pk)
        except Exception as error:
            logger.exception("print job %s could not be queued", job.pk)
            _fail(job.pk, f"enqueue_failed: {error}")
    job.refresh_from_db()
    return job


class _ProgressWriter:
    """Writes the job's progress, at most every PROGRESS_INTERVAL seconds."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.written_at = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.written_at >= PROGRESS_INTERVAL:
            PrintJob.objects.filter(pk=self.job_id).update(done=done)
            self.written_at = now


def run_print_job(job_id: int) -> None:
    """Print a queued job to its file under PRINT_ROOT; never raises for a failed print.

    Only a queued job runs (the claim is a conditional update): a task delivered twice prints
    once. The coupons are those still valid now, not when the job was queued. The file is
    written under a temporary name and renamed when complete, so a half-written file is never
    served; on any error the job is marked failed with a short message.
    """
    claimed = PrintJob.objects.filter(pk=job_id, status=PrintJob.Status.QUEUED).update(
        status=PrintJob.Status.RUNNING, started_at=timezone.now(), done=0, error=""
    )
    if not claimed:
        logger.info("print job %s is not queued any more: nothing to do", job_id)
        return
    job = PrintJob.objects.select_related("program", "batch", "batch__organization").get(pk=job_id)
    today = timezone.localdate()
    if job.batch is not None:
        coupons = batch_print_queryset(job.batch, today)
        title, author = batch_title(job.batch), job.batch.issuer_name
    else:
        coupons = program_print_queryset(job.program, today)
        title, author = program_title(job.program), job.program.name
    total = coupons.count()
    if not total:
        _fail(job.pk, NOTHING_TO_PRINT)
        return
    PrintJob.objects.filter(pk=job.pk).update(total=total)

    file_name = f"job-{job.pk}.pdf"
    temporary: Path | None = None
    try:
        root = print_root()
        root.mkdir(parents=True, exist_ok=True)
        temporary = root / f".{file_name}.{uuid.uuid4().hex}.part"
        with temporary.open("wb") as out:
            printed = write_coupons_pdf(
                coupons,
                out,
                title=title,
                author=author,
                logo_png=program_logo_png(job.program),
                progress=_ProgressWriter(job.pk),
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, root / file_name)
    except Exception as error:
        logger.exception("print job %s failed", job.pk)
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        _fail(job.pk, f"{type(error).__name__}: {error}")
        return
    PrintJob.objects.filter(pk=job.pk).update(
        status=PrintJob.Status.DONE,
        done=printed,
        total=printed,
        file_name=file_name,
        finished_at=timezone.now(),
    )


def _fail(job_id: int, error: str) -> None:
    PrintJob.objects.filter(pk=job_id).update(
        status=PrintJob.Status.FAILED, error=error[:300], finished_at=timezone.now()
    )


def print_job_error_message(job: PrintJob) -> str:
    """What the job page says about a failed job, in the reader's language."""
    if job.error == NOTHING_TO_PRINT:
        return _(
            "Il n'y avait plus rien à imprimer : les coupons du lot ont été échangés, annulés "
            "ou sont expirés depuis la demande."
        )
    return _(
        "L'impression a échoué. Vous pouvez la relancer; si l'échec se répète, transmettez "
        "le détail technique à l'équipe du réseau."
    )


def print_job_path(job: PrintJob) -> Path:
    """Where the job's file is (or was). Raises ValueError for a job without a file."""
    name = job.file_name
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"print job {job.pk} has no file")
    return print_root() / name


def print_job_file_exists(job: PrintJob) -> bool:
    try:
        return job.status == PrintJob.Status.DONE and print_job_path(job).is_file()
    except ValueError:
        return False


def print_job_download_name(job: PrintJob) -> str:
    prefix = "".join(c for c in job.program.serial_prefix if c.isalnum() or c in "-_") or "coupons"
    if job.batch_id is not None:
        return f"coupons-{prefix}-lot-{job.batch_id}.pdf"
    return f"coupons-{prefix}.pdf"


def discard_print_job(*, job: PrintJob) -> None:
    """Delete the job's file (it holds bearer secrets); the job stays, as a record."""
    with contextlib.suppress(ValueError):  # raised for a job without a file: nothing to delete
        print_job_path(job).unlink(missing_ok=True)
    PrintJob.objects.filter(pk=job.pk).update(file_name="")
    job.file_name = ""


# 10,000 coupons print in seconds: a job still running after this died with its worker.
STALLED_AFTER = datetime.timedelta(hours=1)


def fail_stalled_print_jobs(*, now: datetime.datetime | None = None) -> int:
    """Mark as failed the jobs whose worker stopped mid-way (they would refresh forever)."""
    now = now or timezone.now()
    return PrintJob.objects.filter(
        status=PrintJob.Status.RUNNING, started_at__lt=now - STALLED_AFTER
    ).update(
        status=PrintJob.Status.FAILED,
        finished_at=now,
        error=_("L'impression s'est interrompue. Relancez-la."),
    )


def purge_old_print_files(*, older_than_days: int = 7) -> int:
    """Delete the files of jobs finished more than `older_than_days` days ago, and leftovers
    of interrupted runs as old; returns how many files were deleted."""
    cutoff = timezone.now() - datetime.timedelta(days=older_than_days)
    deleted = 0
    for job in PrintJob.objects.exclude(file_name="").filter(finished_at__lt=cutoff):
        try:
            path = print_job_path(job)
        except ValueError:
            path = None
        if path is not None and path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
        PrintJob.objects.filter(pk=job.pk).update(file_name="")
    root = print_root()
    if root.is_dir():
        for leftover in root.glob(".job-*.part"):
            if leftover.stat().st_mtime < cutoff.timestamp():
                leftover.unlink(missing_ok=True)
                deleted += 1
    return deleted
