"""The inventory of personal data (docs/privacy/inventory.toml) tells the truth about the models.

Every field of the apps that hold people is listed, personal or not; in the other apps, every
field whose name looks personal and every link to an account or a household is listed; nothing
listed is gone; what the inventory says is encrypted is encrypted; and every personal field of
a household is in the access export. A failure says what to add to the inventory.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from beneficiaires.fields import EncryptedCharField, EncryptedTextField

INVENTORY = Path(settings.BASE_DIR) / "docs" / "privacy" / "inventory.toml"
# Apps whose models hold people: every field is classified.
PEOPLE_APPS = ("comptes", "beneficiaires")
REQUIRED_WHEN_PERSONAL = ("purpose", "legal_basis", "retention", "sensitivity", "encrypted")
# May be given once for the model ([models."app.Model"]) instead of on each field.
MODEL_DEFAULTS = ("legal_basis", "retention", "subject")
SENSITIVITIES = ("élevée", "moyenne", "faible")
# A field name that suggests personal data (in the other apps).
PERSONAL_NAME = re.compile(
    r"name|nom|mail|courriel|phone|t[eé]l[eé]phone|postal|address|adresse|birth|naissance"
    r"|note|user|(^|_)ip(_|$)|_by$",
    re.IGNORECASE,
)


@cache
def inventory() -> dict[str, Any]:
    with INVENTORY.open("rb") as file:
        return tomllib.load(file)


def inventoried_models() -> dict[str, Any]:
    return dict(inventory().get("models", {}))


def entry(label: str, name: str) -> dict[str, Any] | None:
    return inventoried_models().get(label, {}).get("fields", {}).get(name)


def resolved(label: str, name: str) -> dict[str, Any]:
    """The field's entry, with what its model gives once for all its fields."""
    model = inventoried_models().get(label, {})
    values = {key: model[key] for key in MODEL_DEFAULTS if key in model}
    values.update(entry(label, name) or {})
    return values


def our_app_labels() -> list[str]:
    base = Path(settings.BASE_DIR).resolve()
    return [
        config.label
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base)
        and ".venv" not in Path(config.path).resolve().relative_to(base).parts
    ]


def classified_fields(model: type[models.Model]) -> list[Any]:
    """Concrete fields, foreign keys and many-to-many links by their name; not the automatic id."""
    return [
        field for field in model._meta.get_fields() if field.concrete and not field.auto_created
    ]


def links_to(field: Any, label: str) -> bool:
    related = getattr(field, "related_model", None)
    return bool(field.is_relation and related is not None and related._meta.label == label)


def looks_personal(field: Any) -> bool:
    return bool(
        PERSONAL_NAME.search(field.name)
        or links_to(field, settings.AUTH_USER_MODEL)
        or links_to(field, "beneficiaires.Household")
    )


def to_add(missing: list[tuple[str, str]]) -> str:
    snippets = [
        f'[models."{label}".fields.{name}]\n'
        'personal = true  # or: personal = false, with reason = "…" (why it is not personal)\n'
        'purpose = "…"  # in French: what the program uses it for\n'
        'legal_basis = "…"  # e.g. "consentement (participation)" (or once for the model)\n'
        'retention = "…"  # e.g. "effacé à l\'anonymisation" (or once for the model)\n'
        'sensitivity = "faible"  # élevée, moyenne or faible\n'
        "encrypted = false  # true for an EncryptedCharField or EncryptedTextField\n"
        for label, name in missing
    ]
    return f"add to {INVENTORY.relative_to(settings.BASE_DIR)}:\n\n" + "\n".join(snippets)


def test_the_inventory_reads_with_the_standard_library() -> None:
    assert inventory()["version"] == 1
    assert inventoried_models()


def test_every_field_of_the_apps_that_hold_people_is_classified() -> None:
    missing = [
        (model._meta.label, field.name)
        for label in PEOPLE_APPS
        for model in apps.get_app_config(label).get_models()
        for field in classified_fields(model)
        if entry(model._meta.label, field.name) is None
    ]

    assert missing == [], to_add(missing)


def test_every_field_of_the_other_apps_that_looks_personal_is_classified() -> None:
    others = [label for label in our_app_labels() if label not in PEOPLE_APPS]
    assert {"programmes", "coupons", "marches"} <= set(others)
    missing = [
        (model._meta.label, field.name)
        for label in others
        for model in apps.get_app_config(label).get_models()
        for field in classified_fields(model)
        if looks_personal(field) and entry(model._meta.label, field.name) is None
    ]

    assert missing == [], to_add(missing)


def test_the_inventory_lists_no_model_or_field_that_no_longer_exists() -> None:
    stale: list[str] = []
    for label, model_entry in inventoried_models().items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            stale.append(f'[models."{label}"]: no such model')
            continue
        for name in model_entry.get("fields", {}):
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
            if field is None or not field.concrete or field.auto_created:
                stale.append(f'[models."{label}".fields.{name}]: no such field')

    assert stale == [], (
        "remove (or rename) these stale entries of docs/privacy/inventory.toml:\n"
        + "\n".join(stale)
    )


def test_every_entry_says_whether_it_is_personal_and_why() -> None:
    problems: list[str] = []
    for label, model_entry in inventoried_models().items():
        for name, values in model_entry.get("fields", {}).items():
            where = f'[models."{label}".fields.{name}]'
            personal = values.get("personal")
            if not isinstance(personal, bool):
                problems.append(f"{where}: add personal = true or personal = false")
                continue
            if not personal:
                if not str(values.get("reason", "")).strip():
                    problems.append(f'{where}: add reason = "…" (why it is not personal data)')
                continue
            full = resolved(label, name)
            for key in REQUIRED_WHEN_PERSONAL:
                if key not in full or full[key] in ("", None):
                    problems.append(f'{where}: add {key} = "…"')
            if "subject" not in full:
                problems.append(
                    f'{where}: add subject = "ménage" or "personnel" (or once for the model)'
                )
            if "sensitivity" in full and full["sensitivity"] not in SENSITIVITIES:
                problems.append(f"{where}: sensitivity must be one of {', '.join(SENSITIVITIES)}")
            if "encrypted" in full and not isinstance(full["encrypted"], bool):
                problems.append(f"{where}: encrypted must be true or false")
            if (
                full.get("exported") is False
                and not str(full.get("not_exported_reason", "")).strip()
            ):
                problems.append(f'{where}: add not_exported_reason = "…"')

    assert problems == [], "fix docs/privacy/inventory.toml:\n" + "\n".join(problems)


def test_what_the_inventory_says_is_encrypted_is_encrypted_and_personal() -> None:
    problems: list[str] = []
    for label in our_app_labels():
        for model in apps.get_app_config(label).get_models():
            for field in classified_fields(model):
                values = entry(model._meta.label, field.name)
                if values is None:
                    continue  # reported by the tests above
                where = f'[models."{model._meta.label}".fields.{field.name}]'
                encrypted = isinstance(field, EncryptedCharField | EncryptedTextField)
                if encrypted and values.get("personal") is not True:
                    problems.append(
                        f"{where}: an encrypted field is personal data (personal = true)"
                    )
                elif values.get("personal") and values.get("encrypted") is not encrypted:
                    problems.append(f"{where}: set encrypted = {str(encrypted).lower()}")

    assert problems == [], "fix docs/privacy/inventory.toml:\n" + "\n".join(problems)


# Written against the lead engineer's beneficiaires/exports.py: household_export(household)
# returns a dict whose "household" section is keyed by the model's field names.
@pytest.mark.django_db
def test_every_personal_field_of_a_household_is_in_its_access_export() -> None:
    from beneficiaires.exports import household_export
    from beneficiaires.models import Household
    from tests.factories import HouseholdFactory

    exported = set(household_export(HouseholdFactory())["household"])

    label = Household._meta.label
    personal = [
        field.name
        for field in classified_fields(Household)
        if resolved(label, field.name).get("personal") is True
    ]
    should_be = [name for name in personal if resolved(label, name).get("exported", True)]
    kept_out = [name for name in personal if resolved(label, name).get("exported", True) is False]
    assert personal, "the inventory lists no personal field of a household"
    not_exported = [name for name in should_be if name not in exported]
    assert not_exported == [], (
        f"personal fields of a household missing from household_export(): {not_exported}; add "
        'them to its "household" section, or mark them in docs/privacy/inventory.toml with '
        'exported = false and not_exported_reason = "…"'
    )
    wrongly_exported = [name for name in kept_out if name in exported]
    assert wrongly_exported == [], (
        f"docs/privacy/inventory.toml says exported = false for {wrongly_exported}, which "
        "household_export() exports: remove exported = false and not_exported_reason there"
    )
