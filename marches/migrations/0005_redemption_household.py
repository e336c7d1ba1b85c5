"""`Redemption.household`: the coupon's household on the redemption row, so that the impact
report counts the households that came back without joining every redemption to its coupon
(bench/reports.py). Nullable for good (bearer and sale coupons have none), filled from the
coupons in one UPDATE."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = (
    "UPDATE marches_redemption SET household_id = c.household_id FROM coupons_coupon c"
    " WHERE c.id = marches_redemption.coupon_id AND c.household_id IS NOT NULL"
    " AND marches_redemption.household_id IS NULL"
)


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL)


class Migration(migrations.Migration):
    dependencies = [
        ("beneficiaires", "0005_audit_append_only"),
        ("marches", "0004_redemption_program"),
    ]

    operations = [
        migrations.AddField(
            model_name="redemption",
            name="household",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="beneficiaires.household",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
