"""Print every still-valid coupon of a program, or of one batch, to a PDF file.

    python manage.py print_coupons --program <slug> -o coupons.pdf
    python manage.py print_coupons --batch <id> -o lot.pdf

Expired, voided and redeemed coupons are left out. The PDF is streamed page by page, so a
program of tens of thousands of coupons prints in bounded memory; it is written under a
temporary name beside the output and renamed when complete. The file holds the manual codes,
bearer secrets: keep it where only the people who print it can read it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from coupons.models import IssuanceBatch
from coupons.pdf import page_count
from coupons.printing import (
    batch_print_queryset,
    batch_title,
    program_logo_png,
    program_print_queryset,
    program_title,
    write_coupons_pdf,
)
from programmes.models import Program


class Command(BaseCommand):
    help = "Print every still-valid coupon of a program or of one batch to a PDF file."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--program", metavar="SLUG", help="Every coupon of this program.")
        which.add_argument("--batch", metavar="ID", type=int, help="The coupons of this batch.")
        parser.add_argument(
            "-o", "--output", metavar="FILE.pdf", required=True, type=Path, help="The PDF to write."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        output: Path = options["output"]
        if options["program"] is not None:
            program = Program.objects.filter(slug=options["program"]).first()
            if program is None:
                raise CommandError(f"No program with the slug {options['program']!r}.")
            coupons = program_print_queryset(program, today)
            title, author = program_title(program), program.name
            what = f"program {program.slug}"
        else:
            batch = (
                IssuanceBatch.objects.select_related("program", "organization")
                .filter(pk=options["batch"])
                .first()
            )
            if batch is None:
                raise CommandError(f"No batch with the id {options['batch']}.")
            program = batch.program
            coupons = batch_print_queryset(batch, today)
            title, author = batch_title(batch), batch.issuer_name
            what = f"batch {batch.pk}"
        if not coupons.exists():
            raise CommandError(
                f"Nothing to print: no coupon of {what} is still valid "
                "(all are redeemed, voided or expired)."
            )

        temporary = output.with_name(f".{output.name}.{uuid.uuid4().hex}.part")
        try:
            with temporary.open("wb") as out:
                count = write_coupons_pdf(
                    coupons, out, title=title, author=author, logo_png=program_logo_png(program)
                )
            os.replace(temporary, output)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise CommandError(f"Cannot write {output}: {error.strerror or error}.") from error
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self.stdout.write(f"{count} coupons, {page_count(count)} pages → {output}")
