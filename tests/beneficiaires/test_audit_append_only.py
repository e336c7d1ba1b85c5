"""The access log is append-only: the model refuses to change or delete a row, and on
PostgreSQL the database itself refuses UPDATE and DELETE (migration 0005's trigger), whoever
asks; anonymization, which must keep working, only adds rows."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from beneficiaires import services
from beneficiaires.models import AuditEntry


def an_entry(world: Any) -> AuditEntry:
    services.record_access(
        user=world.a.coordinator, households=[world.a.household], action="view", fields=["name"]
    )
    entry = AuditEntry.objects.filter(household=world.a.household).order_by("-pk").first()
    assert entry is not None
    return entry


def test_the_model_refuses_to_change_or_delete_a_row(world: Any) -> None:
    entry = an_entry(world)
    entry.detail = "changed"

    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_anonymization_keeps_the_log_and_adds_to_it(world: Any) -> None:
    entry = an_entry(world)
    before = AuditEntry.objects.filter(household=world.a.household).count()

    services.anonymize_household(household=world.a.household, by=world.a.coordinator)

    rows = AuditEntry.objects.filter(household=world.a.household)
    assert rows.count() == before + 1
    assert rows.filter(action=AuditEntry.Action.ANONYMIZE).exists()
    assert rows.filter(pk=entry.pk, detail=entry.detail, fields=entry.fields).exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE beneficiaires_auditentry SET detail = 'changed' WHERE id = %s",
        "UPDATE beneficiaires_auditentry SET user_id = NULL WHERE id = %s",
        "DELETE FROM beneficiaires_auditentry WHERE id = %s",
    ],
)
def test_postgresql_refuses_update_and_delete(world: Any, statement: str) -> None:
    entry = an_entry(world)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [entry.pk])

    assert AuditEntry.objects.filter(pk=entry.pk, detail=entry.detail).exists()


@pytest.mark.postgres
def test_queryset_writes_are_refused_too(world: Any) -> None:
    entry = an_entry(world)

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(detail="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk)._raw_delete(connection.alias)

    assert AuditEntry.objects.filter(pk=entry.pk, detail=entry.detail).exists()


@pytest.mark.postgres
def test_the_documented_grants_leave_the_application_role_no_update_or_delete(
    world: Any,
) -> None:
    """deploy/grants.sql, applied as docs/deploy.md says, to a role made for this test."""
    from pathlib import Path

    from django.conf import settings

    entry = an_entry(world)
    role = f"coupons_app_test_{os.getpid()}"
    grants = (Path(settings.BASE_DIR) / "deploy" / "grants.sql").read_text()
    grants = grants.replace("coupons_app", role).replace(
        "DATABASE coupons", f'DATABASE "{connection.settings_dict["NAME"]}"'
    )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        try:
            cursor.execute(grants, params=None)
            cursor.execute(f"SET ROLE {role}")
            cursor.execute("SELECT count(*) FROM beneficiaires_auditentry")
            for statement in (
                "UPDATE beneficiaires_auditentry SET detail = 'changed' WHERE id = %s",
                "DELETE FROM beneficiaires_auditentry WHERE id = %s",
            ):
                with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                    cursor.execute(statement, [entry.pk])
        finally:
            cursor.execute("RESET ROLE")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
