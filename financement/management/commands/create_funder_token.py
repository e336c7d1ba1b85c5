"""Make a reports API token for a funder (its scripts, a dashboard it runs).

    python manage.py create_funder_token --funder "Fondation du Bas-Saint-Laurent" [--label X]

Prints only the token on stdout, so that `TOKEN=$(python manage.py create_funder_token …)` works.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from financement.access import FunderAccessError, create_funder_token, find_funder


class Command(BaseCommand):
    help = "Create a reports API token for a funder and print it (only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--funder", required=True, help="The funder's name, or its contact email."
        )
        parser.add_argument("--label", default="", help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            funder = find_funder(options["funder"])
            _row, token = create_funder_token(
                funder=funder,
                # Without one, the service's own default label.
                label=options["label"],
                created_by=None,
            )
        except FunderAccessError as error:
            raise CommandError(error.message) from error
        self.stdout.write(token)
