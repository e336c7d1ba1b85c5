"""`manage.py backup --output FILE`: a consistent, restorable archive of the whole database,
with a manifest of the ledger's checksums (comptes/backups.py, docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from comptes.backups import BackupError, TableChecksum, create_backup, describe


class Command(BaseCommand):
    help = (
        "Write a consistent archive of the database (pg_dump -Fc or the SQLite backup API) "
        "with a manifest of the ledger's checksums. Restore it with `manage.py restore`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=None,
            help="Archive to write (default: backups/coupons-YYYYMMDD-HHMMSS.tar.gz).",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, output: str | None, database: str, **opts: Any) -> None:
        if output is None:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            output = f"backups/coupons-{stamp}.tar.gz"
        try:
            result = create_backup(output=Path(output), using=database)
        except BackupError as error:
            raise CommandError(f"{error} [{error.code}]") from error
        checksums = {
            label: TableChecksum(**value) for label, value in result.manifest["ledger"].items()
        }
        self.stdout.write(f"Backup written: {result.path}")
        for line in describe(checksums):
            self.stdout.write(f"  {line}")
