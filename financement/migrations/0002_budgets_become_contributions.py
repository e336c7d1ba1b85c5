import datetime

from django.db import migrations


def budgets_become_contributions(apps, schema_editor):
    """Each program's budget figure becomes a contribution of an "initial funds" funder, with its
    ledger row, so that its funds stay what they were."""
    Program = apps.get_model("programmes", "Program")
    Funder = apps.get_model("financement", "Funder")
    Contribution = apps.get_model("financement", "Contribution")
    LedgerEntry = apps.get_model("financement", "LedgerEntry")
    funder = None
    for program in Program.objects.filter(budget__gt=0):
        if funder is None:
            funder, _created = Funder.objects.get_or_create(
                name="Fonds initiaux (avant le registre des fonds)", defaults={"kind": "other"}
            )
        received_on = min(program.season_start, datetime.date.today())
        contribution = Contribution.objects.create(
            program=program,
            funder=funder,
            amount=program.budget,
            received_on=received_on,
            reference="budget",
        )
        LedgerEntry.objects.create(
            program=program,
            kind="contribution",
            amount=program.budget,
            contribution=contribution,
            memo=funder.name,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("financement", "0001_initial"),
        ("programmes", "0005_funding_holder_and_sale"),
    ]

    operations = [migrations.RunPython(budgets_become_contributions, migrations.RunPython.noop)]
