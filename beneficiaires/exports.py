"""The access export of one household (right of access and portability): everything kept about
it, as JSON and as a CSV a spreadsheet opens.

Sections: "household" (every stored field of the household, keyed by the model field's name,
except the keyed hashes that only serve to find duplicates), "consents", "access_log" (the
audit rows: who did what with which fields, never values), then the sections that higher apps
register at start-up with `register_export_section` (the coupons app adds "coupons"), since
this app may not import them.

This module builds the export; it writes nothing. The view that serves it records the access.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from beneficiaires.models import AuditEntry, Consent, Household

ExportRow = dict[str, Any]
ExportProvider = Callable[[Household], list[ExportRow]]

# Keyed hashes (HMAC) used to find a name or a possible duplicate: they describe nobody on their
# own and exporting them would only help someone test guesses against them.
INTERNAL_FIELDS = frozenset({"name_hash", "duplicate_key"})
BUILT_IN_SECTIONS = ("household", "consents", "access_log")
CSV_COLUMNS = ("section", "field", "value")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_sections: dict[str, ExportProvider] = {}


def register_export_section(key: str, provider: ExportProvider) -> None:
    """Add a section to every household export: `provider(household)` returns its rows.

    Called from a higher app's `AppConfig.ready()`; registering the same key again replaces it.
    """
    if key in BUILT_IN_SECTIONS:
        raise ValueError(f"The export section {key!r} is built in.")
    _sections[key] = provider


def registered_sections() -> dict[str, ExportProvider]:
    return dict(_sections)


def exported_fields() -> list[models.Field[Any, Any]]:
    """The household's fields in the export: every stored field but the keyed hashes."""
    return [
        field
        for field in Household._meta.concrete_fields
        if field.name not in INTERNAL_FIELDS and isinstance(field, models.Field)
    ]


def exported_field_names() -> list[str]:
    return [field.name for field in exported_fields()]


def json_value(value: Any) -> Any:
    """A value as JSON holds it: dates in ISO 8601 (local time), money as text, users by email."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(item) for item in value]
    email = getattr(value, "email", None)
    if isinstance(email, str):
        return email
    return str(value)


def _email(user: Any) -> str | None:
    return user.email if user is not None else None


def household_section(household: Household) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for field in exported_fields():
        if field.is_relation:
            # program, organization: their name; enrolled_by: the email of who enrolled it.
            value = getattr(household, field.name)
        else:
            value = field.value_from_object(household)
        section[field.name] = json_value(value)
    return section


def consents_section(household: Household) -> list[ExportRow]:
    consents = Consent.objects.filter(household=household).select_related(
        "recorded_by", "withdrawn_by"
    )
    return [
        {
            "purpose": consent.purpose,
            "text_version": consent.text_version,
            "given_at": json_value(consent.given_at),
            "recorded_by": _email(consent.recorded_by),
            "withdrawn_at": json_value(consent.withdrawn_at),
            "withdrawn_by": _email(consent.withdrawn_by),
        }
        for consent in consents.order_by("given_at", "pk")
    ]


def access_log_section(household: Household) -> list[ExportRow]:
    entries = AuditEntry.objects.filter(household=household).select_related("user")
    return [
        {
            "action": entry.action,
            "fields": list(entry.fields or []),
            "detail": entry.detail,
            "user": _email(entry.user),
            "at": json_value(entry.at),
        }
        for entry in entries.order_by("at", "pk")
    ]


def household_export(household: Household) -> dict[str, Any]:
    """Everything kept about the household, JSON-ready (see the module's docstring)."""
    export: dict[str, Any] = {
        "household": household_section(household),
        "consents": consents_section(household),
        "access_log": access_log_section(household),
    }
    for key, provider in _sections.items():
        export[key] = [
            {str(name): json_value(value) for name, value in row.items()}
            for row in provider(household)
        ]
    return export


def _cell(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = ", ".join(_cell(item) for item in value)
    elif isinstance(value, dict):
        text = "; ".join(f"{key}: {_cell(item)}" for key, item in value.items())
    else:
        text = str(value)
    if text.startswith(_FORMULA_STARTS):
        # Shown as text, never run: a name such as "=HYPERLINK(...)" stays a name.
        text = "'" + text
    return text


def export_rows(export: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The export as (section, field, value) rows; a list section numbers its items
    ("1.purpose", "1.given_at", "2.purpose", …)."""
    rows: list[tuple[str, str, str]] = []
    for section, content in export.items():
        if isinstance(content, Mapping):
            rows.extend((section, str(name), _cell(value)) for name, value in content.items())
        else:
            for number, item in enumerate(content, start=1):
                rows.extend(
                    (section, f"{number}.{name}", _cell(value)) for name, value in item.items()
                )
    return rows


def household_export_csv(household: Household) -> str:
    """The export as one CSV (columns section, field, value), UTF-8 with a byte order mark
    so that Excel reads the accents right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(export_rows(household_export(household)))
    return "\ufeff" + buffer.getvalue()
