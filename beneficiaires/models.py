"""Partner organizations, households and their consents."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaires.fields import EncryptedCharField, EncryptedTextField
from programmes.models import Program
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


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
    """An organization taking part in a program, with its share of the program."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    program = models.ForeignKey(Program, on_delete=models.CASCADE)
    household_quota = models.PositiveIntegerField(
        _("quota de ménages"),
        null=True,
        blank=True,
        help_text=_("Nombre de ménages actifs au plus; vide : sans limite."),
    )
    value_quota = models.DecimalField(
        _("quota en dollars"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_("Valeur des allocations de ses ménages au plus; vide : sans limite."),
    )
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


class EnrollmentPolicy(models.Model):
    """What a program asks and keeps about the households it serves (one per program)."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="enrollment_policy"
    )
    notes_allowed = models.BooleanField(
        _("notes libres permises"),
        default=False,
        help_text=_(
            "Les intervenant·es peuvent écrire une note sur un ménage. Laissez décoché si le "
            "programme n'en a pas besoin : moins on recueille, moins on expose."
        ),
    )
    retention_days = models.PositiveIntegerField(
        _("conservation après la saison (jours)"),
        default=180,
        validators=[MaxValueValidator(3650)],
        help_text=_(
            "Les renseignements personnels des ménages sont rendus anonymes ce nombre de jours "
            "après la fin de la saison."
        ),
    )

    class Meta:
        verbose_name = _("politique d'inscription")
        verbose_name_plural = _("politiques d'inscription")

    def __str__(self) -> str:
        return str(self.program)


class EligibilityCriterion(models.Model):
    """One condition a household must meet to enroll in a program.

    `territory` and `household_size` are checked from what the form already asks (postal code,
    adults and children); the other kinds are a yes/no question the intervenant answers.
    """

    class Kind(models.TextChoices):
        TERRITORY = "territory", _("Habite le territoire (codes postaux)")
        REFERRED = "referred", _("Référé·e par l'organisme")
        INCOME = "income", _("Revenu sous un seuil")
        HOUSEHOLD_SIZE = "household_size", _("Taille du ménage")
        QUESTION = "question", _("Autre question (oui ou non)")

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="eligibility_criteria"
    )
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    key = models.SlugField(
        _("identifiant"),
        max_length=40,
        help_text=_("Nom de la colonne dans un fichier d'importation."),
    )
    question_fr = models.CharField(_("question (français)"), max_length=240, blank=True)
    question_en = models.CharField(_("question (anglais)"), max_length=240, blank=True)
    postal_prefixes = models.CharField(
        _("débuts de codes postaux admissibles"),
        max_length=500,
        blank=True,
        help_text=_("Séparés par des virgules, par exemple G0A, G3N."),
    )
    income_threshold = models.DecimalField(
        _("seuil de revenu annuel"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    min_size = models.PositiveSmallIntegerField(_("taille minimale"), null=True, blank=True)
    max_size = models.PositiveSmallIntegerField(_("taille maximale"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("critère d'admissibilité")
        verbose_name_plural = _("critères d'admissibilité")
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="criterion_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def question(self) -> str:
        """The question shown to the intervenant, in the page's language."""
        from django.utils.translation import get_language

        from programmes.money import format_money

        english = (get_language() or "fr").startswith("en")
        own = (self.question_en or self.question_fr) if english else self.question_fr
        if own:
            return own
        if self.kind == self.Kind.INCOME and self.income_threshold is not None:
            return str(
                _("Le revenu annuel du ménage est-il inférieur à {threshold} ?").format(
                    threshold=format_money(self.income_threshold)
                )
            )
        if self.kind == self.Kind.REFERRED:
            return str(_("La personne est-elle référée par l'organisme ?"))
        return str(self.get_kind_display())

    @property
    def asks_question(self) -> bool:
        return self.kind in {self.Kind.REFERRED, self.Kind.INCOME, self.Kind.QUESTION}

    @property
    def prefixes(self) -> list[str]:
        return [p.strip().upper() for p in self.postal_prefixes.split(",") if p.strip()]


class Household(models.Model):
    """A household enrolled in one program by one organization: the minimum data only.

    Names, contact details and notes are encrypted at rest; `name_hash` and `duplicate_key` are
    keyed hashes that find a name or a possible duplicate without decrypting anything.
    """

    class Language(models.TextChoices):
        FRENCH = "fr", _("Français")
        ENGLISH = "en", _("Anglais")
        OTHER = "other", _("Autre")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Inscrit")
        WAITLISTED = "waitlisted", _("En liste d'attente")
        WITHDRAWN = "withdrawn", _("Retiré du programme")

    class DuplicateReview(models.TextChoices):
        NONE = "", _("Aucun doute")
        PENDING = "pending", _("Doublon possible, à vérifier")
        DISTINCT = "distinct", _("Vérifié : ménages distincts")
        DUPLICATE = "duplicate", _("Vérifié : doublon")

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
    name = EncryptedCharField(_("nom de la personne répondante"), max_length=160)
    name_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    duplicate_key = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    adults = models.PositiveSmallIntegerField(
        _("adultes"), default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    children = models.PositiveSmallIntegerField(
        _("enfants"), default=0, validators=[MaxValueValidator(20)]
    )
    postal_code = models.CharField(_("code postal"), max_length=7)
    year_of_birth = models.PositiveSmallIntegerField(_("année de naissance"), null=True, blank=True)
    preferred_language = models.CharField(
        _("langue préférée"), max_length=8, choices=Language.choices, default=Language.FRENCH
    )
    phone = EncryptedCharField(_("téléphone"), max_length=20)
    email = EncryptedCharField(_("courriel"), max_length=254)
    notes = EncryptedTextField(_("notes"))
    eligibility = models.JSONField(_("réponses d'admissibilité"), default=dict, blank=True)
    status = models.CharField(
        _("état"), max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    waitlisted_at = models.DateTimeField(_("mis en attente le"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("retiré le"), null=True, blank=True)
    duplicate_review = models.CharField(
        _("vérification de doublon"),
        max_length=10,
        choices=DuplicateReview.choices,
        default=DuplicateReview.NONE,
        blank=True,
    )
    anonymized_at = models.DateTimeField(_("rendu anonyme le"), null=True, blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    enrolled_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

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
        indexes = [
            models.Index(fields=["program", "status", "waitlisted_at"], name="household_waitlist"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def size(self) -> int:
        return self.adults + self.children

    @property
    def is_anonymized(self) -> bool:
        return self.anonymized_at is not None


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
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["-given_at", "-pk"]
        verbose_name = _("consentement")
        verbose_name_plural = _("consentements")

    def __str__(self) -> str:
        return f"{self.household} – {self.get_purpose_display()}"


class AuditEntry(models.Model):
    """Who viewed, changed or exported which fields of which household, and when.

    Append-only: it holds field names, never their values, so the log itself exposes nobody.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("Consultation")
        LIST = "list", _("Consultation dans une liste")
        CREATE = "create", _("Inscription")
        CHANGE = "change", _("Modification")
        EXPORT = "export", _("Exportation")
        CONSENT = "consent", _("Consentement")
        STATUS = "status", _("Changement d'état")
        ANONYMIZE = "anonymize", _("Anonymisation")

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="audit_entries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Vide pour une tâche automatique."),
    )
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    fields = models.JSONField(_("champs"), default=list)
    detail = models.CharField(_("précision"), max_length=80, blank=True)
    at = models.DateTimeField(_("moment"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("entrée du journal d'accès")
        verbose_name_plural = _("journal d'accès")

    def __str__(self) -> str:
        return f"{self.household_id} {self.action} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("The audit log is append-only.")


class ImportRun(models.Model):
    """A CSV or XLSX file of households: checked first (dry run), then applied once."""

    class Status(models.TextChoices):
        CHECKED = "checked", _("Vérifié, pas encore importé")
        APPLIED = "applied", _("Importé")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="import_runs"
    )
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(_("fichier"), max_length=200)
    file_sha256 = models.CharField(max_length=64)
    # The rows as read from the file (JSON), encrypted: they hold names. Emptied once applied.
    rows = EncryptedTextField(_("lignes"))
    row_count = models.PositiveIntegerField(default=0)
    status = models.CharField(
        _("état"), max_length=10, choices=Status.choices, default=Status.CHECKED
    )
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("importation de ménages")
        verbose_name_plural = _("importations de ménages")

    def __str__(self) -> str:
        return self.filename


class PrivacyIncident(models.Model):
    """The register of confidentiality incidents, with the facts the regulation asks for."""

    class Risk(models.TextChoices):
        UNDER_REVIEW = "review", _("En cours d'évaluation")
        SERIOUS = "serious", _("Risque de préjudice sérieux")
        NOT_SERIOUS = "not_serious", _("Pas de risque de préjudice sérieux")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="privacy_incidents")
    description = models.TextField(
        _("renseignements visés"),
        help_text=_("Quels renseignements personnels sont touchés (sans nommer personne)."),
    )
    circumstances = models.TextField(_("circonstances de l'incident"))
    occurred_on = models.DateField(_("date ou début de l'incident"), null=True, blank=True)
    occurred_until = models.DateField(_("fin de la période"), null=True, blank=True)
    discovered_on = models.DateField(_("date où l'incident a été constaté"))
    people_affected = models.PositiveIntegerField(
        _("nombre de personnes concernées"), null=True, blank=True
    )
    risk = models.CharField(
        _("risque de préjudice sérieux"),
        max_length=12,
        choices=Risk.choices,
        default=Risk.UNDER_REVIEW,
    )
    risk_assessment = models.TextField(
        _("évaluation du risque"),
        blank=True,
        help_text=_("Sensibilité des renseignements, usages malveillants possibles, conséquences."),
    )
    commission_notified_on = models.DateField(
        _("avis à la Commission d'accès à l'information le"), null=True, blank=True
    )
    people_notified_on = models.DateField(
        _("avis aux personnes concernées le"), null=True, blank=True
    )
    notices = models.TextField(_("avis transmis"), blank=True)
    measures = models.TextField(_("mesures prises"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-discovered_on", "-pk"]
        verbose_name = _("incident de confidentialité")
        verbose_name_plural = _("registre des incidents de confidentialité")

    def __str__(self) -> str:
        return f"{self.program} {self.discovered_on}"


class SurveyResponse(models.Model):
    """A household's answers to the evaluation survey, at enrollment or at the end of the season.

    The six-item short form of the household food security survey module (USDA, public domain;
    the one Health Canada's module builds on), asked over the last 30 days so that the end of
    a summer season does not overlap its start, and the fruit and vegetable servings a day.
    Only with the household's consent to the survey (`Consent.Purpose.SURVEY`), and shown in
    aggregate only.

    No personal data here: the link to the household only keeps one answer per phase, and the
    household's anonymization removes it (with who recorded it and the time of day), so the
    answers stay counted in the program's figures without pointing at anyone.
    """

    class Phase(models.TextChoices):
        ENROLLMENT = "enrollment", _("À l'inscription")
        END_OF_SEASON = "end_of_season", _("À la fin de la saison")

    class Frequency(models.TextChoices):
        OFTEN = "often", _("Souvent vrai")
        SOMETIMES = "sometimes", _("Parfois vrai")
        NEVER = "never", _("Jamais vrai")
        UNKNOWN = "unknown", _("Ne sait pas ou refuse de répondre")

    class YesNo(models.TextChoices):
        YES = "yes", _("Oui")
        NO = "no", _("Non")
        UNKNOWN = "unknown", _("Ne sait pas ou refuse de répondre")

    class Days(models.TextChoices):
        THREE_OR_MORE = "3_or_more", _("3 jours ou plus")
        ONE_OR_TWO = "1_or_2", _("1 ou 2 jours")
        UNKNOWN = "unknown", _("Ne sait pas ou refuse de répondre")

    class Category(models.TextChoices):
        UNDETERMINED = "", _("Non déterminée (aucune réponse)")
        HIGH_OR_MARGINAL = "high_or_marginal", _("Sécurité alimentaire élevée ou marginale")
        LOW = "low", _("Sécurité alimentaire faible")
        VERY_LOW = "very_low", _("Sécurité alimentaire très faible")

    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
        help_text=_("Vide une fois le ménage rendu anonyme."),
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="survey_responses")
    phase = models.CharField(_("moment"), max_length=16, choices=Phase.choices)
    # HH3, HH4: often or sometimes true is affirmative.
    food_did_not_last = models.CharField(
        _("la nourriture n'a pas duré"), max_length=10, choices=Frequency.choices
    )
    balanced_meals = models.CharField(
        _("pas les moyens de repas équilibrés"), max_length=10, choices=Frequency.choices
    )
    # AD1, AD2, AD3: yes is affirmative.
    cut_or_skipped_meals = models.CharField(
        _("repas diminués ou sautés"), max_length=10, choices=YesNo.choices
    )
    # AD1a, asked only after a yes to AD1: 3 days or more is affirmative.
    cut_or_skipped_days = models.CharField(
        _("nombre de jours"), max_length=10, choices=Days.choices, blank=True
    )
    ate_less = models.CharField(
        _("mangé moins qu'il aurait fallu"), max_length=10, choices=YesNo.choices
    )
    hungry = models.CharField(_("eu faim sans manger"), max_length=10, choices=YesNo.choices)
    raw_score = models.PositiveSmallIntegerField(
        _("score brut (0 à 6)"),
        null=True,
        blank=True,
        help_text=_("Réponses affirmatives; vide sans aucune réponse."),
    )
    category = models.CharField(
        _("sécurité alimentaire"), max_length=16, choices=Category.choices, blank=True
    )
    fruit_vegetable_servings = models.DecimalField(
        _("portions de fruits et légumes par jour"),
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("20"))],
    )
    answered_at = models.DateTimeField(_("répondu le"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Vide une fois le ménage rendu anonyme."),
    )

    class Meta:
        ordering = ["answered_at", "pk"]
        verbose_name = _("réponse au sondage d'évaluation")
        verbose_name_plural = _("réponses au sondage d'évaluation")
        constraints = [
            models.UniqueConstraint(
                fields=["household", "phase"], name="survey_one_response_per_phase"
            ),
            models.CheckConstraint(
                condition=models.Q(raw_score__isnull=True) | models.Q(raw_score__lte=6),
                name="survey_raw_score_0_to_6",
            ),
            models.CheckConstraint(
                condition=models.Q(fruit_vegetable_servings__isnull=True)
                | models.Q(
                    fruit_vegetable_servings__gte=Decimal("0"),
                    fruit_vegetable_servings__lte=Decimal("20"),
                ),
                name="survey_servings_0_to_20",
            ),
        ]
        indexes = [models.Index(fields=["program", "phase"], name="survey_program_phase")]

    def __str__(self) -> str:
        return f"{self.program_id} {self.phase} {self.pk}"
