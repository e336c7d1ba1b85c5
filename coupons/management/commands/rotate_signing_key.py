"""Add a new coupon signing key to the database; it signs every coupon from now on.

    python manage.py rotate_signing_key [--dry-run]

Coupons signed with the older keys stay valid until they expire (every key keeps verifying).
Not idempotent: each run adds a key (see docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coupons.keys import MAX_AGE, SigningKeyError, keyring, next_signing_kid, rotate_signing_key


def _kids(kids: Iterable[int]) -> str:
    return ", ".join(str(kid) for kid in sorted(set(kids)))


class Command(BaseCommand):
    help = (
        "Add a new random Ed25519 key that signs coupon QR codes from now on; coupons signed "
        "with the older keys stay valid until they expire. Not idempotent: each run adds a key "
        "(kid = 1 + the highest kid in COUPON_SIGNING_KEYS and the database, at most 255)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only print which key would be added; write nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["dry_run"]:
                self._dry_run()
                return
            key = rotate_signing_key()
        except SigningKeyError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"New signing key kid {key.kid} is now signing; keys that still verify: "
                f"{_kids(keyring().public_keys)}"
            )
        )
        self.stdout.write(
            "Coupons signed with the older keys stay valid until they expire. Running processes "
            f"switch to the new key within {int(MAX_AGE // 60)} minutes (at once after a "
            "restart). Back up the database together with FIELD_ENCRYPTION_KEYS: the seed is "
            "encrypted with them."
        )

    def _dry_run(self) -> None:
        kid = next_signing_kid()
        current = keyring()
        self.stdout.write(
            f"Dry run: would add signing key kid {kid}, which would then sign new coupons "
            f"(kid {current.active_kid} signs today); keys that would still verify: "
            f"{_kids([*current.public_keys, kid])}. Nothing written."
        )
