"""Online donations through Stripe's hosted Checkout.

`start_donation` records a pending donation and opens its Checkout session (the donor pays on
Stripe's page, never on ours). The webhook (financement/webhooks.py) then hands the session's
events to the handlers registered here for the kind "donation": paid, expired, refunded. Each
runs inside the transaction that records the Stripe event, once per event id.

The receipt e-mail is a background task queued when the payment is recorded (after the commit),
so that the webhook neither sends mail nor renders a PDF.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from financement import stripe_gateway
from financement.models import Donation, LedgerEntry
from financement.services import record_entry
from programmes.models import Program
from programmes.money import format_money, from_cents, quantize, to_cents
from programmes.text import tidy_lines

logger = logging.getLogger(__name__)

KIND = "donation"
MIN_AMOUNT = Decimal("5.00")
MAX_AMOUNT = Decimal("10000.00")
MAX_NAME = 160
MAX_EMAIL = 254
MAX_DEDICATION = 200
MAX_ADDRESS = 300
# Stripe accepts 30 minutes to 24 hours; an hour is enough to pay and short enough that an
# abandoned donation does not stay pending all day.
CHECKOUT_LIFETIME = datetime.timedelta(hours=1)
RECEIPT_SALT = "financement.donation-receipt"


class DonationError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


# ---------------------------------------------------------------------------------------------
# Starting a donation


def _checked_amount(amount: Decimal | None) -> Decimal:
    message = _("Le don doit être d'au moins {min} et d'au plus {max}.").format(
        min=format_money(MIN_AMOUNT), max=format_money(MAX_AMOUNT)
    )
    try:
        if amount is None or not Decimal(amount).is_finite():
            raise DonationError("invalid_amount", message, "amount")
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError) as error:
        raise DonationError("invalid_amount", message, "amount") from error
    if amount != quantize(amount):
        raise DonationError(
            "invalid_amount", _("Un montant a au plus deux décimales (ex. 25.50)."), "amount"
        )
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise DonationError("invalid_amount", message, "amount")
    return quantize(amount)


def _checked_address(address: str, *, required: bool) -> str:
    """The donor's postal address, one line per line; required for an official receipt."""
    address = tidy_lines(address)
    if required and not address:
        raise DonationError(
            "address_required",
            _("Indiquez votre adresse postale : elle doit figurer sur le reçu officiel."),
            "donor_address",
        )
    if len(address) > MAX_ADDRESS:
        raise DonationError(
            "invalid_address",
            _("L'adresse a au plus {max} caractères.").format(max=MAX_ADDRESS),
            "donor_address",
        )
    return address


def _checked_donor(donor_name: str, donor_email: str, dedication: str) -> tuple[str, str, str]:
    name = " ".join((donor_name or "").split())
    if not name or len(name) > MAX_NAME:
        raise DonationError(
            "invalid_name",
            _("Indiquez votre nom ({max} caractères au plus).").format(max=MAX_NAME),
            "donor_name",
        )
    email = (donor_email or "").strip()
    try:
        if len(email) > MAX_EMAIL:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError as error:
        raise DonationError(
            "invalid_email",
            _("Indiquez une adresse courriel valide : le reçu y sera envoyé."),
            "donor_email",
        ) from error
    dedication = " ".join((dedication or "").split())
    if len(dedication) > MAX_DEDICATION:
        raise DonationError(
            "invalid_dedication",
            _("La dédicace a au plus {max} caractères.").format(max=MAX_DEDICATION),
            "dedication",
        )
    return name, email, dedication


def start_donation(
    *,
    program: Program,
    amount: Decimal | None,
    donor_name: str,
    donor_email: str,
    dedication: str,
    language: str,
    success_url: str,
    cancel_url: str,
    donor_address: str = "",
) -> tuple[Donation, str]:
    """Record a pending donation and open its Checkout session; return it and the URL of
    Stripe's payment page. Raises DonationError (nothing is recorded for bad input)."""
    if not stripe_gateway.is_configured():
        raise DonationError("not_configured", _("Le paiement en ligne n'est pas configuré."))
    amount = _checked_amount(amount)
    name, email, dedication = _checked_donor(donor_name, donor_email, dedication)
    official = program.gives_official_receipts
    # Kept only for an official receipt: an acknowledgement needs no address.
    address = _checked_address(donor_address, required=official) if official else ""
    language = "en" if (language or "").lower().startswith("en") else "fr"

    # Committed before Stripe is called: no transaction is held open during a network call,
    # and the session's metadata names a row that exists.
    donation = Donation.objects.create(
        program=program,
        amount=amount,
        donor_name=name,
        donor_email=email,
        donor_address=address,
        dedication=dedication,
        language=language,
    )
    with translation.override(language):
        product_name = _("Don au programme {program}").format(program=program.name)
    try:
        url = stripe_gateway.open_checkout(
            donation,
            kind=KIND,
            amount=amount,
            currency=program.currency,
            product_name=product_name,
            success_url=success_url,
            cancel_url=cancel_url,
            customer_email=email,
            locale=language,
            expires_at=timezone.now() + CHECKOUT_LIFETIME,
        )
    except stripe_gateway.CheckoutUnavailable as error:
        raise DonationError("payment_unavailable", stripe_gateway.unavailable_message()) from error
    return donation, url


# ---------------------------------------------------------------------------------------------
# What Stripe's events do (registered in FinancementConfig.ready)


def _locked_donation(session: Mapping[str, Any]) -> Donation | None:
    """The donation a Checkout session was opened for, locked until the transaction ends."""
    return stripe_gateway.lock_purchase(Donation.objects.select_related("program"), session)


def _next_receipt_number(program: Program, paid_at: datetime.datetime) -> str:
    """'PORT-2026-0007': the program's prefix, the year, the rank of the donation paid that year.

    The program's row is locked first: two payments of the same program recorded at the same
    time would otherwise count the same receipts and take the same number."""
    list(Program.objects.select_for_update().filter(pk=program.pk).values_list("pk", flat=True))
    year = timezone.localtime(paid_at).year
    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, 1, 1, tzinfo=tz)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=tz)
    # Receipted donations are never deleted (their ledger rows protect them): the count only grows.
    rank = (
        Donation.objects.filter(program=program, paid_at__gte=start, paid_at__lt=end)
        .exclude(receipt_number="")
        .count()
        + 1
    )
    return f"{program.serial_prefix}-{year}-{rank:04d}"


def donation_paid(session: Mapping[str, Any]) -> bool:
    """The Checkout session is paid: the donation is received, numbered, and in the ledger."""
    donation = _locked_donation(session)
    if donation is None:
        return False
    # Paid already (another event of the same payment): nothing more. An expired donation is
    # still taken: the money was received.
    if donation.status not in {Donation.Status.PENDING, Donation.Status.EXPIRED}:
        return False
    fields = [
        "status",
        "paid_at",
        "payment_intent_id",
        "checkout_session_id",
        "receipt_number",
        "receipt_issuer",
    ]
    amount_total = session.get("amount_total")
    if isinstance(amount_total, int) and 0 < amount_total != to_cents(donation.amount):
        # Never expected (the session was opened for this amount): the ledger and the receipt
        # follow the money really received.
        logger.error(
            "Donation %s: Stripe received %s cents, the donation is %s",
            donation.pk,
            amount_total,
            donation.amount,
        )
        donation.amount = from_cents(amount_total)
        fields.append("amount")
    now = timezone.now()
    payment_intent = stripe_gateway.stripe_id(session.get("payment_intent"))
    donation.status = Donation.Status.PAID
    donation.paid_at = now
    donation.payment_intent_id = payment_intent or None
    donation.checkout_session_id = (
        stripe_gateway.stripe_id(session.get("id")) or donation.checkout_session_id
    )
    donation.receipt_number = _next_receipt_number(donation.program, now)
    donation.receipt_issuer = _issuer_now(donation.program, donation.donor_address)
    donation.save(update_fields=fields)
    record_entry(
        program=donation.program,
        kind=LedgerEntry.Kind.DONATION,
        amount=donation.amount,
        source=f"donation:{donation.pk}",
        stripe_reference=payment_intent or donation.checkout_session_id or "",
        memo=_("Don en ligne, reçu {number}").format(number=donation.receipt_number),
        donation_id=donation.pk,
    )
    origin = stripe_gateway.site_origin(session.get("success_url"))
    transaction.on_commit(lambda: _queue_receipt_email(donation.pk, origin))
    return True


def donation_expired(session: Mapping[str, Any]) -> bool:
    """The Checkout session expired unpaid: the donation is abandoned (if still pending)."""
    donation = _locked_donation(session)
    if donation is None or donation.status != Donation.Status.PENDING:
        return False
    donation.status = Donation.Status.EXPIRED
    donation.save(update_fields=["status"])
    return True


def donation_refunded(payment_intent: str, refunded_in_all: Decimal) -> bool:
    """Stripe refunded `refunded_in_all` of the payment so far: the part not recorded yet becomes
    one negative ledger row. False when the payment is not known yet (the webhook defers the
    event and applies it again once the payment is recorded)."""
    donation = stripe_gateway.lock_paid_purchase(
        Donation.objects.select_related("program"), payment_intent
    )
    if donation is None:
        return False
    delta = stripe_gateway.unrecorded_refund(
        refunded_in_all, paid=donation.amount, recorded=donation.refunded_amount
    )
    if not delta:
        return True
    record_entry(
        program=donation.program,
        kind=LedgerEntry.Kind.REFUND,
        amount=-delta,
        source=f"donation:{donation.pk}",
        stripe_reference=payment_intent,
        memo=_("Remboursement du don, reçu {number}").format(number=donation.receipt_number),
        donation_id=donation.pk,
    )
    donation.refunded_amount += delta
    fields = ["refunded_amount"]
    if donation.refunded_amount == donation.amount:
        donation.status = Donation.Status.REFUNDED
        fields.append("status")
    donation.save(update_fields=fields)
    return True


def register_donation_payments() -> None:
    stripe_gateway.register_payment_kind(
        KIND,
        stripe_gateway.Handlers(
            paid=donation_paid, expired=donation_expired, refunded=donation_refunded
        ),
    )


# ---------------------------------------------------------------------------------------------
# Reads: the thank-you page and the receipt


def donation_for_checkout(*, program: Program, session_id: str) -> Donation | None:
    """The donation of the thank-you page, found by the session id Stripe put in its URL."""
    if not session_id or len(session_id) > 255:
        return None
    return Donation.objects.filter(program=program, checkout_session_id=session_id).first()


def issuer_of(donation: Donation) -> dict[str, Any]:
    """Who issues the donation's receipt: as recorded when it was paid, else (a donation not
    paid yet, or paid before the record was kept) as the program says now. An official tax
    receipt needs a program that gives them and the donor's address."""
    if donation.receipt_issuer:
        return dict(donation.receipt_issuer)
    return _issuer_now(donation.program, donation.donor_address)


def _issuer_now(program: Program, donor_address: str) -> dict[str, Any]:
    return {
        "fund_holder": program.fund_holder or program.name,
        "charity_number": program.charity_number.strip(),
        "address": program.fund_holder_address,
        "signatory": program.receipt_signatory,
        "official": program.gives_official_receipts and bool(donor_address),
    }


def receipt_is_official(donation: Donation) -> bool:
    return bool(issuer_of(donation).get("official"))


def receipt_token(donation: Donation) -> str:
    return signing.dumps(donation.pk, salt=RECEIPT_SALT)


def donation_for_receipt(token: str) -> Donation | None:
    """The paid donation a receipt link names (its signature checked before any query)."""
    try:
        pk = signing.loads(token, salt=RECEIPT_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return (
        Donation.objects.select_related("program")
        .filter(pk=pk, status=Donation.Status.PAID)
        .first()
    )


def receipt_path(donation: Donation) -> str:
    return reverse("financement:donation_receipt", kwargs={"token": receipt_token(donation)})


# ---------------------------------------------------------------------------------------------
# The receipt e-mail (a background task)


def _queue_receipt_email(donation_id: int, origin: str) -> None:
    try:
        send_receipt_email_task.enqueue(donation_id, origin)
    except Exception:  # the payment is recorded; the donor still has the thank-you page
        logger.exception("receipt e-mail of donation %s could not be queued", donation_id)


def send_receipt_email(*, donation_id: int, origin: str = "") -> bool:
    """E-mail the donor the link to their receipt, in their language; False if not paid."""
    donation = (
        Donation.objects.select_related("program")
        .filter(pk=donation_id, status=Donation.Status.PAID)
        .first()
    )
    if donation is None:
        return False
    program = donation.program
    with translation.override(donation.language):
        link = origin + receipt_path(donation)
        subject = _("Merci pour votre don au programme {program}").format(program=program.name)
        lines = [
            _("Bonjour {name},").format(name=donation.donor_name),
            "",
            _("Nous avons bien reçu votre don de {amount} au programme {program}.").format(
                amount=format_money(donation.amount, program.currency), program=program.name
            ),
            _("Numéro de reçu : {number}").format(number=donation.receipt_number),
            "",
            _("Votre reçu (PDF) : {link}").format(link=link),
        ]
        if not receipt_is_official(donation):
            lines.append(_("Ce reçu est un accusé de réception, pas un reçu officiel d'impôt."))
        lines += ["", _("Merci de soutenir l'accès à des aliments locaux pour tous et toutes.")]
    send_mail(subject[:200], "\n".join(lines), None, [donation.donor_email])
    return True


@task()
def send_receipt_email_task(donation_id: int, origin: str) -> bool:
    """Send a donation's receipt e-mail (queued by donation_paid, after the commit)."""
    return send_receipt_email(donation_id=donation_id, origin=origin)
