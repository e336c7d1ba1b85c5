"""Writes of a program's enrollment rules, made by its coordinator: the privacy policy (notes,
retention), the eligibility criteria and each partner organization's quota.

Keyword-only typed functions raising `services.EnrollmentError(code, message, field)`; the
checks of a household against these rules live in `services` (check_enrollment, room_for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from beneficiaires.models import EligibilityCriterion, EnrollmentPolicy, Partnership
from beneficiaires.services import MAX_ADULTS, MAX_CHILDREN, EnrollmentError
from programmes.models import Program
from programmes.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, format_money, quantize

MAX_RETENTION_DAYS = 3650
MAX_HOUSEHOLD_SIZE = MAX_ADULTS + MAX_CHILDREN
MAX_HOUSEHOLD_QUOTA = 1_000_000
MAX_QUESTION = 240
MAX_POSTAL_PREFIXES = 500
KEY_MAX_LENGTH = 40
KEY_ATTEMPTS = 5
# The largest amount the money columns hold (13 digits, 2 of them after the point).
MAX_MONEY = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - Decimal("0.01")
# A forward sortation area (the first three characters of a Canadian postal code), with the
# letters Canada Post uses in those positions.
_FSA_RE = re.compile(r"^[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z]$")

Kind = EligibilityCriterion.Kind
_KIND_KEYS = {
    Kind.TERRITORY: "territoire",
    Kind.REFERRED: "refere",
    Kind.INCOME: "revenu",
    Kind.HOUSEHOLD_SIZE: "taille",
    Kind.QUESTION: "question",
}


def set_enrollment_policy(
    *, program: Program, notes_allowed: bool, retention_days: int
) -> EnrollmentPolicy:
    """Set what the program lets intervenants write and how long it keeps personal data."""
    if (
        isinstance(retention_days, bool)
        or not isinstance(retention_days, int)
        or not 0 <= retention_days <= MAX_RETENTION_DAYS
    ):
        raise EnrollmentError(
            "invalid_retention_days",
            _("La durée de conservation compte de 0 à {max} jours après la saison.").format(
                max=MAX_RETENTION_DAYS
            ),
            "retention_days",
        )
    policy, _created = EnrollmentPolicy.objects.update_or_create(
        program=program,
        defaults={"notes_allowed": bool(notes_allowed), "retention_days": retention_days},
    )
    return policy


@dataclass(frozen=True)
class _CriterionValues:
    question_fr: str
    question_en: str
    postal_prefixes: str
    income_threshold: Decimal | None
    min_size: int | None
    max_size: int | None


def add_criterion(
    *,
    program: Program,
    kind: str,
    question_fr: str = "",
    question_en: str = "",
    postal_prefixes: str = "",
    income_threshold: Decimal | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
) -> EligibilityCriterion:
    """Add a condition of enrollment to the program, with a unique `key` (its import column).

    Only the fields the kind uses are kept: prefixes (territory), a threshold (income), bounds
    (household size), a question (required for `question`, optional for referred and income).
    """
    if kind not in Kind.values:
        raise EnrollmentError("invalid_kind", _("Choisissez un type de critère."), "kind")
    values = _clean_criterion(
        kind,
        question_fr=question_fr,
        question_en=question_en,
        postal_prefixes=postal_prefixes,
        income_threshold=income_threshold,
        min_size=min_size,
        max_size=max_size,
    )
    for attempt in range(KEY_ATTEMPTS):
        key = _free_key(program, _base_key(kind, values.question_fr))
        position = (
            EligibilityCriterion.objects.filter(program=program).aggregate(top=Max("position"))[
                "top"
            ]
            or 0
        ) + 1
        try:
            with transaction.atomic():
                return EligibilityCriterion.objects.create(
                    program=program,
                    kind=kind,
                    key=key,
                    position=position,
                    question_fr=values.question_fr,
                    question_en=values.question_en,
                    postal_prefixes=values.postal_prefixes,
                    income_threshold=values.income_threshold,
                    min_size=values.min_size,
                    max_size=values.max_size,
                )
        except IntegrityError:
            # Another request took this key first: take the next free one.
            if attempt == KEY_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def update_criterion(
    *,
    criterion: EligibilityCriterion,
    question_fr: str = "",
    question_en: str = "",
    postal_prefixes: str = "",
    income_threshold: Decimal | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
) -> EligibilityCriterion:
    """Change a criterion's settings. Its kind and key stay: the households' recorded answers
    and the import files name it by its key."""
    values = _clean_criterion(
        criterion.kind,
        question_fr=question_fr,
        question_en=question_en,
        postal_prefixes=postal_prefixes,
        income_threshold=income_threshold,
        min_size=min_size,
        max_size=max_size,
    )
    fields = list(_CriterionValues.__dataclass_fields__)
    for name in fields:
        setattr(criterion, name, getattr(values, name))
    criterion.save(update_fields=fields)
    return criterion


def delete_criterion(*, criterion: EligibilityCriterion) -> None:
    """Remove a criterion for the enrollments to come; the households keep their answers."""
    criterion.delete()


def set_partner_quota(
    *,
    partnership: Partnership,
    household_quota: int | None,
    value_quota: Decimal | None,
) -> Partnership:
    """Set an organization's share of a program: active households and/or dollars at most
    (None: no limit). A lower quota withdraws nobody: the next enrollments wait."""
    if household_quota is not None and (
        isinstance(household_quota, bool)
        or not isinstance(household_quota, int)
        or not 0 <= household_quota <= MAX_HOUSEHOLD_QUOTA
    ):
        raise EnrollmentError(
            "invalid_household_quota",
            _("Le quota de ménages est un nombre entier de 0 à {max}, ou vide.").format(
                max=MAX_HOUSEHOLD_QUOTA
            ),
            "household_quota",
        )
    if value_quota is not None:
        if not isinstance(value_quota, Decimal) or not value_quota.is_finite():
            raise EnrollmentError("invalid_value_quota", _("Saisissez un montant."), "value_quota")
        value_quota = quantize(value_quota)
        if not Decimal("0.00") <= value_quota <= MAX_MONEY:
            raise EnrollmentError(
                "invalid_value_quota",
                _("Le quota en dollars est un montant de 0 à {max}, ou vide.").format(
                    max=format_money(MAX_MONEY)
                ),
                "value_quota",
            )
    partnership.household_quota = household_quota
    partnership.value_quota = value_quota
    partnership.save(update_fields=["household_quota", "value_quota"])
    return partnership


def parse_postal_prefixes(raw: str) -> list[str]:
    """ "g0a, G3N g0a" → ["G0A", "G3N"]; raises EnrollmentError naming the first bad one."""
    prefixes: list[str] = []
    for token in re.split(r"[,;\s\u00a0]+", (raw or "").upper()):
        if not token:
            continue
        if not _FSA_RE.match(token):
            raise EnrollmentError(
                "invalid_postal_prefixes",
                _(
                    "« {value} » n'est pas un début de code postal valide : indiquez les trois "
                    "premiers caractères, par exemple G0A."
                ).format(value=token[:10]),
                "postal_prefixes",
            )
        if token not in prefixes:
            prefixes.append(token)
    return prefixes


def _clean_criterion(
    kind: str,
    *,
    question_fr: str,
    question_en: str,
    postal_prefixes: str,
    income_threshold: Decimal | None,
    min_size: int | None,
    max_size: int | None,
) -> _CriterionValues:
    question_fr = _clean_question(question_fr, "question_fr")
    question_en = _clean_question(question_en, "question_en")
    if kind == Kind.TERRITORY:
        prefixes = parse_postal_prefixes(postal_prefixes)
        if not prefixes:
            raise EnrollmentError(
                "postal_prefixes_required",
                _("Indiquez au moins un début de code postal admissible, par exemple G0A."),
                "postal_prefixes",
            )
        joined = ", ".join(prefixes)
        if len(joined) > MAX_POSTAL_PREFIXES:
            raise EnrollmentError(
                "invalid_postal_prefixes",
                _("Trop de débuts de codes postaux : {max} caractères au plus.").format(
                    max=MAX_POSTAL_PREFIXES
                ),
                "postal_prefixes",
            )
        return _CriterionValues("", "", joined, None, None, None)
    if kind == Kind.HOUSEHOLD_SIZE:
        low, high = _size(min_size, "min_size"), _size(max_size, "max_size")
        if low is None and high is None:
            raise EnrollmentError(
                "household_size_required",
                _("Indiquez une taille minimale, une taille maximale ou les deux."),
                "min_size",
            )
        if low is not None and high is not None and low > high:
            raise EnrollmentError(
                "invalid_household_size",
                _("La taille minimale dépasse la taille maximale."),
                "max_size",
            )
        return _CriterionValues("", "", "", None, low, high)
    if kind == Kind.INCOME:
        if income_threshold is None:
            raise EnrollmentError(
                "income_threshold_required",
                _("Indiquez le seuil de revenu annuel."),
                "income_threshold",
            )
        threshold = (
            quantize(income_threshold)
            if isinstance(income_threshold, Decimal) and income_threshold.is_finite()
            else None
        )
        if threshold is None or not Decimal("0.00") < threshold <= MAX_MONEY:
            raise EnrollmentError(
                "invalid_income_threshold",
                _("Le seuil de revenu est un montant plus grand que 0 $."),
                "income_threshold",
            )
        return _CriterionValues(question_fr, question_en, "", threshold, None, None)
    if kind == Kind.QUESTION and not question_fr:
        raise EnrollmentError(
            "question_required", _("Écrivez la question en français."), "question_fr"
        )
    return _CriterionValues(question_fr, question_en, "", None, None, None)


def _clean_question(raw: str, field_name: str) -> str:
    question = " ".join((raw or "").split())
    if len(question) > MAX_QUESTION:
        raise EnrollmentError(
            "invalid_question",
            _("La question compte {max} caractères au plus.").format(max=MAX_QUESTION),
            field_name,
        )
    return question


def _size(value: int | None, field_name: str) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_HOUSEHOLD_SIZE
    ):
        raise EnrollmentError(
            "invalid_household_size",
            _("Une taille de ménage compte de 1 à {max} personnes.").format(max=MAX_HOUSEHOLD_SIZE),
            field_name,
        )
    return value


def _base_key(kind: str, question_fr: str) -> str:
    base = _KIND_KEYS[Kind(kind)]
    if kind == Kind.QUESTION:
        slug = slugify(question_fr)
        if slug:
            base = f"{base}-{slug}"
    return base[:KEY_MAX_LENGTH].strip("-") or _KIND_KEYS[Kind(kind)]


def _free_key(program: Program, base: str) -> str:
    """`base`, or `base-2`, `base-3`… the first one the program does not use yet."""
    # A suffixed key may cut the end of a long base: look for the keys sharing its start.
    start = base[: KEY_MAX_LENGTH - 8]
    taken = set(
        EligibilityCriterion.objects.filter(program=program, key__startswith=start).values_list(
            "key", flat=True
        )
    )
    key, number = base, 2
    while key in taken:
        suffix = f"-{number}"
        key = base[: KEY_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        number += 1
    return key
