"""Reference levels of care (see clinic/levels.py for the figures and their source)."""

from django.db import migrations

from clinic.levels import seed_levels_of_care


def seed(apps, schema_editor):
    seed_levels_of_care(apps.get_model("clinic", "LevelOfCare"), using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_auditevent_append_only")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
