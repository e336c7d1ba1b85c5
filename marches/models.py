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


class Vendor(models.Model):
    """A producer or processor who sells at one or more markets (or at its own farm stand)."""

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
    """A coupon accepted by a vendor at a market: the money the vendor is owed."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepté")

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
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
    scanned_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)

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
        ]
        indexes = [
            models.Index(fields=["vendor", "recorded_at"]),
            models.Index(fields=["market", "recorded_at"]),
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
