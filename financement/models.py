"""Funders, their contributions, online donations and the program's funds ledger.

A program's funds are the sum of its ledger rows: every contribution, donation, public purchase
and refund is one row, never changed afterwards (a refund is a new, negative row).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from programmes.models import Program
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class Funder(models.Model):
    """A ministry, a foundation, a municipality, a business… that funds programs."""

    class Kind(models.TextChoices):
        GOVERNMENT = "government", _("Ministère ou organisme public")
        MUNICIPAL = "municipal", _("Municipalité ou MRC")
        FOUNDATION = "foundation", _("Fondation")
        BUSINESS = "business", _("Entreprise")
        COMMUNITY = "community", _("Organisme communautaire")
        PUBLIC = "public", _("Dons du public")
        OTHER = "other", _("Autre")

    name = models.CharField(_("nom"), max_length=160, unique=True)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.OTHER)
    contact_email = models.EmailField(_("courriel de la personne-ressource"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The funder's staff who sign in to read the reports of the programs it funds.
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="funder_memberships",
        blank=True,
        verbose_name=_("membres"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("bailleur de fonds")
        verbose_name_plural = _("bailleurs de fonds")

    def __str__(self) -> str:
        return self.name


class Contribution(models.Model):
    """A grant or a gift recorded by a coordinator."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="contributions")
    funder = models.ForeignKey(Funder, on_delete=models.PROTECT, related_name="contributions")
    amount = models.DecimalField(
        _("montant"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    received_on = models.DateField(_("reçu le"))
    reference = models.CharField(
        _("référence"), max_length=80, blank=True, help_text=_("Numéro d'entente, de chèque…")
    )
    restrictions = models.TextField(
        _("conditions"),
        blank=True,
        help_text=_("Ce que le bailleur de fonds exige : usage, territoire, rapport à remettre…"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    # Made when the form is shown: the same form posted twice records one contribution.
    idempotency_key = models.UUIDField(unique=True, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_on", "-pk"]
        verbose_name = _("contribution")
        verbose_name_plural = _("contributions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="contribution_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.funder} → {self.program}: {self.amount}"


class ContributionDocument(models.Model):
    """The agreement or letter of a contribution (a PDF, an image), kept in the database so that
    a backup of the database is complete."""

    contribution = models.OneToOneField(
        Contribution, on_delete=models.CASCADE, related_name="document"
    )
    filename = models.CharField(max_length=160)
    content_type = models.CharField(max_length=80)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("document de contribution")
        verbose_name_plural = _("documents de contribution")

    def __str__(self) -> str:
        return self.filename


class Donation(models.Model):
    """A gift made online through Stripe's hosted Checkout (no card ever touches our pages)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente du paiement")
        PAID = "paid", _("Reçu")
        REFUNDED = "refunded", _("Remboursé")
        EXPIRED = "expired", _("Abandonné")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="donations")
    amount = models.DecimalField(
        _("montant"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    donor_name = models.CharField(_("nom"), max_length=160)
    donor_email = models.EmailField(_("courriel"))
    # Asked only when the program gives official tax receipts, which must carry it.
    donor_address = models.TextField(_("adresse"), max_length=300, blank=True)
    dedication = models.CharField(_("dédicace"), max_length=200, blank=True)
    language = models.CharField(max_length=8, default="fr")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    refunded_amount = models.DecimalField(
        _("montant remboursé"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("0.00"),
    )
    receipt_number = models.CharField(_("numéro de reçu"), max_length=40, blank=True)
    # Who issued the receipt, as the program said when the gift was received (fund holder,
    # charity number, address, signatory, official or not): a receipt downloaded years later
    # says what it said that day (financement.donations.issuer_of).
    receipt_issuer = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("don en ligne")
        verbose_name_plural = _("dons en ligne")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="donation_positive"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0)
                & models.Q(refunded_amount__lte=models.F("amount")),
                name="donation_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} {self.amount} ({self.status})"


class LedgerEntry(models.Model):
    """One movement of a program's funds. Funds received = the sum of `amount`."""

    class Kind(models.TextChoices):
        CONTRIBUTION = "contribution", _("Contribution")
        DONATION = "donation", _("Don en ligne")
        SALE = "sale", _("Vente solidaire")
        REFUND = "refund", pgettext_lazy("money given back to a payer", "Remboursement")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(
        _("montant"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    at = models.DateTimeField(_("moment"), default=timezone.now)
    contribution = models.OneToOneField(
        Contribution, on_delete=models.PROTECT, null=True, blank=True, related_name="entry"
    )
    donation = models.ForeignKey(
        Donation, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    # What a higher app's row stands for ("sale:12"), and the Stripe object behind it.
    source = models.CharField(max_length=60, blank=True, db_index=True)
    stripe_reference = models.CharField(max_length=255, blank=True)
    memo = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("écriture du registre des fonds")
        verbose_name_plural = _("registre des fonds")
        constraints = [
            models.CheckConstraint(
                condition=(~models.Q(kind="refund") & models.Q(amount__gt=0))
                | (models.Q(kind="refund") & models.Q(amount__lt=0)),
                name="ledger_sign_follows_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="contribution") | models.Q(contribution__isnull=False),
                name="ledger_contribution_has_its_row",
            ),
        ]
        indexes = [models.Index(fields=["program", "kind"])]

    def __str__(self) -> str:
        return f"{self.program} {self.kind} {self.amount}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The funds ledger is append-only: add a reversing row.")
        super().save(*args, **kwargs)


class StripeEvent(models.Model):
    """A webhook event received from Stripe, applied once by its id."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Appliqué")
        IGNORED = "ignored", _("Sans effet")
        DEFERRED = "deferred", _("En attente d'un autre événement")

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=80)
    status = models.CharField(max_length=10, choices=Status.choices)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("événement Stripe")
        verbose_name_plural = _("événements Stripe")

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class FunderToken(models.Model):
    """A key with which a funder's scripts read the reports API (`/api/v1/reports/…`).

    Only the SHA-256 of the token is stored; the token is shown once, when it is made.
    """

    funder = models.ForeignKey(Funder, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(_("nom du jeton"), max_length=80)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("jeton de bailleur de fonds")
        verbose_name_plural = _("jetons de bailleurs de fonds")

    def __str__(self) -> str:
        return f"{self.label} ({self.funder})"
