"""Coupons and the batches that issue them: the first links of the chain of custody."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import Household, Organization
from programmes.models import Program
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class IssuanceBatch(models.Model):
    """One issuance: who issued how many coupons of what value, to whom, and when."""

    class Kind(models.TextChoices):
        HOUSEHOLD = "household", _("Allocation d'un ménage")
        BEARER = "bearer", _("Lot au porteur pour un organisme")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HOUSEHOLD)
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="batches"
    )
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="batches")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    issued_at = models.DateTimeField(default=timezone.now)
    # The form that issued it carries this key, so a double click issues nothing twice.
    idempotency_key = models.UUIDField(unique=True)
    coupon_count = models.PositiveIntegerField(default=0)
    total_value = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
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
        ]
        indexes = [models.Index(fields=["program", "status"])]

    def __str__(self) -> str:
        return self.serial
