"""The public solidarity sale: anyone buys coupons below their value (Portneuf: 30 $ of coupons
for 20 $), so that everyone at the market holds the same coupons and nobody is singled out.

`start_sale` reserves the purchase's subsidy (value − price) and opens its Stripe Checkout
session; the buyer pays on Stripe's page, never on ours. The webhook (financement/webhooks.py)
hands the session's events to the handlers registered here for the kind "sale" (in
CouponsConfig.ready): paid, expired, refunded. Each runs inside the transaction that records
the Stripe event, once per event id.

The rules, in one place:
- Subsidy left = program.sale_subsidy_cap − the subsidy of paid sales − the subsidy of pending
  sales still reserved. A sale stops by itself when a pack no longer fits.
- Funds: the coupons' committed value (outstanding + redeemed, as the budget guard counts it)
  + the reserved subsidies + this purchase's subsidy never exceed the program's funds. The
  payment brings `price` into the ledger and the batch commits `value`: the net is the subsidy.
  Every other issuance's budget guard holds the reserved subsidies too
  (`coupons.services._budget_guard`), so a household's allotment cannot take them.
- A pending sale is reserved until its Checkout session expires, plus SALE_RESERVATION_GRACE: a
  payment made in the session's last minute may be reported by Stripe a little later, and its
  coupons must still fit. The "expired" event frees it at once.
- A refund, in part or in all, cancels the purchase: its unspent coupons are voided and the
  wallet link dies (coupons already redeemed stay redeemed, the vendors were paid for them).
- A payment whose coupons cannot be issued (the funds shrank meanwhile, a grant refunded; the
  season over) is kept: the sale stays paid without a batch, with `issue_error` set, logged as
  an error and flagged on the coordinators' sales page, until they refund or settle it.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tasks import task

from coupons.models import (
    Coupon,
    CouponSale,
    VoidReason,
    sale_holds_subsidy,
    sale_subsidy,
)
from coupons.services import IssuanceError, committed_value, issue_sale_batch, void_coupons
from coupons.wallet import (
    buyer_language,
    create_sale_wallet_link,
    live_sale_wallet_link,
    revoke_sale_wallet_links,
    wallet_token,
)
from financement import stripe_gateway
from financement.models import LedgerEntry
from financement.selectors import program_funds
from financement.services import record_entry
from programmes.allotment import AllotmentError, split_into_denominations
from programmes.models import Program
from programmes.money import ZERO, format_money, quantize, to_cents

logger = logging.getLogger(__name__)

KIND = "sale"
MAX_NAME = 160
MAX_EMAIL = 254
# Stripe's shortest session lifetime: a pending sale holds its subsidy no longer than needed.
CHECKOUT_LIFETIME = datetime.timedelta(minutes=30)
# The namespace of the batches' idempotency keys: one batch per sale, whatever the retries.
BATCH_KEYS = uuid.UUID("6f1d3c5e-2b7a-4c1e-9a55-5a1e50c0a1e5")


class SaleError(Exception):
    """Why a purchase cannot start: `code` is machine-readable, the message is translated."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


# ---------------------------------------------------------------------------------------------
# The offer: what a buyer may purchase now


OPEN = "open"
DISABLED = "disabled"
SEASON_OVER = "season_over"
UNAVAILABLE = "unavailable"
SOLD_OUT = "sold_out"
NO_FUNDS = "insufficient_funds"


@dataclass(frozen=True)
class SaleOffer:
    state: str
    pack_price: Decimal
    pack_value: Decimal
    max_packs: int  # how many packs one purchase may hold now (0 when closed)
    subsidy_left: Decimal
    funds_room: Decimal
    reserved: Decimal  # subsidy held by payments in progress

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def pack_subsidy(self) -> Decimal:
        return self.pack_value - self.pack_price

    def packs_left(self) -> int:
        """Packs the subsidy and the funds still allow, all purchases together."""
        if self.pack_subsidy <= 0:
            return 0
        room = min(self.subsidy_left, self.funds_room)
        return max(int(room // self.pack_subsidy), 0)


def sale_subsidies(program: Program, now: datetime.datetime) -> tuple[Decimal, Decimal]:
    """The subsidy of the program's paid sales, and the subsidy reserved (one query)."""
    totals = CouponSale.objects.filter(program=program).aggregate(
        used=Sum(sale_subsidy(), filter=Q(status=CouponSale.Status.PAID)),
        reserved=Sum(sale_subsidy(), filter=sale_holds_subsidy(now)),
    )
    return quantize(totals["used"] or ZERO), quantize(totals["reserved"] or ZERO)


def sale_offer(program: Program, now: datetime.datetime | None = None) -> SaleOffer:
    """The sale as it stands (four queries when it is on: denominations, sales, coupons, ledger)."""
    now = now or timezone.now()
    price, value = program.sale_price or ZERO, program.sale_value or ZERO

    def offer(state: str, **figures: Any) -> SaleOffer:
        defaults: dict[str, Any] = {
            "max_packs": 0,
            "subsidy_left": ZERO,
            "funds_room": ZERO,
            "reserved": ZERO,
        }
        return SaleOffer(state=state, pack_price=price, pack_value=value, **{**defaults, **figures})

    if not program.sale_enabled or price <= 0 or value <= price:
        return offer(DISABLED)
    if program.season_end < timezone.localdate(now):
        return offer(SEASON_OVER)
    try:
        split_into_denominations(value, [d.value for d in program.denominations.all()])
    except AllotmentError:
        return offer(UNAVAILABLE)
    used, reserved = sale_subsidies(program, now)
    subsidy_left = max(program.sale_subsidy_cap - used - reserved, ZERO)
    funds_room = max(program_funds(program) - committed_value(program=program) - reserved, ZERO)
    figures = {"subsidy_left": subsidy_left, "funds_room": funds_room, "reserved": reserved}
    pack_subsidy = value - price
    if subsidy_left < pack_subsidy:
        return offer(SOLD_OUT, **figures)
    if funds_room < pack_subsidy:
        return offer(NO_FUNDS, **figures)
    packs = min(program.sale_max_packs, int(min(subsidy_left, funds_room) // pack_subsidy))
    return offer(OPEN, max_packs=packs, **figures)


def closed_message(offer: SaleOffer) -> str:
    """Why the sale is closed, for the public page and the refusals."""
    if offer.state == SEASON_OVER:
        return _("La saison du programme est terminée : la vente solidaire est fermée.")
    if offer.state == SOLD_OUT:
        message = _(
            "Tous les carnets de la vente solidaire ont trouvé preneur : la subvention allouée "
            "est entièrement utilisée."
        )
        if offer.reserved > 0:
            message += " " + _(
                "Des paiements sont en cours : un carnet pourrait se libérer d'ici une heure."
            )
        return message
    if offer.state == NO_FUNDS:
        return _(
            "La vente solidaire est suspendue : les fonds du programme ne permettent pas "
            "d'autres carnets pour le moment."
        )
    if offer.state == UNAVAILABLE:
        return _("La vente solidaire est suspendue pour le moment.")
    return _("La vente solidaire de ce programme n'est pas ouverte.")


CLOSED_CODES = {
    DISABLED: "sale_closed",
    UNAVAILABLE: "sale_closed",
    SEASON_OVER: "season_over",
    SOLD_OUT: "sale_sold_out",
    NO_FUNDS: "insufficient_funds",
}


# ---------------------------------------------------------------------------------------------
# Starting a purchase


def _checked_packs(packs: Any, max_packs: int) -> int:
    message = ngettext(
        "Choisissez {max} carnet au plus.", "Choisissez de 1 à {max} carnets.", max_packs
    ).format(max=max_packs)
    if isinstance(packs, bool) or not isinstance(packs, int):
        raise SaleError("invalid_packs", message, "packs")
    if not 1 <= packs <= max_packs:
        raise SaleError("invalid_packs", message, "packs")
    return packs


def _checked_buyer(buyer_name: str, buyer_email: str) -> tuple[str, str]:
    name = " ".join((buyer_name or "").split())
    if not name or len(name) > MAX_NAME:
        raise SaleError(
            "invalid_name",
            _("Indiquez votre nom ({max} caractères au plus).").format(max=MAX_NAME),
            "buyer_name",
        )
    email = (buyer_email or "").strip()
    try:
        if len(email) > MAX_EMAIL:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError as error:
        raise SaleError(
            "invalid_email",
            _("Indiquez une adresse courriel valide : vos coupons y seront envoyés."),
            "buyer_email",
        ) from error
    return name, email


def _refusal(offer: SaleOffer, packs: int) -> SaleError | None:
    """Why `packs` packs cannot be reserved now, or None."""
    if not offer.is_open:
        return SaleError(CLOSED_CODES.get(offer.state, "sale_closed"), closed_message(offer))
    subsidy = offer.pack_subsidy * packs
    left = offer.packs_left()
    if subsidy > offer.subsidy_left:
        return SaleError(
            "sale_sold_out",
            ngettext(
                "Il ne reste qu'un carnet à vendre : choisissez-en {left} au plus.",
                "Il ne reste que {left} carnets à vendre : choisissez-en {left} au plus.",
                left,
            ).format(left=left),
            "packs",
        )
    if subsidy > offer.funds_room:
        return SaleError(
            "insufficient_funds",
            ngettext(
                "Les fonds du programme permettent encore {left} carnet : choisissez-en moins.",
                "Les fonds du programme permettent encore {left} carnets : choisissez-en moins.",
                left,
            ).format(left=left),
            "packs",
        )
    return None


def start_sale(
    *,
    program: Program,
    packs: int,
    buyer_name: str,
    buyer_email: str,
    language: str,
    success_url: str,
    cancel_url: str,
) -> tuple[CouponSale, str]:
    """Reserve a purchase of `packs` packs and open its Checkout session; return the pending
    sale and the URL of Stripe's payment page. Raises SaleError (nothing is recorded for bad
    input, a closed sale or a subsidy that does not fit)."""
    if not stripe_gateway.is_configured():
        raise SaleError("not_configured", _("Le paiement en ligne n'est pas configuré."))
    packs = _checked_packs(packs, program.sale_max_packs)
    name, email = _checked_buyer(buyer_name, buyer_email)
    language = "en" if (language or "").lower().startswith("en") else "fr"
    now = timezone.now()
    with transaction.atomic():
        # The program's row is locked: buyers (and issuances) of this program queue here, so
        # two purchases cannot both read the same subsidy left and both take it.
        locked = Program.objects.select_for_update().get(pk=program.pk)
        packs = _checked_packs(packs, locked.sale_max_packs)
        offer = sale_offer(locked, now)
        refusal = _refusal(offer, packs)
        if refusal is not None:
            raise refusal
        # Committed before Stripe is called: no lock is held during a network call, and the
        # session's metadata names a row that exists.
        sale = CouponSale.objects.create(
            program=locked,
            buyer_name=name,
            buyer_email=email,
            language=language,
            packs=packs,
            price=quantize(offer.pack_price * packs),
            value=quantize(offer.pack_value * packs),
            created_at=now,
            expires_at=now + CHECKOUT_LIFETIME,
        )
    with translation.override(language):
        product_name = ngettext(
            "{packs} carnet de coupons ({value} en coupons) · {program}",
            "{packs} carnets de coupons ({value} en coupons) · {program}",
            packs,
        ).format(
            packs=packs,
            value=format_money(sale.value, program.currency, language),
            program=program.name,
        )
    try:
        # Stripe's failure frees the reservation at once (the sale is marked expired).
        url = stripe_gateway.open_checkout(
            sale,
            kind=KIND,
            amount=sale.price,
            currency=program.currency,
            product_name=product_name,
            success_url=success_url,
            cancel_url=cancel_url,
            customer_email=email,
            locale=language,
            expires_at=sale.expires_at,
        )
    except stripe_gateway.CheckoutUnavailable as error:
        raise SaleError("payment_unavailable", stripe_gateway.unavailable_message()) from error
    return sale, url


# ---------------------------------------------------------------------------------------------
# What Stripe's events do (registered in CouponsConfig.ready)


def _locked_sale(session: Mapping[str, Any]) -> CouponSale | None:
    """The sale a Checkout session was opened for, locked until the transaction ends."""
    return stripe_gateway.lock_purchase(CouponSale.objects.select_related("program"), session)


def batch_key(sale: CouponSale) -> uuid.UUID:
    """The idempotency key of the sale's batch: the same for every delivery of its payment."""
    return uuid.uuid5(BATCH_KEYS, f"{sale.pk}:{sale.created_at.isoformat()}")


def sale_paid(session: Mapping[str, Any]) -> bool:
    """The Checkout session is paid: the price goes into the ledger, then the coupons are
    issued (budget guard included) with the buyer's wallet link."""
    sale = _locked_sale(session)
    if sale is None:
        return False
    # Paid already (another event of the same payment): nothing more. An expired sale is
    # still taken: the money was received.
    if sale.status not in {CouponSale.Status.PENDING, CouponSale.Status.EXPIRED}:
        return False
    amount_total = session.get("amount_total")
    if isinstance(amount_total, int) and amount_total != to_cents(sale.price):
        logger.error(
            "Sale %s: Stripe received %s cents, the sale is %s", sale.pk, amount_total, sale.price
        )
    payment_intent = stripe_gateway.stripe_id(session.get("payment_intent"))
    sale.status = CouponSale.Status.PAID
    sale.paid_at = timezone.now()
    sale.payment_intent_id = payment_intent or None
    sale.checkout_session_id = (
        stripe_gateway.stripe_id(session.get("id")) or sale.checkout_session_id
    )
    # Paid before its batch is issued: the budget guard then no longer holds its reservation
    # beside the coupons it is issuing (the row is locked until the transaction ends).
    sale.save(update_fields=["status", "paid_at", "payment_intent_id", "checkout_session_id"])
    program = sale.program
    # The price first: the budget guard of the batch sees it, so only the subsidy is drawn.
    record_entry(
        program=program,
        kind=LedgerEntry.Kind.SALE,
        amount=sale.price,
        source=f"sale:{sale.pk}",
        stripe_reference=payment_intent or sale.checkout_session_id or "",
        memo=ngettext(
            "Vente solidaire n° {number} : {packs} carnet",
            "Vente solidaire n° {number} : {packs} carnets",
            sale.packs,
        ).format(number=sale.pk, packs=sale.packs),
    )
    try:
        batch = issue_sale_batch(
            program=program,
            packs=sale.packs,
            pack_value=quantize(sale.value / sale.packs),
            issued_by=None,
            idempotency_key=batch_key(sale),
            note=_("Vente solidaire n° {number}").format(number=sale.pk),
        )
    except IssuanceError as error:
        # The money is received and stays recorded: the coordinators settle it (sales page).
        logger.error("Sale %s is paid but its coupons were not issued: %s", sale.pk, error.code)
        sale.issue_error = error.message[:200]
    else:
        sale.batch = batch
        sale.issue_error = ""
        create_sale_wallet_link(batch=batch)
    sale.save(update_fields=["batch", "issue_error"])
    origin = stripe_gateway.site_origin(session.get("success_url"))
    sale_id = sale.pk
    transaction.on_commit(lambda: _queue_buyer_email(sale_id, origin))
    return True


def sale_expired(session: Mapping[str, Any]) -> bool:
    """The Checkout session expired unpaid: the sale is abandoned and its subsidy freed."""
    sale = _locked_sale(session)
    if sale is None or sale.status != CouponSale.Status.PENDING:
        return False
    sale.status = CouponSale.Status.EXPIRED
    sale.save(update_fields=["status"])
    return True


def sale_refunded(payment_intent: str, refunded_in_all: Decimal) -> bool:
    """Stripe refunded `refunded_in_all` of the payment so far: the part not recorded yet
    becomes one negative ledger row, and the purchase is cancelled (unspent coupons voided,
    wallet link revoked). False when the payment is not known yet (the webhook defers it)."""
    sale = stripe_gateway.lock_paid_purchase(
        CouponSale.objects.select_related("program", "batch"), payment_intent
    )
    if sale is None:
        return False
    delta = stripe_gateway.unrecorded_refund(
        refunded_in_all, paid=sale.price, recorded=sale.refunded_amount
    )
    if not delta:
        return True
    record_entry(
        program=sale.program,
        kind=LedgerEntry.Kind.REFUND,
        amount=-delta,
        source=f"sale:{sale.pk}",
        stripe_reference=payment_intent,
        memo=_("Remboursement de la vente solidaire n° {number}").format(number=sale.pk),
    )
    if sale.batch is not None:
        unspent = Coupon.objects.filter(batch=sale.batch, status=Coupon.Status.ISSUED)
        void_coupons(
            coupons=unspent,
            reason=VoidReason.OTHER,
            note=_("Vente solidaire n° {number} remboursée").format(number=sale.pk),
            voided_by=None,
        )
        revoke_sale_wallet_links(batch=sale.batch, revoked_by=None)
    sale.refunded_amount += delta
    sale.status = CouponSale.Status.REFUNDED
    sale.save(update_fields=["refunded_amount", "status"])
    return True


def register_sale_payments() -> None:
    stripe_gateway.register_payment_kind(
        KIND, stripe_gateway.Handlers(paid=sale_paid, expired=sale_expired, refunded=sale_refunded)
    )


# ---------------------------------------------------------------------------------------------
# Reads: the thank-you page, the coordinators' list


def sale_for_checkout(*, program: Program, session_id: str) -> CouponSale | None:
    """The sale of the thank-you page, found by the session id Stripe put in its URL."""
    if not session_id or len(session_id) > 255:
        return None
    return (
        CouponSale.objects.select_related("batch")
        .filter(program=program, checkout_session_id=session_id)
        .first()
    )


def buyer_wallet_paths(sale: CouponSale) -> tuple[str, str]:
    """The paths of the buyer's wallet and of its PDF, or ("", "") without a live link."""
    if sale.batch is None:
        return "", ""
    link = live_sale_wallet_link(sale.batch)
    if link is None:
        return "", ""
    token = wallet_token(link)
    return (
        reverse("coupons:wallet", kwargs={"token": token}),
        reverse("coupons:sale_pdf", kwargs={"token": token}),
    )


def program_sales(program: Program) -> QuerySet[CouponSale]:
    """The program's sales for its coordinators, newest first (no buyer's personal data is
    read: the list shows numbers, amounts and states only)."""
    return (
        CouponSale.objects.filter(program=program)
        .defer("buyer_name", "buyer_email")
        .order_by("-created_at", "-pk")
    )


def sales_to_settle(program: Program) -> QuerySet[CouponSale]:
    """Paid sales whose coupons could not be issued: the money is held for the buyer."""
    return program_sales(program).filter(status=CouponSale.Status.PAID, batch__isnull=True)


# ---------------------------------------------------------------------------------------------
# The buyer's e-mail (a background task)


def _queue_buyer_email(sale_id: int, origin: str) -> None:
    try:
        send_buyer_email_task.enqueue(sale_id, origin)
    except Exception:  # the payment is recorded; the buyer still has the thank-you page
        logger.exception("e-mail of sale %s could not be queued", sale_id)


def send_buyer_email(*, sale_id: int, origin: str = "") -> bool:
    """E-mail the buyer their wallet link and PDF (or, when the coupons could not be issued,
    that the team will settle the payment), in their language; False if not paid."""
    sale = (
        CouponSale.objects.select_related("program", "batch")
        .filter(pk=sale_id, status=CouponSale.Status.PAID)
        .first()
    )
    if sale is None or not sale.buyer_email:
        return False
    program = sale.program
    wallet, pdf = buyer_wallet_paths(sale)
    with buyer_language(sale.language) as language:
        subject = _("Vos coupons du programme {program}").format(program=program.name)
        lines = [
            _("Bonjour {name},").format(name=sale.buyer_name),
            "",
            _("Nous avons bien reçu votre paiement de {price} pour {value} en coupons.").format(
                price=format_money(sale.price, program.currency, language),
                value=format_money(sale.value, program.currency, language),
            ),
            "",
        ]
        if wallet:
            lines += [
                _("Vos coupons sur votre téléphone : {link}").format(link=origin + wallet),
                _("Vos coupons à imprimer (PDF) : {link}").format(link=origin + pdf),
                "",
                _("Gardez ce lien pour vous : il donne accès à vos coupons."),
            ]
        else:
            lines.append(
                _(
                    "Vos coupons n'ont pas pu être émis pour le moment. Votre paiement est bien "
                    "reçu : l'équipe du programme communiquera avec vous pour vous remettre vos "
                    "coupons ou vous rembourser."
                )
            )
        lines += ["", _("Merci de soutenir l'accès à des aliments locaux pour tous et toutes.")]
    send_mail(subject[:200], "\n".join(lines), None, [sale.buyer_email])
    return True


@task()
def send_buyer_email_task(sale_id: int, origin: str) -> bool:
    """Send a paid sale's e-mail (queued by sale_paid, after the commit)."""
    return send_buyer_email(sale_id=sale_id, origin=origin)
