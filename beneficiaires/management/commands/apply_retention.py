"""Anonymize the households whose program's retention period has ended; erase the donors, the
Stripe event bodies and the sale buyers past theirs (docs/privacy).

    python manage.py apply_retention [--dry-run]

Run it daily (cron or a systemd timer, docs/configuration.md). `--dry-run` prints, per program,
how many households would be anonymized and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from beneficiaires.retention import apply_retention, retention_steps


class Command(BaseCommand):
    help = (
        "Anonymize the households of programs whose retention period (days after the end of "
        "the season) has ended; the coupons, redemptions and reports stay whole."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only print what would be anonymized, per program; write nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        report = apply_retention(dry_run=dry_run)
        for step in retention_steps():
            count = report.erased.get(step.key, 0)
            self.stdout.write(
                f"{count} {step.description}" + (" (dry run: nothing written)." if dry_run else ".")
            )
        if not report.programs:
            self.stdout.write(f"{report.today}: no household to anonymize.")
            return
        for line in report.programs:
            if dry_run:
                self.stdout.write(
                    f"{line.slug}: {line.due} household(s) would be anonymized "
                    f"(retention of {line.retention_days} days ended {line.expired_on})."
                )
            else:
                failed = f", {line.failed} failed" if line.failed else ""
                self.stdout.write(
                    f"{line.slug}: {line.anonymized} household(s) anonymized{failed} "
                    f"(retention of {line.retention_days} days ended {line.expired_on})."
                )
        if dry_run:
            self.stdout.write(f"Dry run: {report.due} household(s) would be anonymized.")
            return
        self.stdout.write(self.style.SUCCESS(f"{report.anonymized} household(s) anonymized."))
        if report.failed:
            raise CommandError(
                f"{report.failed} household(s) could not be anonymized: see the log; "
                "the next run tries them again."
            )
