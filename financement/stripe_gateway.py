"""Stripe, through its official library: hosted Checkout sessions and the handlers of webhook
events. Keys come only from the environment (settings.STRIPE_SECRET_KEY and
STRIPE_WEBHOOK_SECRET); without them, online payment says it is not configured.

Each Checkout session carries `metadata = {"kind": …, "id": …}`. The webhook (financement) hands
the events of a kind to the handler its app registered at start-up: "donation" is this app's, a
higher app registers its own ("sale", the coupons app), so that this layer never imports it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from programmes.money import to_cents

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
