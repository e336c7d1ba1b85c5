"""`manage.py restore FILE`: restore an archive made by `manage.py backup` into an empty
database (the one DATABASE_URL names), then check that the ledger's checksums are those of the
manifest (comptes/backups.py, docs/deploy.md)."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptes.backups import BackupError, describe, read_manifest, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an empty database and verify the ledger's checksums. "
        "With --check, only print the archive's manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive")
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--check", action="store_true", help="Print the manifest; restore nothing."
        )

    def handle(self, *args: Any, archive: str, database: str, check: bool, **opts: Any) -> None:
        try:
            if check:
                manifest = read_manifest(Path(archive))
                self.stdout.write(
                    f"{manifest['engine']} backup made {manifest['created_at']}, "
                    f"{len(manifest['migrations'])} migrations"
                )
                for label, value in manifest["ledger"].items():
                    self.stdout.write(f"  {label}: {value['rows']} rows, sha256 {value['sha256']}")
                return
            result = restore_backup(archive_path=Path(archive), using=database)
        except (BackupError, OSError, tarfile.TarError, ValueError, KeyError) as error:
            code = getattr(error, "code", "unreadable")
            raise CommandError(f"{error} [{code}]") from error
        self.stdout.write(f"Restored {archive} (made {result.manifest['created_at']}).")
        self.stdout.write("Ledger identical to the backup's manifest:")
        for line in describe(result.checksums):
            self.stdout.write(f"  {line}")
        self.stdout.write(
            "Next: python manage.py migrate (if this release is newer), then re-apply the "
            "database grants (docs/deploy.md)."
        )
