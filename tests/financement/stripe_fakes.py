"""Stripe without the network, shared by the payment tests (donations, the coupon sale).

- `FakeStripe`: an HTTP client for the official library (stripe.HTTPClient) that records every
  request it receives and answers the few calls the code makes (Checkout sessions).
- `fake_stripe`: a fixture that sets the test keys and installs a fresh FakeStripe in
  financement.stripe_gateway. Import it into a test module to use it.
- `signed_event` / `post_event`: a webhook event, signed with the test secret exactly as
  Stripe signs it (stripe.WebhookSignature.generate_signature_header), posted to the webhook.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

SECRET_KEY = "sk_test_fake_key_for_tests"
WEBHOOK_SECRET = "whsec_test_fake_secret_for_tests"
WEBHOOK_PATH = "/stripe/webhook"

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{next(_ids):06d}"


@dataclass
class SentRequest:
    """One request the library sent: `params` is its form body, flattened as Stripe encodes
    it ("metadata[kind]" → "sale")."""

    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class FakeStripe(stripe.HTTPClient):
    """Answers POST /v1/checkout/sessions with an open session built from the request; any
    other call is a 404 unless `routes` has an answer for "METHOD /path". `fail_with` makes
    the next calls fail with that HTTP status (the library raises a StripeError)."""

    requests: list[SentRequest] = field(default_factory=list)
    routes: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    fail_with: int | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    name = "fake"

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        if not body and "?" in url:
            body = urlsplit(url).query
        sent = SentRequest(method.lower(), url, dict(headers or {}), dict(parse_qsl(body)))
        self.requests.append(sent)
        answer_headers = {"request-id": new_id("req")}
        if self.fail_with is not None:
            error = {"error": {"type": "api_error", "message": "Stripe is unavailable (fake)."}}
            return json.dumps(error), self.fail_with, answer_headers
        key = f"{sent.method.upper()} {sent.path}"
        if key in self.routes:
            status, payload = self.routes[key]
            return json.dumps(payload), status, answer_headers
        if key == "POST /v1/checkout/sessions":
            session = checkout_session(sent.params)
            self.sessions[session["id"]] = session
            return json.dumps(session), 200, answer_headers
        error = {"error": {"type": "invalid_request_error", "message": f"No fake for {key}"}}
        return json.dumps(error), 404, answer_headers

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0  # the library retries a failed call (same idempotency key), without waiting

    def sent(self, path: str) -> list[SentRequest]:
        return [request for request in self.requests if request.path == path]


def checkout_session(params: Mapping[str, str]) -> dict[str, Any]:
    """The open session Stripe would answer for these creation parameters."""
    session_id = new_id("cs")
    quantity = int(params.get("line_items[0][quantity]", "1"))
    unit = int(params.get("line_items[0][price_data][unit_amount]", "0"))
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in params.items()
        if key.startswith("metadata[")
    }
    return {
        "id": session_id,
        "object": "checkout.session",
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "mode": params.get("mode", "payment"),
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": quantity * unit,
        "currency": params.get("line_items[0][price_data][currency]", "cad"),
        "customer_email": params.get("customer_email"),
        "success_url": params.get("success_url"),
        "cancel_url": params.get("cancel_url"),
        "expires_at": int(params.get("expires_at", "0")),
        "metadata": metadata,
        "payment_intent": None,
    }


def completed(session: Mapping[str, Any], *, payment_intent: str | None = None) -> dict[str, Any]:
    """`session` as checkout.session.completed carries it once the buyer has paid."""
    return {
        **session,
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": payment_intent or new_id("pi"),
    }


@pytest.fixture
def fake_stripe(settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    """Online payment configured with test keys, every call answered by a FakeStripe."""
    from financement import stripe_gateway

    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_WEBHOOK_TOLERANCE = 300
    fake = FakeStripe()
    monkeypatch.setattr(stripe_gateway, "http_client", fake)
    return fake


def signed_event(
    event_type: str, obj: Mapping[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    """A webhook event as Stripe sends it (API objects as plain JSON)."""
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": stripe.api_version,
        "data": {"object": dict(obj)},
    }


def signature_header(
    payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    return stripe.WebhookSignature.generate_signature_header(  # type: ignore[attr-defined]
        payload=payload, secret=secret, timestamp=stamp
    )


def post_event(
    client: Any,
    event: Mapping[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    path: str = WEBHOOK_PATH,
) -> Any:
    """POST `event` to the webhook with a valid signature (or one made with `secret`)."""
    payload = json.dumps(event)
    return client.post(
        path,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature_header(payload, secret=secret, timestamp=timestamp),
    )


def refunded_charge(
    session: Mapping[str, Any], *, amount_refunded: int, charge_id: str | None = None
) -> dict[str, Any]:
    """The charge of a paid `session` as charge.refunded carries it: `amount_refunded` is the
    total refunded so far, in cents; the metadata is the one the gateway put in
    payment_intent_data (Stripe copies it to the charge)."""
    amount = int(session.get("amount_total") or 0)
    return {
        "id": charge_id or new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "currency": session.get("currency", "cad"),
        "paid": True,
        "refunded": amount_refunded >= amount,
        "payment_intent": session["payment_intent"],
        "metadata": dict(session.get("metadata") or {}),
    }
