"""Tapers: taper plans, versions, steps, holds, withdrawal checks and check links."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tapers", "0002_ledger")]

    operations: list[migrations.operations.base.Operation] = []
