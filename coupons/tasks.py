"""Background tasks of the coupons app (Django tasks, run by `manage.py db_worker`)."""

from __future__ import annotations

from django.conf import settings
from django_tasks import task

from coupons.printing import fail_stalled_print_jobs, purge_old_print_files, run_print_job


@task()
def print_job_task(job_id: int) -> None:
    """Print a large batch to its file (coupons.printing.run_print_job), with its progress."""
    run_print_job(job_id)


@task()
def purge_print_files_task() -> int:
    """Delete print files older than PRINT_FILE_DAYS days (7 by default) and fail stalled jobs;
    returns how many files were deleted."""
    fail_stalled_print_jobs()
    return purge_old_print_files(older_than_days=getattr(settings, "PRINT_FILE_DAYS", 7))
