"""`Redemption.program`: the coupon's program on the redemption row itself, so that a program's
reports read its own redemptions by an index instead of joining every redemption to its coupon
(bench/reports.py). Added nullable, filled from the coupons in one UPDATE, then made NOT NULL."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = (
    "UPDATE marches_redemption SET program_id = c.program_id FROM coupons_coupon c"
    " WHERE c.id = marches_redemption.coupon_id AND marches_redemption.program_id IS NULL"
)


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL)
        if schema_editor.connection.vendor == "postgresql":
            # The UPDATE queued deferred foreign-key checks, and PostgreSQL refuses to ALTER a
            # table with pending trigger events: run them now, before SET NOT NULL.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("marches", "0003_undone_label"),
        ("programmes", "0004_offline_and_local_currency"),
    ]

    operations = [
        migrations.AddField(
            model_name="redemption",
            name="program",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="redemptions",
                to="programmes.program",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="redemption",
            name="program",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="redemptions",
                to="programmes.program",
            ),
        ),
        migrations.AddIndex(
            model_name="redemption",
            index=models.Index(fields=["program", "status"], name="marches_red_program_5bbf31_idx"),
        ),
    ]
