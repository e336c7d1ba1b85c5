"""Writes of the funding app: funders, contributions and the rows of the funds ledger."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptes.models import User
from financement.models import Contribution, ContributionDocument, Funder, LedgerEntry
from programmes.models import Program
from programmes.money import format_money, quantize

MAX_CONTRIBUTION = Decimal("99999999.99")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
DOCUMENT_TYPES = {"application/pdf", "image/png", "image/jpeg"}


class FundingError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def create_funder(*, name: str, kind: str, contact_email: str = "") -> Funder:
    name = " ".join((name or "").split())
    if not name or len(name) > 160:
        raise FundingError(
            "invalid_name",
            _("Indiquez le nom du bailleur de fonds (160 caractères au plus)."),
            "name",
        )
    if kind not in Funder.Kind.values:
        raise FundingError("invalid_kind", _("Choisissez le type de bailleur de fonds."), "kind")
    if Funder.objects.filter(name__iexact=name).exists():
        raise FundingError(
            "duplicate_funder",
            _("Le bailleur de fonds {name} existe déjà : choisissez-le dans la liste.").format(
                name=name
            ),
            "name",
        )
    return Funder.objects.create(name=name, kind=kind, contact_email=contact_email.strip())


@dataclass(frozen=True)
class Document:
    filename: str
    content_type: str
    data: bytes


def record_contribution(
    *,
    program: Program,
    funder: Funder,
    amount: Decimal,
    received_on: datetime.date,
    recorded_by: User | None,
    reference: str = "",
    restrictions: str = "",
    document: Document | None = None,
) -> Contribution:
    """A grant or gift received: the contribution and its ledger row, together."""
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
    if received_on > timezone.localdate():
        raise FundingError(
            "received_in_future",
            _("La date de réception ne peut pas être dans l'avenir."),
            "received_on",
        )
    if document is not None:
        if len(document.data) > MAX_DOCUMENT_BYTES:
            raise FundingError(
                "document_too_large", _("Le document pèse au plus 5 Mo."), "document"
            )
        if document.content_type not in DOCUMENT_TYPES:
            raise FundingError(
                "document_type", _("Le document doit être un PDF, un PNG ou un JPEG."), "document"
            )
    with transaction.atomic():
        contribution = Contribution.objects.create(
            program=program,
            funder=funder,
            amount=quantize(amount),
            received_on=received_on,
            reference=reference.strip()[:80],
            restrictions=restrictions.strip(),
            recorded_by=recorded_by,
        )
        LedgerEntry.objects.create(
            program=program,
            kind=LedgerEntry.Kind.CONTRIBUTION,
            amount=contribution.amount,
            contribution=contribution,
            at=timezone.make_aware(datetime.datetime.combine(received_on, datetime.time(12)))
            if received_on != timezone.localdate()
            else timezone.now(),
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
