"""Tapers: the prescriber of record and communications with outside prescribers."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tapers", "0003_plans")]

    operations: list[migrations.operations.base.Operation] = []
