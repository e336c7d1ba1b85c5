"""The access log is append-only in the database itself (PostgreSQL): a trigger refuses any
UPDATE or DELETE of its rows, whoever runs it, as a second line behind the grants of
docs/deploy.md (the application's role has no UPDATE or DELETE on the table).

Nothing legitimate changes a row: anonymization and retention keep the household's rows (they
hold field names only) and add one. TRUNCATE is left to the owner role (test flushes, a
deliberate reset); the application's role is not granted it. SQLite has no roles and Django's
test flush deletes rows there, so it keeps the model's own refusal (`AuditEntry.save/delete`).
"""

from django.db import migrations

FUNCTION = "beneficiaires_auditentry_append_only"
TRIGGER = "beneficiaires_auditentry_append_only"

CREATE = f"""
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'beneficiaires_auditentry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER {TRIGGER}
    BEFORE UPDATE OR DELETE ON beneficiaires_auditentry
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
"""

DROP = f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON beneficiaires_auditentry;
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("beneficiaires", "0004_survey_response")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
