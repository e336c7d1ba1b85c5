"""Schemathesis against /api/v1/openapi.json: no request from outside gives a server error, and
every answer is one the schema documents (status code, content type, headers, body).

The app is called through WSGI in the test's thread (no server), so its requests see the test's
database transaction. Each operation is fuzzed with valid and with schema-breaking input, and
each generated request is sent with the operation's own kind of token (a device token or a
funder token), with the other kind, and with none.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from coupons.models import Coupon
from coupons.selectors import qr_text_for
from financement.access import create_funder_token
from tests.factories import CouponFactory, ProgramFactory

pytestmark = [pytest.mark.django_db, pytest.mark.api]

OPENAPI = "/api/v1/openapi.json"
PREFIX = "/api/v1"
# Per operation and per generation mode; with the three credentials, about 150 requests.
MAX_EXAMPLES = 25
CREDENTIALS = ("own", "other", "none")

# The project's Schemathesis settings, whatever schemathesis.toml a developer may have around.
# A schema-valid code can still be no coupon: POST /redemptions and GET /coupons/{code} answer
# it with a documented 422 (invalid_code, bad_signature, unknown_code: docs/api.md), which is
# the contract, not a rejection of valid data.
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
        }
    }
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per operation of the API as it is: a new operation is fuzzed without asking."""
    if "operation" in metafunc.fixturenames:
        from config.urls import api

        paths = api.get_openapi_schema()["paths"]
        operations = [(method.upper(), path) for path, item in paths.items() for method in item]
        ids = [f"{method} {path.removeprefix(PREFIX)}" for method, path in operations]
        metafunc.parametrize("operation", operations, ids=ids)


@pytest.fixture
def api_schema(db: Any, settings: Any) -> Iterator[Any]:
    # The fuzzing is not about the rate limit (test_real_answers_match_the_schema reaches it).
    settings.API_RATE_LIMIT = "off"
    # As Django's test client does: a request's start and end must not close the test's
    # connection, and with it the transaction that the test runs in.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        config = SchemathesisConfig.from_dict(CONFIG)
        yield schemathesis.openapi.from_wsgi(OPENAPI, WSGIHandler(), config=config)
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def tokens(world: Any) -> dict[str, str]:
    _, funder_token = create_funder_token(
        funder=world.a.funder, label="Schemathesis", created_by=None
    )
    return {"device": world.a.token, "funder": funder_token}


def _headers(api_operation: Any, credential: str, tokens: dict[str, str]) -> dict[str, str]:
    own = "funder" if "reports" in (api_operation.tags or []) else "device"
    if credential == "none":
        return {}
    kind = own if credential == "own" else {"device": "funder", "funder": "device"}[own]
    return {"Authorization": f"Bearer {tokens[kind]}"}


def test_no_request_breaks_the_api_or_its_schema(
    api_schema: Any, operation: tuple[str, str], tokens: dict[str, str]
) -> None:
    method, path = operation
    api_operation = api_schema[path][method]
    # Valid requests, and requests that break the schema on purpose (wrong types, missing
    # fields, values out of range): both must get a documented answer, never a 5xx.
    cases = st.one_of(
        api_operation.as_strategy(GenerationMode.POSITIVE),
        api_operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def run(case: Any) -> None:
        for credential in CREDENTIALS:
            case.call_and_validate(headers=_headers(api_operation, credential, tokens))

    run()


def _call(api_schema: Any, method: str, path: str, **case: Any) -> Any:
    """One hand-made request, checked like the fuzzed ones."""
    return api_schema[PREFIX + path][method].Case(**case).call_and_validate()


def test_real_answers_match_the_schema(
    api_schema: Any, world: Any, tokens: dict[str, str], settings: Any
) -> None:
    """Random input rarely reaches the answers that describe a coupon or a report: these do."""
    device = {"Authorization": f"Bearer {tokens['device']}"}
    funder = {"Authorization": f"Bearer {tokens['funder']}"}
    coupon = CouponFactory(program=world.a.program)
    other = CouponFactory(program=world.a.program)
    unused = CouponFactory(program=world.a.program)
    voided = CouponFactory(
        program=world.a.program, status=Coupon.Status.VOID, voided_at=timezone.now()
    )
    foreign = CouponFactory(program=ProgramFactory())

    first = {"code": qr_text_for(coupon), "client_id": str(uuid.uuid4())}
    second = {"code": qr_text_for(coupon), "client_id": str(uuid.uuid4())}
    offline = {**second, "client_id": str(uuid.uuid4()), "offline": True}
    # Accepted, the same scan replayed, a second scan of the same coupon, then offline.
    for body, expected in ((first, 201), (first, 201), (second, 409), (offline, 202)):
        response = _call(api_schema, "POST", "/redemptions", body=body, headers=device)
        assert response.status_code == expected, response.text
    unparsable = _call(
        api_schema, "POST", "/redemptions", body="{", headers=device, media_type="application/json"
    )
    assert (unparsable.status_code, unparsable.json()["reason"]) == (422, "invalid_request")

    items = [
        {"code": qr_text_for(other), "client_id": str(uuid.uuid4())},
        {"code": qr_text_for(foreign), "client_id": str(uuid.uuid4())},
        {"code": qr_text_for(voided), "client_id": str(uuid.uuid4())},
        {"code": "pas un code", "client_id": str(uuid.uuid4())},
        {"code": qr_text_for(unused), "client_id": str(uuid.uuid4()), "category": "inconnue"},
    ]
    response = _call(
        api_schema, "POST", "/redemptions/batch", body={"items": items}, headers=device
    )
    results = response.json()["results"]
    assert [item["client_id"] for item in results] == [item["client_id"] for item in items]
    assert results[0]["status"] == "accepted"

    for code, expected in ((qr_text_for(unused), 200), (qr_text_for(coupon), 409), ("ABC", 422)):
        response = _call(
            api_schema, "GET", "/coupons/{code}", path_parameters={"code": code}, headers=device
        )
        assert response.status_code == expected, response.text

    response = _call(api_schema, "GET", "/revocations", headers=device)
    assert response.json()["codes"] == [voided.code]
    assert _call(api_schema, "GET", "/scanner/config", headers=device).status_code == 200

    for slug, expected in ((world.a.program.slug, 200), (world.b.program.slug, 404)):
        response = _call(
            api_schema,
            "GET",
            "/reports/programs/{slug}",
            path_parameters={"slug": slug},
            headers=funder,
        )
        assert response.status_code == expected, response.text

    # Over the rate limit: the middleware's 429 is documented too.
    settings.API_RATE_LIMIT = "1/60"
    _call(api_schema, "GET", "/health")
    limited = _call(api_schema, "GET", "/health")
    assert limited.status_code == 429
