"""Stripe, through its official library: hosted Checkout sessions and the handlers of webhook
events. Keys come only from the environment (settings.STRIPE_SECRET_KEY and
STRIPE_WEBHOOK_SECRET); without them, online payment says it is not configured.

Each Checkout session carries `metadata = {"kind": …, "id": …}`. The webhook (financement) hands
the events of a kind to the handler its app registered at start-up: "donation" is this app's, a
higher app registers its own ("sale", the coupons app), so that this layer never imports it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import stripe
from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _

from programmes.money import ZERO, quantize, to_cents

logger = logging.getLogger(__name__)

# Tests give the official library a fake HTTP client (a subclass of stripe.HTTPClient), so
# that nothing ever goes to the network.
http_client: stripe.HTTPClient | None = None


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, http_client=http_client, max_network_retries=2
    )


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def create_checkout_session(
    *,
    kind: str,
    object_id: int,
    amount: Decimal,
    currency: str,
    product_name: str,
    success_url: str,
    cancel_url: str,
    customer_email: str,
    locale: str,
    expires_at: datetime.datetime,
    idempotency_key: str,
) -> CheckoutSession:
    """A hosted Checkout session for one payment; raises stripe.StripeError on failure.

    `success_url` may contain `{CHECKOUT_SESSION_ID}`, which Stripe replaces."""
    metadata = {"kind": kind, "id": str(object_id)}
    session = client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": to_cents(amount),
                        "product_data": {"name": product_name},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "customer_email": customer_email,
            "locale": "en" if locale.startswith("en") else "fr-CA",
            "expires_at": int(expires_at.timestamp()),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        },
        options={"idempotency_key": idempotency_key},
    )
    return CheckoutSession(id=session.id, url=session.url or "")


class CheckoutUnavailable(Exception):
    """Stripe did not open the session: the purchase was marked expired, nothing was charged."""


# A purchase's statuses (Donation and CouponSale share them).
PENDING, EXPIRED = "pending", "expired"


def open_checkout(
    purchase: models.Model,
    *,
    kind: str,
    amount: Decimal,
    currency: str,
    product_name: str,
    success_url: str,
    cancel_url: str,
    customer_email: str,
    locale: str,
    expires_at: datetime.datetime,
) -> str:
    """Opens the hosted Checkout session of a pending purchase already committed (a donation,
    a sale: a row with `status`, `created_at` and `checkout_session_id`), records the
    session's id on it and returns the URL of Stripe's payment page.

    When Stripe fails, the purchase is marked expired at once (a sale's reservation is freed)
    and CheckoutUnavailable is raised."""
    rows = type(purchase)._default_manager.filter(pk=purchase.pk)
    created_at: datetime.datetime = getattr(purchase, "created_at")  # noqa: B009
    try:
        session = create_checkout_session(
            kind=kind,
            object_id=purchase.pk,
            amount=amount,
            currency=currency,
            product_name=product_name[:250],
            success_url=success_url,
            cancel_url=cancel_url,
            customer_email=customer_email,
            locale=locale,
            expires_at=expires_at,
            # The pk alone could repeat after a database reset in test mode; its creation time
            # makes the key unique while a retry of the same purchase keeps it.
            idempotency_key=f"{kind}-{purchase.pk}-{int(created_at.timestamp())}",
        )
        if not session.id or not session.url:
            raise stripe.APIError("Checkout session without id or url")
    except stripe.StripeError as error:
        logger.warning("Checkout session for %s %s failed: %s", kind, purchase.pk, error)
        rows.filter(status=PENDING).update(status=EXPIRED)
        raise CheckoutUnavailable from error
    rows.update(checkout_session_id=session.id)
    setattr(purchase, "checkout_session_id", session.id)  # noqa: B010
    return session.url


# What a kind of payment does when Stripe tells us about it. Each handler runs inside the
# transaction that records the event, once per event id, and returns whether it applied.
Handler = Callable[[Mapping[str, Any]], bool]


@dataclass
class Handlers:
    paid: Handler
    expired: Handler
    refunded: Callable[[str, Decimal], bool]  # (payment_intent id, amount refunded in all)


_handlers: dict[str, Handlers] = {}


def register_payment_kind(kind: str, handlers: Handlers) -> None:
    _handlers[kind] = handlers


def handlers_for(kind: str) -> Handlers | None:
    return _handlers.get(kind)


def registered_kinds() -> list[str]:
    return sorted(_handlers)


# ---------------------------------------------------------------------------------------------
# What every kind of payment reads from a Checkout session


def unavailable_message() -> str:
    return _(
        "Le service de paiement ne répond pas pour le moment. Aucun montant n'a été prélevé : "
        "réessayez dans quelques minutes."
    )


def stripe_id(value: Any) -> str:
    """An id that Stripe sends as a string, or inside an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def site_origin(url: Any) -> str:
    """'https://coupons.example.org' from the session's success URL (ours), for the e-mails."""
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def metadata_pk(session: Mapping[str, Any]) -> int | None:
    """The row id create_checkout_session put in the session's metadata: digits only (a
    word, "²" or a 40-digit number is no id of ours)."""
    metadata = session.get("metadata")
    raw = metadata.get("id") if isinstance(metadata, Mapping) else None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    return int(raw)


Purchase = TypeVar("Purchase", bound=models.Model)


def lock_purchase(
    queryset: models.QuerySet[Purchase], session: Mapping[str, Any]
) -> Purchase | None:
    """The purchase (a donation, a sale) a Checkout session was opened for, locked until the
    transaction ends; None when the metadata names none, or names one opened for another
    session."""
    pk = metadata_pk(session)
    if pk is None:
        return None
    found = queryset.select_for_update(of=("self",)).filter(pk=pk).first()
    if found is None:
        return None
    session_id = session.get("id")
    recorded = getattr(found, "checkout_session_id", None)
    if recorded and recorded != session_id:
        logger.warning("Session %s does not belong to %s %s", session_id, found._meta.label, pk)
        return None
    return found


def lock_paid_purchase(queryset: models.QuerySet[Purchase], payment_intent: str) -> Purchase | None:
    """The purchase (a donation, a sale) that `payment_intent` paid, locked until the
    transaction ends; None when no purchase is known to be paid by it (yet)."""
    if not payment_intent:
        return None
    return queryset.select_for_update(of=("self",)).filter(payment_intent_id=payment_intent).first()


def unrecorded_refund(refunded_in_all: Decimal, *, paid: Decimal, recorded: Decimal) -> Decimal:
    """The part of what Stripe says it refunded in all that the ledger does not hold yet: never
    more than was paid, and nothing for an older event that reports less than is recorded."""
    return max(min(quantize(refunded_in_all), paid) - recorded, ZERO)
