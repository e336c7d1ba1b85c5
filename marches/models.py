"""Markets, vendors, their scanning devices and the redemptions they record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coupons.models import Coupon
from programmes.models import ProductCategory, Program
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class Market(models.Model):
    name = models.CharField(_("nom"), max_length=160)
    slug = models.SlugField(_("identifiant"), unique=True, max_length=60)
    city = models.CharField(_("municipalité"), max_length=120)
    address = models.CharField(_("adresse"), max_length=255, blank=True)
    season_start = models.DateField(_("début de la saison"), null=True, blank=True)
    season_end = models.DateField(_("fin de la saison"), null=True, blank=True)
    programs = models.ManyToManyField(
        Program, related_name="markets", blank=True, verbose_name=_("programmes acceptés")
    )
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="managed_markets",
        blank=True,
        verbose_name=_("gestion"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("marché public")
        verbose_name_plural = _("marchés publics")

    def __str__(self) -> str:
        return self.name


class MarketDay(models.Model):
    """A day the market is open, with its hours (a farm stand may have none)."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    opens_at = models.TimeField(_("ouverture"), null=True, blank=True)
    closes_at = models.TimeField(_("fermeture"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("journée de marché")
        verbose_name_plural = _("journées de marché")
        constraints = [
            models.UniqueConstraint(fields=["market", "date"], name="market_day_unique_date"),
            models.CheckConstraint(
                condition=models.Q(opens_at__isnull=True)
                | models.Q(closes_at__isnull=True)
                | models.Q(closes_at__gt=models.F("opens_at")),
                name="market_day_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market} {self.date}"


class Vendor(models.Model):
    """A producer or processor who sells at one or more markets (or at its own farm stand)."""

    class Payout(models.TextChoices):
        DOLLARS = "dollars", _("En dollars canadiens")
        LOCAL = "local", _("En monnaie locale (si le programme en a une)")

    name = models.CharField(_("nom de l'entreprise"), max_length=160)
    slug = models.SlugField(_("identifiant"), unique=True, max_length=60)
    markets = models.ManyToManyField(
        Market, related_name="vendors", blank=True, verbose_name=_("marchés")
    )
    categories = models.ManyToManyField(
        ProductCategory, related_name="vendors", blank=True, verbose_name=_("produits")
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="vendor_memberships",
        blank=True,
        verbose_name=_("personnes"),
    )
    payout = models.CharField(
        _("remboursement"), max_length=10, choices=Payout.choices, default=Payout.DOLLARS
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("marchand·e")
        verbose_name_plural = _("marchand·es")

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    """A scanner (a phone, a script) allowed to redeem for one vendor at one market.

    Only the SHA-256 of the token is stored; the token is shown once, when it is made.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="devices")
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(_("nom de l'appareil"), max_length=80)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=8)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("appareil")
        verbose_name_plural = _("appareils")

    def __str__(self) -> str:
        return f"{self.name} ({self.vendor})"


class Redemption(models.Model):
    """A scan by which a vendor gave food for a coupon: the money the vendor may be owed.

    One row per scan (`client_id`). At most one row per coupon is `accepted` (the database
    refuses a second). A coupon scanned offline by two devices gives one `accepted` row (the
    first scan in `scanned_at` order) and `conflict` rows, which a coordinator honours (a
    recorded loss, reimbursed) or refuses. A vendor's mistaken scan undone within minutes is
    `undone`. Only accepted and honoured rows are reimbursed, each on at most one statement.
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepté")
        CONFLICT = "conflict", _("En examen (scanné deux fois)")
        HONOURED = "honoured", _("Honoré (perte consignée)")
        REFUSED = "refused", _("Refusé après examen")
        UNDONE = "undone", _("Annulé par l'entreprise")

    # What a vendor is paid for.
    REIMBURSABLE = (Status.ACCEPTED, Status.HONOURED)

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    # The coupon's program, copied when the scan is recorded (a coupon never changes program),
    # so that a program's reports read its own redemptions without joining the coupons. Set,
    # with `household`, by `marches.redemptions._Attempt.redemption`, the one place a
    # redemption is made.
    # Indexed by (program, status) below, which also serves the foreign key.
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="redemptions", db_index=False
    )
    # The coupon's household, copied likewise (a coupon never changes hands in the database;
    # none for a bearer or sale coupon), so that the impact report counts the households that
    # came back week after week without joining every redemption to its coupon. Nothing more
    # than the coupon already tells; households are anonymized, never deleted, so no index.
    household = models.ForeignKey(
        "beneficiaires.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="redemptions")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="redemptions")
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, null=True, blank=True, related_name="redemptions"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        ProductCategory, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Made by the scanner: the same scan sent twice is recognised and answered once.
    client_id = models.UUIDField(unique=True)
    value = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    # Made by a scanner that was offline: the vendor gave the food before the server knew.
    offline = models.BooleanField(default=False)
    scanned_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    # The undo of a mistaken scan, or the coordinator's decision on a conflict.
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_reason = models.CharField(_("motif"), max_length=300, blank=True)
    statement = models.ForeignKey(
        "Statement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
    )

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("échange")
        verbose_name_plural = _("échanges")
        constraints = [
            # Invariant 1: the database itself refuses a second accepted redemption.
            models.UniqueConstraint(
                fields=["coupon"],
                condition=models.Q(status="accepted"),
                name="redemption_one_accepted_per_coupon",
            ),
            models.CheckConstraint(condition=models.Q(value__gt=0), name="redemption_positive"),
            # Only what a vendor is paid for goes on a statement.
            models.CheckConstraint(
                condition=models.Q(statement__isnull=True)
                | models.Q(status__in=["accepted", "honoured"]),
                name="redemption_statement_only_if_reimbursable",
            ),
        ]
        indexes = [
            models.Index(fields=["vendor", "recorded_at"]),
            models.Index(fields=["market", "recorded_at"]),
            models.Index(fields=["coupon", "status"]),
            # The reports: a program's redemptions by status (bench/reports.py).
            models.Index(fields=["program", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.coupon} @ {self.market}"


class ScanRejection(models.Model):
    """A scan that was refused, kept so that a replayed scan gets the same answer."""

    client_id = models.UUIDField(unique=True)
    code_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=32)
    context = models.JSONField(default=dict, blank=True)
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="+")
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scanned_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("scan refusé")
        verbose_name_plural = _("scans refusés")

    def __str__(self) -> str:
        return f"{self.reason} @ {self.market}"


class Statement(models.Model):
    """What a program owes a vendor for a period: its accepted redemptions and honoured
    conflicts, each on one statement only. Drafted, approved, then marked paid."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        APPROVED = "approved", _("Approuvé")
        PAID = "paid", _("Payé")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="statements")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField(_("du"))
    period_end = models.DateField(_("au"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    total = models.DecimalField(
        _("total"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    redemption_count = models.PositiveIntegerField(default=0)
    # The vendor's choice and the program's rate when the statement was made.
    payout = models.CharField(max_length=10, choices=Vendor.Payout.choices)
    local_currency = models.CharField(max_length=40, blank=True)
    local_rate = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    local_total = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_reference = models.CharField(_("référence du paiement"), max_length=80, blank=True)

    class Meta:
        ordering = ["-period_end", "-pk"]
        verbose_name = _("relevé de remboursement")
        verbose_name_plural = _("relevés de remboursement")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="statement_period_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="statement_total_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | ~models.Q(paid_reference=""),
                name="statement_paid_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.period_start}–{self.period_end}"
