"""Users and invitations. Who belongs to what lives in each app (see DESIGN.md, Layers)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    NETWORK_ADMIN = "network_admin", _("Administration du réseau")
    COORDINATOR = "coordinator", _("Coordination de programme")
    INTERVENANT = "intervenant", _("Intervenant·e")
    MARKET_MANAGER = "market_manager", _("Gestion de marché")
    VENDOR = "vendor", _("Marchand·e")
    FUNDER = "funder", _("Bailleur de fonds")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True, is_network_admin=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address. Households never have an account."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("courriel"), unique=True)
    is_network_admin = models.BooleanField(
        _("administration du réseau"),
        default=False,
        help_text=_("Personnel de l'AMPQ : voit tous les programmes."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("utilisateur·trice")
        verbose_name_plural = _("utilisateur·trices")

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} <{self.email}>" if full else self.email


class Invitation(models.Model):
    """An email invited into one role, scoped to one object (program, organization, market…).

    Only a hash of the token is stored: the link in the email is the only copy of the secret.
    """

    email = models.EmailField(_("courriel"))
    role = models.CharField(_("rôle"), max_length=32, choices=Role.choices)
    scope_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    scope_id = models.PositiveBigIntegerField()
    scope = GenericForeignKey("scope_type", "scope_id")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        "comptes.User", on_delete=models.PROTECT, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        "comptes.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitations_accepted",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        indexes = [models.Index(fields=["scope_type", "scope_id"])]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display()})"

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        ACCEPTED = "accepted", _("Acceptée")
        EXPIRED = "expired", _("Expirée")
        REVOKED = "revoked", _("Révoquée")

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def status(self) -> Invitation.Status:
        """Accepted and revoked are final; otherwise pending until it expires."""
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @property
    def role_label(self) -> str:
        return str(self.get_role_display())
