"""Writes of the beneficiaries app: partner organizations and household enrollment."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Max
from django.db.models.functions import Cast, Substr
from django.utils.translation import gettext as _

from beneficiaires.consent import PARTICIPATION_CONSENT_VERSION
from beneficiaires.models import Consent, Household, Organization, Partnership
from comptes.models import User
from programmes.models import Program
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
) -> Household:
    """Enroll a household in `program` through `organization`, with its recorded consent.

    Its reference ("M-0001", "M-0002"… per program) is printed on its coupons instead of its
    name. Two enrollments at the same time cannot take the same reference: the database refuses
    the second one and it retries with the next number.
    """
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
    name = " ".join((name or "").split())
    if not name or len(name) > 160:
        raise EnrollmentError(
            "invalid_name",
            _("Indiquez le nom de la personne répondante (160 caractères au plus)."),
            "name",
        )
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
    if preferred_language not in Household.Language.values:
        raise EnrollmentError(
            "invalid_language", _("Choisissez une langue préférée."), "preferred_language"
        )
    postal_code = normalize_postal_code(postal_code)

    for _attempt in range(ENROLLMENT_ATTEMPTS):
        try:
            with transaction.atomic():
                household = Household.objects.create(
                    program=program,
                    organization=organization,
                    reference=_next_reference(program),
                    name=name,
                    adults=adults,
                    children=children,
                    postal_code=postal_code,
                    preferred_language=preferred_language,
                    enrolled_by=enrolled_by,
                )
                Consent.objects.create(
                    household=household,
                    purpose=Consent.Purpose.PARTICIPATION,
                    text_version=PARTICIPATION_CONSENT_VERSION,
                    given_at=household.enrolled_at,
                    recorded_by=enrolled_by,
                )
        except IntegrityError:
            # Another enrollment took this reference first: try the next one.
            continue
        return household
    raise EnrollmentError(
        "reference_conflict",
        _("Plusieurs inscriptions ont lieu en même temps : réessayez dans un instant."),
    )


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
