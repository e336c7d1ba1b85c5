"""Structured logs: with LOG_FORMAT=json every record is one line of JSON with the request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from comptes.jsonlog import JsonFormatter, RequestIdFilter, request_id_var


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger also writes JSON lines into a buffer while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_line_of_json_with_its_fields(json_lines: io.StringIO) -> None:
    token = request_id_var.set("abc123")
    try:
        logging.getLogger("coupons.test").warning(
            "Lot %s imprimé\nen deux lignes", 42, extra={"batch": 42, "program": "portneuf"}
        )
    finally:
        request_id_var.reset(token)

    lines = json_lines.getvalue().splitlines()
    assert len(lines) == 1
    [entry] = records(json_lines)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "coupons.test"
    assert entry["message"] == "Lot 42 imprimé\nen deux lignes"
    assert entry["request_id"] == "abc123"
    assert entry["batch"] == 42 and entry["program"] == "portneuf"
    assert entry["time"].endswith("+00:00")


def test_an_exception_is_kept_in_the_same_line(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("mauvaise valeur")
    except ValueError:
        logging.getLogger("coupons.test").exception("Échec")

    [entry] = records(json_lines)
    assert entry["message"] == "Échec"
    assert "ValueError: mauvaise valeur" in entry["exception"]


@pytest.mark.django_db
def test_a_refused_requests_log_names_the_request_but_not_its_query_string(
    client: Client, json_lines: io.StringIO
) -> None:
    client.get(reverse("accueil") + "inconnue/?token=secret", headers={"X-Request-ID": "req-1"})

    [entry] = [e for e in records(json_lines) if e["logger"] == "django.request"]
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "req-1"
    assert entry["status_code"] == 404
    assert entry["method"] == "GET" and entry["path"] == "/inconnue/"
    assert "secret" not in json.dumps(entry)


def test_outside_a_request_the_plain_format_shows_a_dash() -> None:
    record = logging.LogRecord("coupons", logging.INFO, __file__, 1, "prêt", None, None)

    RequestIdFilter().filter(record)

    assert record.request_id == "-"  # type: ignore[attr-defined]
