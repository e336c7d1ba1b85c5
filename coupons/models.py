"""Coupons and the batches that issue them: the first links of the chain of custody."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaires.fields import EncryptedCharField
from beneficiaires.models import Household, Organization
from programmes.models import Program
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class IssuanceBatch(models.Model):
    """One issuance: who issued how many coupons of what value, to whom, and when."""

    class Kind(models.TextChoices):
        HOUSEHOLD = "household", _("Allocation d'un ménage")
        BEARER = "bearer", _("Lot au porteur pour un organisme")
        REPLACEMENT = "replacement", _("Remplacement de coupons annulés")
        SALE = "sale", _("Vente solidaire au public")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HOUSEHOLD)
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="batches"
    )
    # Empty only for a public sale: the program sells its coupons itself.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="batches"
    )
    # Empty only for a public sale: the buyer's payment issued it, not a person of the program.
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    issued_at = models.DateTimeField(default=timezone.now)
    # The form that issued it carries this key, so a double click issues nothing twice.
    idempotency_key = models.UUIDField(unique=True)
    coupon_count = models.PositiveIntegerField(default=0)
    total_value = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    # A household batch of one distribution only (empty: every distribution still due).
    distribution = models.PositiveSmallIntegerField(_("distribution"), null=True, blank=True)
    note = models.CharField(
        _("note"),
        max_length=200,
        blank=True,
        help_text=_("Pour un lot au porteur : à qui il est remis, pour quelle activité."),
    )
    # Handed over: a bearer batch to its organization, an allotment to its household.
    delivered_at = models.DateTimeField(_("remis le"), null=True, blank=True)
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("remis par"),
    )

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("lot d'émission")
        verbose_name_plural = _("lots d'émission")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_value__gte=0), name="batch_total_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.serial_prefix}-{self.pk}"

    @property
    def issuer_name(self) -> str:
        """Who hands the coupons out: the organization, or the program itself for a sale."""
        return self.organization.name if self.organization else self.program.name


class VoidReason(models.TextChoices):
    LOST = "lost", _("Perdu")
    STOLEN = "stolen", _("Volé")
    DAMAGED = "damaged", _("Abîmé ou illisible")
    ERROR = "error", _("Émis par erreur")
    OTHER = "other", _("Autre motif")


class Coupon(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Émis")
        REDEEMED = "redeemed", _("Échangé")
        VOID = "void", _("Annulé")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="coupons")
    batch = models.ForeignKey(IssuanceBatch, on_delete=models.PROTECT, related_name="coupons")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="coupons"
    )
    serial = models.CharField(_("numéro de série"), max_length=32, unique=True)
    # The manual code (14 symbols, check symbol included, no separators): a bearer secret.
    code = models.CharField(_("code manuel"), max_length=14, unique=True)
    value = models.DecimalField(
        _("valeur"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    distribution = models.PositiveSmallIntegerField(_("distribution"), default=1)
    valid_from = models.DateField(_("valide à partir du"))
    valid_until = models.DateField(_("valide jusqu'au"))
    status = models.CharField(
        _("état"), max_length=10, choices=Status.choices, default=Status.ISSUED
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    voided_at = models.DateTimeField(_("annulé le"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("annulé par"),
    )
    void_reason = models.CharField(
        _("motif d'annulation"), max_length=10, choices=VoidReason.choices, blank=True
    )
    void_note = models.CharField(_("précision"), max_length=200, blank=True)
    # The voided coupon this one replaces (at most one replacement per voided coupon).
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replacement",
        verbose_name=_("remplace"),
    )

    class Meta:
        ordering = ["serial"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")),
                name="coupon_validity_window",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="redeemed", redeemed_at__isnull=False)
                    | (~models.Q(status="redeemed") & models.Q(redeemed_at__isnull=True))
                ),
                name="coupon_redeemed_at_iff_redeemed",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="void", voided_at__isnull=False)
                    | (~models.Q(status="void") & models.Q(voided_at__isnull=True))
                ),
                name="coupon_voided_at_iff_void",
            ),
        ]
        indexes = [models.Index(fields=["program", "status"])]

    def __str__(self) -> str:
        return self.serial

    def is_spendable(self, today: datetime.date) -> bool:
        """Issued, not voided, not redeemed, and inside its validity window today."""
        return self.status == self.Status.ISSUED and self.valid_from <= today <= self.valid_until


class SigningKey(models.Model):
    """An Ed25519 key that signs coupon QR codes, added by `manage.py rotate_signing_key`.

    The newest key that is not retired signs new coupons; every key verifies, so coupons signed
    before a rotation stay valid until they expire. The seed is encrypted at rest.
    """

    kid = models.PositiveSmallIntegerField(_("numéro de clé"), unique=True)
    seed = EncryptedCharField(_("germe (chiffré)"), max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(_("retirée le"), null=True, blank=True)

    class Meta:
        ordering = ["-kid"]
        verbose_name = _("clé de signature")
        verbose_name_plural = _("clés de signature")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kid__gte=0, kid__lte=255), name="signing_key_kid_range"
            )
        ]

    def __str__(self) -> str:
        return f"kid {self.kid}"


class PrintJob(models.Model):
    """A PDF of many coupons made in the background (django-tasks), with its progress.

    The file holds bearer secrets (manual codes): it is served only through a scoped view and
    deleted by `discard_print_job` or when it is older than PRINT_FILE_DAYS.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminé")
        FAILED = "failed", _("Échec")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="print_jobs")
    batch = models.ForeignKey(
        IssuanceBatch, on_delete=models.CASCADE, null=True, blank=True, related_name="print_jobs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("impression")
        verbose_name_plural = _("impressions")

    def __str__(self) -> str:
        return f"{self.program.slug} #{self.pk}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)


class WalletLink(models.Model):
    """A household's link to its digital wallet: no account, revocable.

    The link carries `public_id` signed with the site's key (coupons.wallet); revoking it, or
    making a new one, turns the old link away at once.
    """

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, null=True, blank=True, related_name="wallet_links"
    )
    # A public buyer's coupons (a sale's batch), who has no household.
    batch = models.ForeignKey(
        "IssuanceBatch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="wallet_links",
    )
    public_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("lien de portefeuille")
        verbose_name_plural = _("liens de portefeuille")
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(revoked_at__isnull=True),
                name="wallet_one_live_link_per_household",
            ),
            models.CheckConstraint(
                condition=models.Q(household__isnull=False, batch__isnull=True)
                | models.Q(household__isnull=True, batch__isnull=False),
                name="wallet_link_for_a_household_or_a_sale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.public_id}"


# A pending sale holds its subsidy until its Checkout session expires, plus this grace: a
# payment made in the session's last minute may be reported by Stripe a little later, and its
# coupons must still fit.
SALE_RESERVATION_GRACE = datetime.timedelta(minutes=10)


def sale_holds_subsidy(now: datetime.datetime) -> models.Q:
    """Pending sales whose subsidy is still reserved at `now`."""
    return models.Q(status=CouponSale.Status.PENDING, expires_at__gt=now - SALE_RESERVATION_GRACE)


def sale_subsidy() -> models.Expression:
    """A sale's subsidy: the value of its coupons less the price paid."""
    return models.F("value") - models.F("price")


class CouponSaleQuerySet(models.QuerySet["CouponSale"]):
    def reserved_subsidy(self, now: datetime.datetime) -> Decimal:
        """The subsidy that the pending sales among these hold at `now`."""
        total = self.aggregate(total=models.Sum(sale_subsidy(), filter=sale_holds_subsidy(now)))
        return total["total"] or Decimal("0.00")


class CouponSale(models.Model):
    """A purchase of coupons by anyone, below their value (the solidarity sale), paid through
    Stripe's hosted Checkout. The difference (the subsidy) is the program's; the sale is
    reserved while its Checkout session is open, so the subsidy allotted is never overspent."""

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente du paiement")
        PAID = "paid", _("Payé")
        EXPIRED = "expired", _("Abandonné")
        REFUNDED = "refunded", _("Remboursé")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="sales")
    buyer_name = EncryptedCharField(_("nom"), max_length=160)
    buyer_email = EncryptedCharField(_("courriel"), max_length=254)
    language = models.CharField(max_length=8, default="fr")
    packs = models.PositiveSmallIntegerField(_("carnets"))
    price = models.DecimalField(
        _("prix payé"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    value = models.DecimalField(
        _("valeur des coupons"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    batch = models.OneToOneField(
        IssuanceBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="sale"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # What Stripe has given back so far (a refund, in part or in all, cancels the purchase).
    refunded_amount = models.DecimalField(
        _("montant remboursé"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("0.00"),
    )
    # Paid, but its coupons could not be issued (funds used up, season over): the money is
    # kept and the coordinators see the sale flagged until they settle it with the buyer.
    issue_error = models.CharField(_("problème d'émission"), max_length=200, blank=True)
    # When the buyer's name and e-mail were erased, the program's retention period over
    # (coupons.retention); the amounts stay.
    buyer_erased_at = models.DateTimeField(null=True, blank=True)

    objects = CouponSaleQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("vente solidaire")
        verbose_name_plural = _("ventes solidaires")
        constraints = [
            models.CheckConstraint(condition=models.Q(packs__gte=1), name="sale_at_least_a_pack"),
            models.CheckConstraint(
                condition=models.Q(price__gt=0) & models.Q(value__gt=models.F("price")),
                name="sale_price_below_value",
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0)
                & models.Q(refunded_amount__lte=models.F("price")),
                name="sale_refund_within_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} {self.packs} × ({self.status})"

    @property
    def subsidy(self) -> Decimal:
        return self.value - self.price
