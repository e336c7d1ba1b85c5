"""The product categories every program starts from."""

from django.db import migrations

DEFAULT_CATEGORIES = [
    ("fruits-legumes", "Fruits et légumes", "Fruits and vegetables"),
    ("oeufs-produits-laitiers", "Œufs et produits laitiers", "Eggs and dairy"),
    ("viandes-poissons", "Viandes et poissons", "Meat and fish"),
    ("pain-cereales", "Pain et céréales", "Bread and grains"),
    ("miel-erable", "Miel et produits de l'érable", "Honey and maple products"),
    ("plants-semis", "Plants et semis", "Seedlings"),
]


def create_categories(apps, schema_editor):
    ProductCategory = apps.get_model("programmes", "ProductCategory")
    for slug, name_fr, name_en in DEFAULT_CATEGORIES:
        ProductCategory.objects.get_or_create(
            slug=slug, defaults={"name_fr": name_fr, "name_en": name_en}
        )


class Migration(migrations.Migration):
    dependencies = [("programmes", "0001_initial")]

    operations = [migrations.RunPython(create_categories, migrations.RunPython.noop)]
