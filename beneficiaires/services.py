"""Writes of the beneficiaries app: partner organizations, enrollment (eligibility, quotas,
waitlist, duplicates, consent per purpose), the rights of the people enrolled (rectification,
withdrawal, export audit) and anonymization.

Every read or change of a household's personal data by a person writes an AuditEntry through
`record_access` (field names only, never values).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Max
from django.db.models.functions import Cast, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaires.consent import CONSENT_VERSIONS, OPTIONAL_PURPOSES
from beneficiaires.models import (
    AuditEntry,
    Consent,
    EligibilityCriterion,
    EnrollmentPolicy,
    Household,
    Organization,
    Partnership,
)
from beneficiaires.privacy import duplicate_key, name_hash
from comptes.models import User
from financement.selectors import program_funds
from programmes.allotment import amount_for_size
from programmes.models import Program
from programmes.money import ZERO, format_money, quantize
from programmes.slugs import save_with_free_slug

REFERENCE_PREFIX = "M-"
REFERENCE_RE = r"^M-[0-9]+$"
ENROLLMENT_ATTEMPTS = 5
MAX_ADULTS = 20
MAX_CHILDREN = 20
# Canada Post: A1A 1A1. No D F I O Q U anywhere (they read like digits or other letters), and
# no W or Z as the first letter (no postal district starts with them).
_POSTAL_CODE_RE = re.compile(
    r"^[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z][0-9][ABCEGHJ-NPRSTV-Z][0-9]$"
)
RESERVED_ORGANIZATION_SLUGS = frozenset({"nouveau"})


class EnrollmentError(Exception):
    """A beneficiaries change that cannot be made: `code` is machine-readable.

    `field` names the input at fault (the form field of the same name), when there is one.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def normalize_postal_code(raw: str) -> str:
    """ "g0a1a0", " G0A 1A0 " → "G0A 1A0"; raises EnrollmentError("invalid_postal_code")."""
    compact = re.sub(r"[\s\u00a0-]+", "", raw or "").upper()
    if not _POSTAL_CODE_RE.match(compact):
        raise EnrollmentError(
            "invalid_postal_code",
            _("Code postal invalide : il a la forme A1A 1A1, par exemple G0A 1A0."),
            "postal_code",
        )
    return f"{compact[:3]} {compact[3:]}"


MAX_NOTES = 2000
# Never a social insurance number (999 999 999) or a health insurance card number (ABCD 1234 5678).
_SIN_RE = re.compile(r"(?<!\d)\d{3}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)")
_HEALTH_CARD_RE = re.compile(r"\b[A-Za-z]{4}\s?\d{4}\s?\d{4}\b")
CONTACT_FIELDS = ("phone", "email")
PERSONAL_FIELDS = (
    "name",
    "adults",
    "children",
    "postal_code",
    "year_of_birth",
    "preferred_language",
    "phone",
    "email",
    "notes",
)


def normalize_phone(raw: str) -> str:
    """A Canadian or international number, stored as E.164 ("+14185550199"); "" stays ""."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, "CA")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise EnrollmentError(
            "invalid_phone",
            _("Numéro de téléphone invalide, par exemple 418 555-0199."),
            "phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(stored: str | None) -> str:
    """ "+14185550199" → "(418) 555-0199" (national format for North American numbers)."""
    if not stored:
        return ""
    try:
        number = phonenumbers.parse(stored, "CA")
    except phonenumbers.NumberParseException:
        return stored
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def normalize_email(raw: str) -> str:
    email = (raw or "").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    if not email or len(email) > 254:
        raise EnrollmentError(
            "invalid_email", _("Adresse courriel invalide, par exemple nom@exemple.ca."), "email"
        )
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_year_of_birth(raw: int | str | None) -> int | None:
    if raw in (None, ""):
        return None
    this_year = timezone.localdate().year
    try:
        year = int(str(raw).strip())
    except ValueError:
        year = 0
    if not this_year - 120 <= year <= this_year:
        raise EnrollmentError(
            "invalid_year_of_birth",
            _("Année de naissance invalide : entre {first} et {last}.").format(
                first=this_year - 120, last=this_year
            ),
            "year_of_birth",
        )
    return year


def normalize_notes(raw: str, policy: EnrollmentPolicy) -> str:
    notes = (raw or "").strip()
    if not notes:
        return ""
    if not policy.notes_allowed:
        raise EnrollmentError(
            "notes_not_allowed",
            _("Ce programme ne permet pas de notes libres sur les ménages."),
            "notes",
        )
    if len(notes) > MAX_NOTES:
        raise EnrollmentError(
            "invalid_notes",
            _("Les notes comptent {max} caractères au plus.").format(max=MAX_NOTES),
            "notes",
        )
    if _SIN_RE.search(notes) or _HEALTH_CARD_RE.search(notes):
        raise EnrollmentError(
            "forbidden_identifier",
            _(
                "N'écrivez jamais de numéro d'assurance sociale ni de numéro d'assurance maladie "
                "(ni aucune suite de chiffres qui y ressemble) dans les notes."
            ),
            "notes",
        )
    return notes


def policy_for(program: Program) -> EnrollmentPolicy:
    """The program's enrollment policy; the defaults (unsaved) when none was set."""
    policy = EnrollmentPolicy.objects.filter(program=program).first()
    return policy or EnrollmentPolicy(program=program)


@dataclass(frozen=True)
class HouseholdDetails:
    """What a form or an import row says about a household, before any check."""

    name: str
    adults: int
    children: int
    postal_code: str
    preferred_language: str = Household.Language.FRENCH
    phone: str = ""
    email: str = ""
    year_of_birth: int | str | None = None
    notes: str = ""


@dataclass(frozen=True)
class CleanDetails:
    name: str
    adults: int
    children: int
    postal_code: str
    preferred_language: str
    phone: str
    email: str
    year_of_birth: int | None
    notes: str

    @property
    def size(self) -> int:
        return self.adults + self.children


@dataclass(frozen=True)
class EnrollmentCheck:
    """What enrolling would do, computed without writing (the import's dry run shows it)."""

    details: CleanDetails
    answers: dict[str, bool]
    optional_consents: frozenset[str]
    duplicate_key: str
    # "" (none), "organization" (already enrolled by this organization) or "program" (by another).
    duplicate_of: str = ""
    duplicate_reference: str = ""
    waitlist_reason: str = ""
    waitlist_message: str = ""
    warnings: list[str] = field(default_factory=list)


def clean_details(details: HouseholdDetails, *, policy: EnrollmentPolicy) -> CleanDetails:
    """Check and normalize what describes a household; raises EnrollmentError."""
    name = " ".join((details.name or "").split())
    if not name or len(name) > 160:
        raise EnrollmentError(
            "invalid_name",
            _("Indiquez le nom de la personne répondante (160 caractères au plus)."),
            "name",
        )
    adults, children = _count(details.adults, "adults"), _count(details.children, "children")
    if not 1 <= adults <= MAX_ADULTS:
        raise EnrollmentError(
            "invalid_adults",
            _("Un ménage compte de 1 à {max} adultes.").format(max=MAX_ADULTS),
            "adults",
        )
    if not 0 <= children <= MAX_CHILDREN:
        raise EnrollmentError(
            "invalid_children",
            _("Un ménage compte de 0 à {max} enfants.").format(max=MAX_CHILDREN),
            "children",
        )
    if details.preferred_language not in Household.Language.values:
        raise EnrollmentError(
            "invalid_language", _("Choisissez une langue préférée."), "preferred_language"
        )
    return CleanDetails(
        name=name,
        adults=adults,
        children=children,
        postal_code=normalize_postal_code(details.postal_code),
        preferred_language=details.preferred_language,
        phone=normalize_phone(details.phone),
        email=normalize_email(details.email),
        year_of_birth=normalize_year_of_birth(details.year_of_birth),
        notes=normalize_notes(details.notes, policy),
    )


def _count(value: int | str, field_name: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise EnrollmentError(
            f"invalid_{field_name}", _("Indiquez un nombre entier."), field_name
        ) from None


def check_eligibility(
    program: Program, details: CleanDetails, answers: Mapping[str, bool]
) -> dict[str, bool]:
    """The recorded answer to each of the program's criteria; raises EnrollmentError
    ("not_eligible") naming the first criterion the household does not meet."""
    recorded: dict[str, bool] = {}
    for criterion in program.eligibility_criteria.all():
        met = _meets(criterion, details, answers)
        recorded[criterion.key] = met
        if not met:
            raise EnrollmentError(
                "not_eligible", _not_eligible_message(criterion), _criterion_field(criterion)
            )
    return recorded


def criterion_field_name(criterion: EligibilityCriterion) -> str:
    """The form field (and import column) that answers a yes/no criterion."""
    return f"critere_{criterion.key}"


def _criterion_field(criterion: EligibilityCriterion) -> str:
    if criterion.kind == EligibilityCriterion.Kind.TERRITORY:
        return "postal_code"
    if criterion.kind == EligibilityCriterion.Kind.HOUSEHOLD_SIZE:
        return "adults"
    return criterion_field_name(criterion)


def _meets(
    criterion: EligibilityCriterion, details: CleanDetails, answers: Mapping[str, bool]
) -> bool:
    kind = EligibilityCriterion.Kind
    if criterion.kind == kind.TERRITORY:
        compact = details.postal_code.replace(" ", "")
        return any(compact.startswith(prefix.replace(" ", "")) for prefix in criterion.prefixes)
    if criterion.kind == kind.HOUSEHOLD_SIZE:
        low = criterion.min_size or 1
        high = criterion.max_size or MAX_ADULTS + MAX_CHILDREN
        return low <= details.size <= high
    return bool(answers.get(criterion.key, False))


def _not_eligible_message(criterion: EligibilityCriterion) -> str:
    kind = EligibilityCriterion.Kind
    if criterion.kind == kind.TERRITORY:
        return _(
            "Ce programme est réservé aux ménages dont le code postal commence par {prefixes}."
        ).format(prefixes=", ".join(criterion.prefixes))
    if criterion.kind == kind.HOUSEHOLD_SIZE:
        return _("Ce programme est réservé aux ménages de {low} à {high} personnes.").format(
            low=criterion.min_size or 1, high=criterion.max_size or MAX_ADULTS + MAX_CHILDREN
        )
    return _("Ce ménage ne remplit pas ce critère du programme : {question}").format(
        question=criterion.question
    )


# Money a program (or one organization's share of it) has already promised: the coupons that
# hold value plus the allotments of active households not issued yet. The coupons app registers
# the exact figure at start-up; without it, every active household's allotment counts.
_reserved_value_providers: list[Callable[[Program, Organization | None], Decimal]] = []


def register_reserved_value_provider(
    provider: Callable[[Program, Organization | None], Decimal],
) -> None:
    if provider not in _reserved_value_providers:
        _reserved_value_providers.append(provider)


def planned_value(program: Program, household_size: int) -> Decimal:
    """A household's allotment for the season (0 when no rule covers its size)."""
    rules = [(rule.household_size, rule.amount) for rule in program.allotment_rules.all()]
    amount = amount_for_size(rules, household_size) or ZERO
    return quantize(amount * program.distribution_count)


def reserved_value(program: Program, organization: Organization | None = None) -> Decimal:
    if _reserved_value_providers:
        return quantize(
            sum((provider(program, organization) for provider in _reserved_value_providers), ZERO)
        )
    households = Household.objects.filter(program=program, status=Household.Status.ACTIVE)
    if organization is not None:
        households = households.filter(organization=organization)
    return quantize(
        sum((planned_value(program, h.size) for h in households.only("adults", "children")), ZERO)
    )


def room_for(
    *, program: Program, organization: Organization, household_size: int
) -> tuple[str, str]:
    """("", "") when a household of this size fits; else (reason code, message)."""
    partnership = Partnership.objects.filter(organization=organization, program=program).first()
    if partnership is not None and partnership.household_quota is not None:
        active = Household.objects.filter(
            program=program, organization=organization, status=Household.Status.ACTIVE
        ).count()
        if active >= partnership.household_quota:
            return "household_quota", _(
                "Le quota de {quota} ménages de l'organisme est atteint."
            ).format(quota=partnership.household_quota)
    value = planned_value(program, household_size)
    if partnership is not None and partnership.value_quota is not None:
        used = reserved_value(program, organization)
        if used + value > partnership.value_quota:
            return "value_quota", _(
                "Le quota de {quota} de l'organisme est atteint (il reste {left})."
            ).format(
                quota=format_money(partnership.value_quota),
                left=format_money(max(partnership.value_quota - used, ZERO)),
            )
    used = reserved_value(program)
    funds = program_funds(program)
    if used + value > funds:
        return "budget", _(
            "Les fonds du programme sont engagés : il reste {left}, l'allocation de ce ménage "
            "vaut {value}."
        ).format(left=format_money(max(funds - used, ZERO)), value=format_money(value))
    return "", ""


def check_enrollment(
    *,
    organization: Organization,
    program: Program,
    details: HouseholdDetails,
    answers: Mapping[str, bool] | None = None,
    optional_consents: Collection[str] = (),
    consent_given: bool,
) -> EnrollmentCheck:
    """Everything `enroll_household` checks, without writing: raises EnrollmentError for what
    cannot be enrolled, and says whether it would be waitlisted or looks like a duplicate."""
    if not Partnership.objects.filter(organization=organization, program=program).exists():
        raise EnrollmentError(
            "not_partner",
            _("L'organisme {organization} n'est pas partenaire du programme {program}.").format(
                organization=organization.name, program=program.name
            ),
            "program",
        )
    if not consent_given:
        raise EnrollmentError(
            "consent_required",
            _("Le consentement de la personne est obligatoire pour inscrire le ménage."),
            "consent",
        )
    unknown = set(optional_consents) - set(OPTIONAL_PURPOSES)
    if unknown:
        raise EnrollmentError("invalid_consent", _("Finalité de consentement inconnue."))
    clean = clean_details(details, policy=policy_for(program))
    if (clean.phone or clean.email) and Consent.Purpose.CONTACT not in optional_consents:
        raise EnrollmentError(
            "contact_without_consent",
            _(
                "Un téléphone ou un courriel n'est recueilli que si la personne consent à être "
                "contactée."
            ),
            "phone" if clean.phone else "email",
        )
    recorded = check_eligibility(program, clean, answers or {})
    key = duplicate_key(clean.name, clean.year_of_birth, clean.postal_code)
    duplicate_of = duplicate_reference = ""
    if key:
        same = (
            Household.objects.filter(program=program, duplicate_key=key)
            .exclude(status=Household.Status.WITHDRAWN)
            .values_list("organization_id", "reference")
            .order_by("pk")
        )
        for other_organization, other_reference in same:
            if other_organization == organization.pk:
                duplicate_of, duplicate_reference = "organization", other_reference
                break
            duplicate_of = "program"
    reason, message = room_for(
        program=program, organization=organization, household_size=clean.size
    )
    return EnrollmentCheck(
        details=clean,
        answers=recorded,
        optional_consents=frozenset(optional_consents),
        duplicate_key=key,
        duplicate_of=duplicate_of,
        duplicate_reference=duplicate_reference,
        waitlist_reason=reason,
        waitlist_message=message,
    )


def duplicate_message(check: EnrollmentCheck) -> str:
    if check.duplicate_of == "organization":
        return _(
            "Un ménage au même nom, avec la même année de naissance et le même code postal est "
            "déjà inscrit par votre organisme : {reference}."
        ).format(reference=check.duplicate_reference)
    return _(
        "Ce ménage est peut-être déjà inscrit à ce programme par un autre organisme. Vérifiez "
        "avec la personne; si vous l'inscrivez quand même, la coordination vérifiera."
    )


def enroll_household(
    *,
    organization: Organization,
    program: Program,
    name: str,
    adults: int,
    children: int,
    postal_code: str,
    preferred_language: str,
    consent_given: bool,
    enrolled_by: User,
    phone: str = "",
    email: str = "",
    year_of_birth: int | str | None = None,
    notes: str = "",
    answers: Mapping[str, bool] | None = None,
    optional_consents: Collection[str] = (),
    acknowledge_duplicate: bool = False,
) -> Household:
    """Enroll a household in `program` through `organization`, with its recorded consents.

    Its reference ("M-0001", "M-0002"… per program) is printed on its coupons instead of its
    name. When the organization's quota or the program's funds are used up, the household is
    enrolled on the waitlist. A possible duplicate raises EnrollmentError("possible_duplicate")
    unless `acknowledge_duplicate`, in which case the coordinator is asked to check it.
    """
    details = HouseholdDetails(
        name=name,
        adults=adults,
        children=children,
        postal_code=postal_code,
        preferred_language=preferred_language,
        phone=phone,
        email=email,
        year_of_birth=year_of_birth,
        notes=notes,
    )
    check = check_enrollment(
        organization=organization,
        program=program,
        details=details,
        answers=answers,
        optional_consents=optional_consents,
        consent_given=consent_given,
    )
    if check.duplicate_of and not acknowledge_duplicate:
        raise EnrollmentError("possible_duplicate", duplicate_message(check))
    return create_household(
        organization=organization, program=program, check=check, enrolled_by=enrolled_by
    )


def create_household(
    *, organization: Organization, program: Program, check: EnrollmentCheck, enrolled_by: User
) -> Household:
    """Write a household that `check_enrollment` accepted (the quota is checked again under
    the partnership's lock, so that two enrollments cannot both take the last place)."""
    clean = check.details
    for _attempt in range(ENROLLMENT_ATTEMPTS):
        try:
            with transaction.atomic():
                Partnership.objects.select_for_update().filter(
                    organization=organization, program=program
                ).first()
                reason, _message = room_for(
                    program=program, organization=organization, household_size=clean.size
                )
                now = timezone.now()
                household = Household.objects.create(
                    program=program,
                    organization=organization,
                    reference=_next_reference(program),
                    name=clean.name,
                    name_hash=name_hash(clean.name),
                    duplicate_key=check.duplicate_key,
                    adults=clean.adults,
                    children=clean.children,
                    postal_code=clean.postal_code,
                    year_of_birth=clean.year_of_birth,
                    preferred_language=clean.preferred_language,
                    phone=clean.phone,
                    email=clean.email,
                    notes=clean.notes,
                    eligibility=check.answers,
                    status=Household.Status.WAITLISTED if reason else Household.Status.ACTIVE,
                    waitlisted_at=now if reason else None,
                    duplicate_review=(
                        Household.DuplicateReview.PENDING
                        if check.duplicate_of
                        else Household.DuplicateReview.NONE
                    ),
                    enrolled_by=enrolled_by,
                    enrolled_at=now,
                )
                purposes = [Consent.Purpose.PARTICIPATION, *sorted(check.optional_consents)]
                Consent.objects.bulk_create(
                    Consent(
                        household=household,
                        purpose=purpose,
                        text_version=CONSENT_VERSIONS[purpose],
                        given_at=now,
                        recorded_by=enrolled_by,
                    )
                    for purpose in purposes
                )
                record_access(
                    user=enrolled_by,
                    households=[household],
                    action=AuditEntry.Action.CREATE,
                    fields=_filled_fields(clean),
                )
        except IntegrityError:
            # Another enrollment took this reference first: try the next one.
            continue
        return household
    raise EnrollmentError(
        "reference_conflict",
        _("Plusieurs inscriptions ont lieu en même temps : réessayez dans un instant."),
    )


def _filled_fields(clean: CleanDetails) -> list[str]:
    return [name for name in PERSONAL_FIELDS if getattr(clean, name) not in ("", None)]


def record_access(
    *,
    user: User | None,
    households: Iterable[Household],
    action: str,
    fields: Iterable[str],
    detail: str = "",
) -> None:
    """One audit row per household (one query for a whole page): who, which fields, when."""
    names = sorted(set(fields))
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            household=household,
            user=user,
            action=action,
            fields=names,
            detail=detail,
            at=now,
        )
        for household in households
    )


def _not_anonymized(household: Household) -> None:
    if household.anonymized_at is not None:
        raise EnrollmentError(
            "anonymized", _("Ce ménage a été rendu anonyme : ses renseignements n'existent plus.")
        )


def update_household(
    *, household: Household, details: HouseholdDetails, changed_by: User
) -> list[str]:
    """Rectification: write the corrected details; returns the names of the changed fields."""
    _not_anonymized(household)
    clean = clean_details(details, policy=policy_for(household.program))
    has_contact_consent = household.consents.filter(
        purpose=Consent.Purpose.CONTACT, withdrawn_at__isnull=True
    ).exists()
    if (clean.phone or clean.email) and not has_contact_consent:
        raise EnrollmentError(
            "contact_without_consent",
            _(
                "Un téléphone ou un courriel n'est recueilli que si la personne consent à être "
                "contactée."
            ),
            "phone" if clean.phone else "email",
        )
    changed = [
        name
        for name in PERSONAL_FIELDS
        if (getattr(household, name) or "") != (getattr(clean, name) or "")
    ]
    if not changed:
        return []
    with transaction.atomic():
        for name in PERSONAL_FIELDS:
            setattr(household, name, getattr(clean, name))
        household.name_hash = name_hash(clean.name)
        household.duplicate_key = duplicate_key(clean.name, clean.year_of_birth, clean.postal_code)
        household.save()
        record_access(
            user=changed_by, households=[household], action=AuditEntry.Action.CHANGE, fields=changed
        )
    return changed


def give_consent(*, household: Household, purpose: str, recorded_by: User) -> Consent:
    """Record an optional consent (idempotent while it is not withdrawn)."""
    _not_anonymized(household)
    if purpose not in OPTIONAL_PURPOSES:
        raise EnrollmentError("invalid_consent", _("Finalité de consentement inconnue."))
    with transaction.atomic():
        current = household.consents.filter(purpose=purpose, withdrawn_at__isnull=True).first()
        if current is not None:
            return current
        consent = Consent.objects.create(
            household=household,
            purpose=purpose,
            text_version=CONSENT_VERSIONS[purpose],
            recorded_by=recorded_by,
        )
        record_access(
            user=recorded_by,
            households=[household],
            action=AuditEntry.Action.CONSENT,
            fields=[],
            detail=f"given:{purpose}",
        )
    return consent


def withdraw_consent(*, household: Household, purpose: str, withdrawn_by: User) -> None:
    """Withdraw a consent. Without consent to be contacted, the phone and email are erased;
    without consent to take part, the household leaves the program."""
    if purpose not in Consent.Purpose.values:
        raise EnrollmentError("invalid_consent", _("Finalité de consentement inconnue."))
    if purpose == Consent.Purpose.PARTICIPATION:
        withdraw_household(household=household, withdrawn_by=withdrawn_by)
        return
    with transaction.atomic():
        now = timezone.now()
        updated = household.consents.filter(purpose=purpose, withdrawn_at__isnull=True).update(
            withdrawn_at=now, withdrawn_by=withdrawn_by
        )
        erased: list[str] = []
        if purpose == Consent.Purpose.CONTACT:
            erased = [name for name in CONTACT_FIELDS if getattr(household, name)]
            if erased:
                household.phone = household.email = ""
                household.save(update_fields=["phone", "email", "updated_at"])
        if updated or erased:
            record_access(
                user=withdrawn_by,
                households=[household],
                action=AuditEntry.Action.CONSENT,
                fields=erased,
                detail=f"withdrawn:{purpose}",
            )


# What a higher app undoes when a household leaves or is anonymized (coupons: its wallet links),
# registered at start-up so that this layer never imports a higher one.
_household_closed_hooks: list[Callable[[Household, User | None], None]] = []


def register_household_closed_hook(hook: Callable[[Household, User | None], None]) -> None:
    if hook not in _household_closed_hooks:
        _household_closed_hooks.append(hook)


def _household_closed(household: Household, by: User | None) -> None:
    for hook in _household_closed_hooks:
        hook(household, by)


def withdraw_household(*, household: Household, withdrawn_by: User | None) -> Household:
    """The household leaves the program: consent to take part withdrawn, no more coupons.

    Its data stays until the program's retention ends (or a coordinator anonymizes it)."""
    with transaction.atomic():
        household = Household.objects.select_for_update().get(pk=household.pk)
        if household.status == Household.Status.WITHDRAWN:
            return household
        now = timezone.now()
        household.status = Household.Status.WITHDRAWN
        household.withdrawn_at = now
        household.save(update_fields=["status", "withdrawn_at", "updated_at"])
        household.consents.filter(withdrawn_at__isnull=True).update(
            withdrawn_at=now, withdrawn_by=withdrawn_by
        )
        record_access(
            user=withdrawn_by,
            households=[household],
            action=AuditEntry.Action.STATUS,
            fields=[],
            detail="withdrawn",
        )
        _household_closed(household, withdrawn_by)
    return household


def promote_from_waitlist(*, program: Program, promoted_by: User) -> Household:
    """Promote the household that has waited longest, if the quota and the funds allow it."""
    with transaction.atomic():
        head = (
            Household.objects.select_for_update()
            .filter(program=program, status=Household.Status.WAITLISTED)
            .order_by("waitlisted_at", "pk")
            .first()
        )
        if head is None:
            raise EnrollmentError("waitlist_empty", _("La liste d'attente est vide."))
        reason, message = room_for(
            program=program, organization=head.organization, household_size=head.size
        )
        if reason:
            raise EnrollmentError(
                f"no_room_{reason}",
                _(
                    "Le ménage {reference} ne peut pas encore quitter la liste d'attente : {why}"
                ).format(reference=head.reference, why=message),
            )
        head.status = Household.Status.ACTIVE
        head.save(update_fields=["status", "updated_at"])
        record_access(
            user=promoted_by,
            households=[head],
            action=AuditEntry.Action.STATUS,
            fields=[],
            detail="promoted",
        )
    return head


def resolve_duplicate(*, household: Household, resolution: str, resolved_by: User) -> Household:
    """The coordinator's decision on a possible duplicate: distinct households, or a duplicate
    (this enrollment is then withdrawn)."""
    if resolution not in (Household.DuplicateReview.DISTINCT, Household.DuplicateReview.DUPLICATE):
        raise EnrollmentError("invalid_resolution", _("Choisissez une décision."))
    with transaction.atomic():
        household = Household.objects.select_for_update().get(pk=household.pk)
        if household.duplicate_review != Household.DuplicateReview.PENDING:
            raise EnrollmentError("not_pending", _("Ce doublon possible a déjà été vérifié."))
        household.duplicate_review = resolution
        household.save(update_fields=["duplicate_review", "updated_at"])
        record_access(
            user=resolved_by,
            households=[household],
            action=AuditEntry.Action.STATUS,
            fields=[],
            detail=f"duplicate:{resolution}",
        )
    if resolution == Household.DuplicateReview.DUPLICATE:
        household = withdraw_household(household=household, withdrawn_by=resolved_by)
    return household


ANONYMIZED_FIELDS = ("name", "phone", "email", "notes", "year_of_birth", "postal_code")


def anonymize_household(*, household: Household, by: User | None = None) -> bool:
    """Erase what identifies the household; keep its counts (size, dates, status, coupons).

    The postal code keeps its first three characters (the area) for the reports. Returns False
    when it was anonymous already (idempotent).
    """
    with transaction.atomic():
        household = Household.objects.select_for_update().get(pk=household.pk)
        if household.anonymized_at is not None:
            return False
        household.name = household.phone = household.email = household.notes = ""
        household.name_hash = household.duplicate_key = ""
        household.year_of_birth = None
        household.postal_code = household.postal_code[:3]
        household.eligibility = {}
        household.anonymized_at = timezone.now()
        household.save()
        record_access(
            user=by,
            households=[household],
            action=AuditEntry.Action.ANONYMIZE,
            fields=ANONYMIZED_FIELDS,
        )
        _household_closed(household, by)
    return True


def _next_reference(program: Program) -> str:
    highest = (
        Household.objects.filter(program=program, reference__regex=REFERENCE_RE)
        .annotate(number=Cast(Substr("reference", len(REFERENCE_PREFIX) + 1), BigIntegerField()))
        .aggregate(highest=Max("number"))["highest"]
    )
    return f"{REFERENCE_PREFIX}{(highest or 0) + 1:04d}"


def create_partner_organization(*, program: Program, name: str) -> Organization:
    """A new community organization, partnered with `program`."""
    name = " ".join((name or "").split())
    if not name or len(name) > 160:
        raise EnrollmentError(
            "invalid_name",
            _("Indiquez le nom de l'organisme (160 caractères au plus)."),
            "name",
        )
    if Organization.objects.filter(name__iexact=name).exists():
        raise EnrollmentError(
            "duplicate_organization",
            _(
                "L'organisme {name} existe déjà : ajoutez-le comme partenaire au lieu de le créer."
            ).format(name=name),
            "name",
        )
    with transaction.atomic():
        organization = save_with_free_slug(
            Organization,
            name,
            lambda slug: Organization.objects.create(name=name, slug=slug),
            fallback="organisme",
            reserved=RESERVED_ORGANIZATION_SLUGS,
        )
        Partnership.objects.create(organization=organization, program=program)
    return organization


def add_partner(*, program: Program, organization: Organization) -> Partnership:
    """Make `organization` a partner of `program` (idempotent)."""
    partnership, _created = Partnership.objects.get_or_create(
        organization=organization, program=program
    )
    return partnership
