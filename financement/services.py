"""Writes of the funding app: funders, contributions and the rows of the funds ledger."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptes.models import User
from financement.models import Contribution, ContributionDocument, Funder, LedgerEntry
from programmes.models import Program
from programmes.money import format_money, quantize

MAX_CONTRIBUTION = Decimal("99999999.99")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
DOCUMENT_TYPES = {"application/pdf", "image/png", "image/jpeg"}
MAX_FUNDER_NAME = 160
MAX_REFERENCE = 80
MAX_RESTRICTIONS = 2000
# Older dates are typing mistakes (and year 1 would not even convert to UTC).
EARLIEST_RECEIVED_ON = datetime.date(2000, 1, 1)


class FundingError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class NewFunder:
    """A funder named while a contribution is recorded: created with it, or not at all."""

    name: str
    kind: str = Funder.Kind.OTHER
    contact_email: str = ""


def _checked_funder(funder: NewFunder) -> NewFunder:
    name = " ".join((funder.name or "").split())
    if not name or len(name) > MAX_FUNDER_NAME:
        raise FundingError(
            "invalid_name",
            _("Indiquez le nom du bailleur de fonds ({max} caractères au plus).").format(
                max=MAX_FUNDER_NAME
            ),
            "name",
        )
    if funder.kind not in Funder.Kind.values:
        raise FundingError("invalid_kind", _("Choisissez le type de bailleur de fonds."), "kind")
    email = (funder.contact_email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            raise FundingError(
                "invalid_email", _("Saisissez une adresse courriel valide."), "contact_email"
            ) from error
    if Funder.objects.filter(name__iexact=name).exists():
        raise _duplicate_funder(name)
    return NewFunder(name=name, kind=funder.kind, contact_email=email)


def _duplicate_funder(name: str) -> FundingError:
    return FundingError(
        "duplicate_funder",
        _("Le bailleur de fonds {name} existe déjà : choisissez-le dans la liste.").format(
            name=name
        ),
        "name",
    )


def create_funder(*, name: str, kind: str, contact_email: str = "") -> Funder:
    funder = _checked_funder(NewFunder(name=name, kind=kind, contact_email=contact_email))
    try:
        # The unique name settles two people creating the same funder at once.
        with transaction.atomic():
            return Funder.objects.create(
                name=funder.name, kind=funder.kind, contact_email=funder.contact_email
            )
    except IntegrityError as error:
        raise _duplicate_funder(funder.name) from error


@dataclass(frozen=True)
class Document:
    filename: str
    content_type: str
    data: bytes


def _check_amount(amount: Decimal | None) -> Decimal:
    if amount is None or not amount.is_finite() or amount <= 0 or amount > MAX_CONTRIBUTION:
        raise FundingError(
            "invalid_amount",
            _("Le montant doit être plus grand que 0 et d'au plus {max}.").format(
                max=format_money(MAX_CONTRIBUTION)
            ),
            "amount",
        )
    if amount != quantize(amount):
        raise FundingError(
            "invalid_amount", _("Un montant a au plus deux décimales (ex. 2500.00)."), "amount"
        )
    return quantize(amount)


def _check_received_on(received_on: datetime.date | None) -> datetime.date:
    if received_on is None or received_on < EARLIEST_RECEIVED_ON:
        raise FundingError(
            "invalid_date",
            _("Indiquez une date de réception à partir du {date}.").format(
                date=EARLIEST_RECEIVED_ON.isoformat()
            ),
            "received_on",
        )
    if received_on > timezone.localdate():
        raise FundingError(
            "received_in_future",
            _("La date de réception ne peut pas être dans l'avenir."),
            "received_on",
        )
    return received_on


def _check_texts(reference: str, restrictions: str) -> tuple[str, str]:
    reference, restrictions = (reference or "").strip(), (restrictions or "").strip()
    if len(reference) > MAX_REFERENCE:
        raise FundingError(
            "invalid_reference",
            _("La référence compte {max} caractères au plus.").format(max=MAX_REFERENCE),
            "reference",
        )
    if len(restrictions) > MAX_RESTRICTIONS:
        raise FundingError(
            "invalid_restrictions",
            _("Les conditions comptent {max} caractères au plus.").format(max=MAX_RESTRICTIONS),
            "restrictions",
        )
    return reference, restrictions


def _check_document(document: Document | None) -> None:
    if document is None:
        return
    if len(document.data) > MAX_DOCUMENT_BYTES:
        raise FundingError("document_too_large", _("Le document pèse au plus 5 Mo."), "document")
    if document.content_type not in DOCUMENT_TYPES:
        raise FundingError(
            "document_type", _("Le document doit être un PDF, un PNG ou un JPEG."), "document"
        )


def _replayed(idempotency_key: uuid.UUID | None, program: Program) -> Contribution | None:
    """The contribution an earlier post of the same form recorded, if any."""
    if idempotency_key is None:
        return None
    existing = Contribution.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.program_id != program.pk:
        raise FundingError(
            "idempotency_key_reused",
            _("Ce formulaire a déjà servi pour un autre programme. Rechargez la page."),
        )
    return existing


def _entry_time(received_on: datetime.date) -> datetime.datetime:
    """When the ledger row is dated: now for money received today, else noon that day."""
    if received_on == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(datetime.datetime.combine(received_on, datetime.time(12)))


def record_contribution(
    *,
    program: Program,
    funder: Funder | NewFunder,
    amount: Decimal,
    received_on: datetime.date,
    recorded_by: User | None,
    reference: str = "",
    restrictions: str = "",
    document: Document | None = None,
    idempotency_key: uuid.UUID | None = None,
) -> Contribution:
    """A grant or gift received: the contribution, its ledger row, its document and, when it is
    named here, its new funder, all together or nothing.

    The same `idempotency_key` (carried by the form) returns the contribution it already
    recorded, so a double post records one.
    """
    existing = _replayed(idempotency_key, program)
    if existing is not None:
        return existing
    amount = _check_amount(amount)
    received_on = _check_received_on(received_on)
    reference, restrictions = _check_texts(reference, restrictions)
    _check_document(document)
    if isinstance(funder, NewFunder):
        try:
            funder = _checked_funder(funder)
        except FundingError as error:
            # A concurrent post of the same form may have just created this funder with its
            # contribution: answer with that row rather than with the duplicate name.
            existing = _replayed(idempotency_key, program)
            if error.code == "duplicate_funder" and existing is not None:
                return existing
            raise
    try:
        with transaction.atomic():
            contribution = _write_contribution(
                program=program,
                funder=funder,
                amount=amount,
                received_on=received_on,
                recorded_by=recorded_by,
                reference=reference,
                restrictions=restrictions,
                document=document,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # A concurrent post of the same form won on the unique key: answer with its row.
        existing = _replayed(idempotency_key, program)
        if existing is not None:
            return existing
        if isinstance(funder, NewFunder):
            # Or someone created a funder of this name at the same moment.
            raise _duplicate_funder(funder.name) from None
        raise
    return contribution


def _write_contribution(
    *,
    program: Program,
    funder: Funder | NewFunder,
    amount: Decimal,
    received_on: datetime.date,
    recorded_by: User | None,
    reference: str,
    restrictions: str,
    document: Document | None,
    idempotency_key: uuid.UUID | None,
) -> Contribution:
    if isinstance(funder, NewFunder):
        funder = Funder.objects.create(
            name=funder.name, kind=funder.kind, contact_email=funder.contact_email
        )
    contribution = Contribution.objects.create(
        program=program,
        funder=funder,
        amount=amount,
        received_on=received_on,
        reference=reference,
        restrictions=restrictions,
        recorded_by=recorded_by,
        idempotency_key=idempotency_key,
    )
    LedgerEntry.objects.create(
        program=program,
        kind=LedgerEntry.Kind.CONTRIBUTION,
        amount=amount,
        contribution=contribution,
        at=_entry_time(received_on),
        recorded_by=recorded_by,
        memo=funder.name[:200],
    )
    if document is not None:
        ContributionDocument.objects.create(
            contribution=contribution,
            filename=document.filename[:160],
            content_type=document.content_type,
            data=document.data,
            size=len(document.data),
        )
    return contribution


def record_entry(
    *,
    program: Program,
    kind: str,
    amount: Decimal,
    source: str = "",
    stripe_reference: str = "",
    memo: str = "",
    donation_id: int | None = None,
    recorded_by: User | None = None,
) -> LedgerEntry:
    """A ledger row for money received online or given back (a refund is negative)."""
    return LedgerEntry.objects.create(
        program=program,
        kind=kind,
        amount=quantize(amount),
        source=source,
        stripe_reference=stripe_reference,
        memo=memo[:200],
        donation_id=donation_id,
        recorded_by=recorded_by,
    )
