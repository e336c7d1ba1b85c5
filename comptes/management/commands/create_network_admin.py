"""Create a network admin (AMPQ staff), or promote an existing account. Never prompts."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from comptes.models import User


class Command(BaseCommand):
    help = (
        "Create a network admin with this email, or promote the existing account. Without "
        "--password, a new account gets a generated password, printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", default=None)
        parser.add_argument(
            "--staff",
            action="store_true",
            help="Also give access to the Django admin site (is_staff and is_superuser).",
        )

    def handle(
        self, *args: Any, email: str, password: str | None, staff: bool, **opts: Any
    ) -> None:
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Invalid email address: {email!r}") from exc

        with transaction.atomic():
            user = User.objects.filter(email__iexact=email).first()
            created = user is None
            if user is None:
                user = User(email=email)
            generated = None
            if password is None and created:
                generated = password = secrets.token_urlsafe(18)
            if password is not None:
                try:
                    validate_password(password, user=user)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from exc
                user.set_password(password)
            user.is_network_admin = True
            user.is_active = True
            if staff:
                user.is_staff = True
                user.is_superuser = True
            user.save()

        verb = "Created" if created else "Promoted"
        self.stdout.write(self.style.SUCCESS(f"{verb} network admin {user.email}."))
        if generated:
            self.stdout.write(f"Password: {generated}")
