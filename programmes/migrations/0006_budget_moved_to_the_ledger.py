from django.db import migrations


class Migration(migrations.Migration):
    """The funds now come from the ledger (financement): the budget figure is gone."""

    dependencies = [
        ("programmes", "0005_funding_holder_and_sale"),
        ("financement", "0002_budgets_become_contributions"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="program", name="program_budget_not_negative"),
        migrations.RemoveField(model_name="program", name="budget"),
    ]
