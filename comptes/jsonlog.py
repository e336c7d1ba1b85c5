"""Structured logs: one JSON object per line (LOG_FORMAT=json), with the request's id.

Standard library only, so that a log shipper (journald, Loki, a cloud agent) can read every
line without a parser of our own. The request id comes from `comptes.headers.RequestIdMiddleware`
through a context variable, so any logger called while a request is served carries it.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Attributes every LogRecord has: anything else was passed with `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "request_id", "taskName"}


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` ("-" outside a request), for the plain format too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = _request_id_of(record) or "-"
        return True


def _request_id_of(record: logging.LogRecord) -> str:
    # Django logs a 4xx/5xx response after the middleware have returned, so the context
    # variable is already reset: the request it attaches to the record carries the id.
    request_id = getattr(getattr(record, "request", None), "request_id", "")
    return request_id if isinstance(request_id, str) and request_id else request_id_var.get()


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC, ISO 8601), level, logger, message, and more."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "") or _request_id_of(record)
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        # django.request and django.server attach the request: its method and path, never its
        # body, cookies or query string (they may hold personal data or a wallet link's token).
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "method"):
            entry["method"] = request.method
            entry["path"] = getattr(request, "path", "")
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRIBUTES or key == "request" or key.startswith("_"):
                continue
            entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
