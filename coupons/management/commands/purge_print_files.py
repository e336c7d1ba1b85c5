"""Delete old print files (they hold bearer secrets) and close print jobs whose worker died.

    python manage.py purge_print_files [--days N]

Run it once a day (cron or a systemd timer, see docs/configuration.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from coupons.printing import fail_stalled_print_jobs, purge_old_print_files


class Command(BaseCommand):
    help = "Delete print files older than PRINT_FILE_DAYS days and fail stalled print jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.PRINT_FILE_DAYS,
            help="Age in days past which a finished job's file is deleted (PRINT_FILE_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stalled = fail_stalled_print_jobs()
        deleted = purge_old_print_files(older_than_days=max(options["days"], 0))
        self.stdout.write(
            f"{deleted} print file(s) deleted, {stalled} stalled job(s) marked failed."
        )
