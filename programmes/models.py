"""Territories, programs and their rules."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from programmes.allotment import distribution_dates
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class Territory(models.Model):
    class Kind(models.TextChoices):
        MRC = "mrc", _("MRC")
        CITY = "city", _("Ville")

    name = models.CharField(_("nom"), max_length=120)
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices, default=Kind.MRC)

    class Meta:
        ordering = ["name"]
        verbose_name = _("territoire")
        verbose_name_plural = _("territoires")
        constraints = [
            models.UniqueConstraint(fields=["name", "kind"], name="territory_unique_name_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class ProductCategory(models.Model):
    """A kind of product a coupon may buy (fruits and vegetables, eggs, meat…)."""

    slug = models.SlugField(_("identifiant"), unique=True)
    name_fr = models.CharField(_("nom (français)"), max_length=80)
    name_en = models.CharField(_("nom (anglais)"), max_length=80)

    class Meta:
        ordering = ["name_fr"]
        verbose_name = _("catégorie de produits")
        verbose_name_plural = _("catégories de produits")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_in_language(self.name_fr, self.name_en)

    @staticmethod
    def name_in_language(name_fr: str, name_en: str | None) -> str:
        """The name to show in the active language (the French one when no English is given),
        for rows read as values rather than as categories."""
        language = get_language() or "fr"
        return (name_en or name_fr) if language.startswith("en") else name_fr


class DistributionFrequency(models.TextChoices):
    ONCE = "once", _("Une seule fois")
    WEEKLY = "weekly", _("Chaque semaine")
    BIWEEKLY = "biweekly", _("Toutes les deux semaines")
    MONTHLY = "monthly", _("Chaque mois")


class Program(models.Model):
    """A food-coupon program run by an MRC or a city for one season."""

    territory = models.ForeignKey(
        Territory, on_delete=models.PROTECT, related_name="programs", verbose_name=_("territoire")
    )
    name = models.CharField(_("nom"), max_length=160)
    slug = models.SlugField(_("identifiant"), unique=True, max_length=60)
    serial_prefix = models.CharField(
        _("préfixe des numéros de série"),
        max_length=6,
        help_text=_("Quelques lettres imprimées devant le numéro de chaque coupon, ex. PORT."),
    )
    season_start = models.DateField(_("début de la saison"))
    season_end = models.DateField(_("fin de la saison"))
    # Who holds the program's funds (a trustee, such as the UPA of Portneuf), and its charity
    # registration number: with one, donation receipts are official tax receipts.
    fund_holder = models.CharField(
        _("organisme fiduciaire des fonds"),
        max_length=160,
        blank=True,
        help_text=_("L'organisme qui reçoit et garde les fonds du programme."),
    )
    charity_number = models.CharField(
        _("numéro d'enregistrement d'organisme de bienfaisance"),
        max_length=15,
        blank=True,
        help_text=_("Ex. 123456789RR0001. Avec lui, les reçus de dons sont des reçus officiels."),
    )
    # What an official receipt must also carry (Income Tax Regulations, s. 3501): the charity's
    # address as recorded with the Canada Revenue Agency, and who signs for it.
    fund_holder_address = models.TextField(
        _("adresse de l'organisme fiduciaire"), max_length=300, blank=True
    )
    receipt_signatory = models.CharField(_("signataire des reçus"), max_length=160, blank=True)
    currency = models.CharField(_("devise"), max_length=3, default="CAD")
    distribution_count = models.PositiveSmallIntegerField(
        _("nombre de distributions"), default=1, validators=[MinValueValidator(1)]
    )
    distribution_frequency = models.CharField(
        _("fréquence des distributions"),
        max_length=10,
        choices=DistributionFrequency.choices,
        default=DistributionFrequency.WEEKLY,
        help_text=_("La première distribution a lieu au début de la saison."),
    )
    coupon_validity_days = models.PositiveSmallIntegerField(
        _("validité d'un coupon (jours)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Un coupon est valide ce nombre de jours à partir de sa distribution, sans dépasser "
            "la fin de la saison. Vide : jusqu'à la fin de la saison."
        ),
    )
    # Offline scanning: what one scanner may accept before it syncs again (0: no offline).
    offline_max_count = models.PositiveSmallIntegerField(
        _("coupons hors ligne par appareil (au plus)"),
        default=20,
        help_text=_("Un lecteur hors ligne refuse au-delà, jusqu'au retour du réseau."),
    )
    offline_max_value = models.DecimalField(
        _("valeur hors ligne par appareil (au plus)"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("100.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    # A local currency (Outaouais): vendors may be reimbursed in it at this rate.
    local_currency = models.CharField(
        _("monnaie locale"),
        max_length=40,
        blank=True,
        help_text=_("Son nom, si les marchand·es peuvent être remboursé·es en monnaie locale."),
    )
    local_rate = models.DecimalField(
        _("taux de la monnaie locale"),
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text=_("Unités de monnaie locale pour 1 $ CA."),
    )
    # The public solidarity sale: anyone buys coupons below their value (Portneuf: 30 $ of
    # coupons for 20 $), the difference drawn from the funds, until the subsidy allotted is spent.
    sale_enabled = models.BooleanField(_("vente solidaire au public"), default=False)
    sale_price = models.DecimalField(
        _("prix d'un carnet"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    sale_value = models.DecimalField(
        _("valeur en coupons d'un carnet"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    sale_subsidy_cap = models.DecimalField(
        _("subvention allouée à la vente"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        default=Decimal("0.00"),
        help_text=_(
            "La vente s'arrête d'elle-même quand la différence payée par le programme "
            "atteint ce montant."
        ),
    )
    sale_max_packs = models.PositiveSmallIntegerField(_("carnets par achat (au plus)"), default=5)
    categories = models.ManyToManyField(
        ProductCategory,
        related_name="programs",
        verbose_name=_("catégories de produits admissibles"),
    )
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="coordinated_programs",
        blank=True,
        verbose_name=_("coordination"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(season_end__gte=models.F("season_start")),
                name="program_season_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(distribution_count__gte=1),
                name="program_at_least_one_distribution",
            ),
            models.CheckConstraint(
                condition=models.Q(sale_enabled=False)
                | models.Q(sale_price__gt=0, sale_value__gt=models.F("sale_price")),
                name="program_sale_below_value",
            ),
            models.CheckConstraint(
                condition=(models.Q(local_currency="") & models.Q(local_rate__isnull=True))
                | (~models.Q(local_currency="") & models.Q(local_rate__gt=0)),
                name="program_local_currency_has_a_rate",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def gives_official_receipts(self) -> bool:
        """Donation receipts are official tax receipts: the fund holder is a registered charity
        and the program gave everything such a receipt must carry (programmes.services checks
        that they come together)."""
        return bool(
            self.charity_number
            and self.fund_holder
            and self.fund_holder_address.strip()
            and self.receipt_signatory.strip()
        )

    def distribution_dates(self) -> list[datetime.date]:
        """The first day of each distribution of the season."""
        return distribution_dates(
            self.season_start, self.distribution_frequency, self.distribution_count
        )

    def validity_of(self, distribution: int) -> tuple[datetime.date, datetime.date]:
        """(first, last) valid day of the coupons of distribution `distribution` (from 1)."""
        dates = self.distribution_dates()
        valid_from = min(dates[min(max(distribution, 1), len(dates)) - 1], self.season_end)
        valid_until = self.season_end
        if self.coupon_validity_days:
            valid_until = min(
                valid_until, valid_from + datetime.timedelta(days=self.coupon_validity_days - 1)
            )
        return valid_from, valid_until


class ProgramLogo(models.Model):
    """The logo printed on a program's coupons, as PNG (re-encoded by programmes.logos).

    Kept in the database, so that a backup of the database is a backup of the program, and in
    its own table, so that reading a program never loads the image."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="logo")
    png = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("logo de programme")
        verbose_name_plural = _("logos de programme")

    def __str__(self) -> str:
        return str(self.program)


class Denomination(models.Model):
    """A coupon value the program prints (coupons give no change, so small values matter)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="denominations")
    value = models.DecimalField(
        _("valeur"), max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )

    class Meta:
        ordering = ["-value"]
        verbose_name = _("valeur de coupon")
        verbose_name_plural = _("valeurs de coupon")
        constraints = [
            models.UniqueConstraint(fields=["program", "value"], name="denomination_unique_value"),
            models.CheckConstraint(condition=models.Q(value__gt=0), name="denomination_positive"),
        ]

    def __str__(self) -> str:
        return str(self.value)


class AllotmentRule(models.Model):
    """Amount per distribution for households of at least `household_size` people."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="allotment_rules")
    household_size = models.PositiveSmallIntegerField(
        _("taille du ménage (à partir de)"), validators=[MinValueValidator(1)]
    )
    amount = models.DecimalField(
        _("montant par distribution"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
    )

    class Meta:
        ordering = ["household_size"]
        verbose_name = _("règle d'allocation")
        verbose_name_plural = _("règles d'allocation")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "household_size"], name="allotment_rule_unique_size"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="allotment_positive"),
            models.CheckConstraint(
                condition=models.Q(household_size__gte=1), name="allotment_size_at_least_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_size}+ : {self.amount}"
