"""Printing a batch: start a print job, follow it, download or delete its PDF, and the batch's
CSV for a print shop.

A batch is fetched through `batches_for(user)` and a job through `print_jobs_for(user)`: outside
the user's scope is a 404. A batch of at most SYNC_PRINT_LIMIT coupons is printed within the
request, so its job page opens on the finished file; a larger one is printed by the background
task and its page refreshes itself (a <meta http-equiv="refresh">: no script) until it is done.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coupons import printing
from coupons.models import PrintJob
from coupons.selectors import batches_for

if TYPE_CHECKING:
    from comptes.models import User

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 2


@login_required
@require_POST
def batch_print(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(batches_for(request.user), pk=pk)
    try:
        job = printing.start_print_job(
            program=batch.program,
            batch=batch,
            requested_by=cast("User", request.user),  # behind login_required
        )
    except printing.PrintError as error:
        messages.error(request, error.message)
        return redirect("coupons:batch_detail", pk=batch.pk)
    return redirect("coupons:print_job", pk=job.pk)


@login_required
@require_GET
@never_cache
def print_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(printing.print_jobs_for(request.user), pk=pk)
    unfinished = job.status in (PrintJob.Status.QUEUED, PrintJob.Status.RUNNING)
    return render(
        request,
        "coupons/print_job.html",
        {
            "job": job,
            "refresh_seconds": REFRESH_SECONDS if unfinished else None,
            "unfinished": unfinished,
            "file_available": printing.print_job_file_exists(job),
            "error_message": (
                printing.print_job_error_message(job)
                if job.status == PrintJob.Status.FAILED
                else ""
            ),
            "show_error_detail": bool(job.error) and job.error != printing.NOTHING_TO_PRINT,
        },
    )


@login_required
@require_GET
def print_job_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = get_object_or_404(printing.print_jobs_for(request.user), pk=pk)
    try:
        handle = (
            printing.print_job_path(job).open("rb") if job.status == PrintJob.Status.DONE else None
        )
    except (ValueError, OSError):
        handle = None
    if handle is None:
        messages.info(request, _("Ce fichier n'est plus disponible : relancez l'impression."))
        return redirect("coupons:print_job", pk=job.pk)
    logger.info("print job %s downloaded by user %s", job.pk, request.user.pk)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=printing.print_job_download_name(job),
        content_type="application/pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def print_job_delete(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(printing.print_jobs_for(request.user), pk=pk)
    if request.method == "POST":
        printing.discard_print_job(job=job)
        logger.info("print job %s file deleted by user %s", job.pk, request.user.pk)
        messages.success(request, _("Le fichier PDF a été supprimé."))
        return redirect("coupons:print_job", pk=job.pk)
    return render(
        request,
        "coupons/print_job_delete.html",
        {"job": job, "file_available": printing.print_job_file_exists(job)},
    )


@login_required
@require_GET
def batch_csv(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(batches_for(request.user), pk=pk)
    today = timezone.localdate()
    if not printing.batch_print_queryset(batch, today).exists():
        messages.error(
            request,
            _("Aucun coupon de ce lot n'est encore utilisable : il n'y a rien à exporter."),
        )
        return redirect("coupons:batch_detail", pk=batch.pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="coupons-lot-{batch.pk}.csv"'
    response["Cache-Control"] = "no-store"
    count = printing.batch_csv(batch, response, today)
    # The file holds the manual codes, bearer secrets: who took them is worth a log line.
    logger.info("batch %s CSV (%s coupons) exported by user %s", batch.pk, count, request.user.pk)
    return response


urlpatterns: list[URLPattern] = [
    path("lots/<int:pk>/imprimer/", batch_print, name="batch_print"),
    path("lots/<int:pk>/coupons.csv", batch_csv, name="batch_csv"),
    path("impressions/<int:pk>/", print_job, name="print_job"),
    path("impressions/<int:pk>/coupons.pdf", print_job_download, name="print_job_download"),
    path("impressions/<int:pk>/supprimer/", print_job_delete, name="print_job_delete"),
]
