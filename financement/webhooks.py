"""POST /stripe/webhook: Stripe's events, verified, applied once each, in any order.

- Verified by the official library (signature and timestamp tolerance): anything that fails is
  a 400 and writes nothing.
- Applied once: the event's row (StripeEvent, unique event_id) is written first, in the same
  transaction as its effects. A repeated or concurrent delivery of the same event fails on that
  unique index, and its transaction (which wrote nothing else) rolls back: "already received".
- Any order: a refund that arrives before its payment is recorded is kept "deferred", then
  applied right after the payment, in the order the refunds were received.
- Quick: no e-mail and no PDF here (the receipt e-mail is a background task), a handful of
  queries per event.

The events of each kind of payment go to the handlers its app registered in
financement.stripe_gateway ("donation" here, "sale" in the coupons app).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from financement import stripe_gateway
from financement.models import StripeEvent
from programmes.money import from_cents

logger = logging.getLogger(__name__)

PAID_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
EXPIRED_EVENT = "checkout.session.expired"
REFUND_EVENT = "charge.refunded"
DUPLICATE = "already received"


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if not stripe_gateway.is_configured():
        return _text("Stripe is not configured.", status=503)
    try:
        payload = request.body.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            payload,
            request.headers.get("Stripe-Signature"),
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
        # The JSON exactly as Stripe signed it: the library's objects turn some fields into
        # Decimal, which the event's JSON row could not store.
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        return _text("Invalid signature.", status=400)
    except ValueError:  # not UTF-8, not JSON
        return _text("Invalid payload.", status=400)
    if not _is_event(event):
        return _text("Invalid payload.", status=400)
    try:
        return _text(process_event(event))
    except DatabaseError:
        # Nothing of this event was kept (its transaction rolled back): Stripe delivers it again.
        logger.exception("Stripe event %s could not be applied", event["id"])
        return _text("Temporarily unavailable, retry later.", status=503)


def _is_event(event: Any) -> bool:
    """An event has an id, a type and an object; anything else is not one."""
    if not isinstance(event, dict):
        return False
    data = event.get("data")
    return (
        isinstance(event.get("id"), str)
        and bool(event["id"])
        and isinstance(event.get("type"), str)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    )


def process_event(event: Mapping[str, Any]) -> str:
    """Record and apply one verified event; returns its outcome ("applied", "ignored",
    "deferred", or "already received" for an event id seen before)."""
    obj: Mapping[str, Any] = event["data"]["object"]
    recorded = False
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                event_id=event["id"][:255],
                type=event["type"][:80],
                status=StripeEvent.Status.IGNORED,
                payload=dict(event),
            )
            recorded = True
            _serialize_payment(_payment_intent_of(obj))
            status = _apply(event["type"], obj)
            if status != StripeEvent.Status.IGNORED:
                row.status = status
                row.applied_at = timezone.now() if status == StripeEvent.Status.APPLIED else None
                row.save(update_fields=["status", "applied_at"])
    except IntegrityError:
        if recorded:
            raise  # an effect failed, not the event's row: Stripe will deliver it again
        return DUPLICATE
    return str(status)


def _payment_intent_of(obj: Mapping[str, Any]) -> str:
    value = obj.get("payment_intent")
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _serialize_payment(payment_intent: str) -> None:
    """Events of one payment wait for each other (PostgreSQL; SQLite already runs one writer).

    Without it, a refund could look for its payment while the payment's transaction is not yet
    committed, and be deferred after that transaction had looked for deferred refunds: the
    refund would wait forever."""
    if not payment_intent or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [payment_intent])


def _kind_name(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    kind = metadata.get("kind") if isinstance(metadata, Mapping) else None
    return kind if isinstance(kind, str) and kind else None


def _kind(obj: Mapping[str, Any]) -> stripe_gateway.Handlers | None:
    kind = _kind_name(obj)
    return stripe_gateway.handlers_for(kind) if kind else None


def _apply(event_type: str, obj: Mapping[str, Any]) -> str:
    if event_type in PAID_EVENTS:
        handlers = _kind(obj)
        if handlers is None or obj.get("payment_status") != "paid":
            return StripeEvent.Status.IGNORED
        if not handlers.paid(obj):
            return StripeEvent.Status.IGNORED
        _apply_deferred(_payment_intent_of(obj))
        return StripeEvent.Status.APPLIED
    if event_type == EXPIRED_EVENT:
        handlers = _kind(obj)
        if handlers is None or not handlers.expired(obj):
            return StripeEvent.Status.IGNORED
        return StripeEvent.Status.APPLIED
    if event_type == REFUND_EVENT:
        return _apply_refund(obj)
    return StripeEvent.Status.IGNORED


def _apply_refund(charge: Mapping[str, Any]) -> str:
    payment_intent = _payment_intent_of(charge)
    refunded = charge.get("amount_refunded")
    if not payment_intent or not isinstance(refunded, int) or refunded < 0:
        return StripeEvent.Status.IGNORED
    # The gateway puts {kind, id} in payment_intent_data.metadata; Stripe copies it to the
    # charge. Should a charge come without it, every kind is asked whether the payment is its own.
    kind = _kind_name(charge)
    if kind is None:
        candidates = [
            stripe_gateway.handlers_for(name) for name in stripe_gateway.registered_kinds()
        ]
    else:
        candidates = [stripe_gateway.handlers_for(kind)]
        if candidates[0] is None:  # another application's payment on the same account
            return StripeEvent.Status.IGNORED
    for handlers in candidates:
        if handlers is not None and handlers.refunded(payment_intent, from_cents(refunded)):
            return StripeEvent.Status.APPLIED
    # Not known yet: applied once its payment is recorded (_apply_deferred).
    return StripeEvent.Status.DEFERRED


def _apply_deferred(payment_intent: str) -> None:
    """Apply the refunds that came before this payment, in the order they were received."""
    if not payment_intent:
        return
    waiting = (
        StripeEvent.objects.select_for_update()
        .filter(
            status=StripeEvent.Status.DEFERRED,
            type=REFUND_EVENT,
            payload__data__object__payment_intent=payment_intent,
        )
        .order_by("received_at", "pk")
    )
    for row in waiting:
        status = _apply_refund(row.payload["data"]["object"])
        if status != StripeEvent.Status.DEFERRED:
            row.status = status
            row.applied_at = timezone.now() if status == StripeEvent.Status.APPLIED else None
            row.save(update_fields=["status", "applied_at"])
