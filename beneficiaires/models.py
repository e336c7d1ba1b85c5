"""Partner organizations, households and their consents."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from programmes.models import Program


class Organization(models.Model):
    """A community organization that enrolls households and hands out coupons."""

    name = models.CharField(_("nom"), max_length=160)
    slug = models.SlugField(_("identifiant"), unique=True, max_length=60)
    programs: models.ManyToManyField[Program, Partnership] = models.ManyToManyField(
        Program,
        through="Partnership",
        related_name="organizations",
        verbose_name=_("programmes"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="organizations",
        blank=True,
        verbose_name=_("intervenant·es"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisme partenaire")
        verbose_name_plural = _("organismes partenaires")

    def __str__(self) -> str:
        return self.name


class Partnership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    program = models.ForeignKey(Program, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partenariat")
        verbose_name_plural = _("partenariats")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "program"], name="partnership_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} – {self.program}"


class Household(models.Model):
    """A household enrolled in one program by one organization: the minimum data only."""

    class Language(models.TextChoices):
        FRENCH = "fr", _("Français")
        ENGLISH = "en", _("Anglais")
        OTHER = "other", _("Autre")

    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="households", verbose_name=_("programme")
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("organisme"),
    )
    reference = models.CharField(
        _("référence"),
        max_length=20,
        help_text=_("Imprimée sur les coupons à la place du nom."),
    )
    name = models.CharField(_("nom de la personne répondante"), max_length=160)
    adults = models.PositiveSmallIntegerField(
        _("adultes"), default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    children = models.PositiveSmallIntegerField(
        _("enfants"), default=0, validators=[MaxValueValidator(20)]
    )
    postal_code = models.CharField(_("code postal"), max_length=7)
    preferred_language = models.CharField(
        _("langue préférée"), max_length=8, choices=Language.choices, default=Language.FRENCH
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    enrolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-enrolled_at"]
        verbose_name = _("ménage")
        verbose_name_plural = _("ménages")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "reference"], name="household_unique_reference"
            ),
            models.CheckConstraint(
                condition=models.Q(adults__gte=1), name="household_at_least_one_adult"
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def size(self) -> int:
        return self.adults + self.children


class Consent(models.Model):
    """Consent to one purpose, with the version of the text that was shown."""

    class Purpose(models.TextChoices):
        PARTICIPATION = "participation", _("Participation au programme")
        CONTACT = "contact", _("Être contacté·e")
        SURVEY = "survey", _("Sondage d'évaluation")

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("finalité"), max_length=20, choices=Purpose.choices)
    text_version = models.CharField(_("version du texte"), max_length=20)
    given_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-given_at"]
        verbose_name = _("consentement")
        verbose_name_plural = _("consentements")

    def __str__(self) -> str:
        return f"{self.household} – {self.get_purpose_display()}"
