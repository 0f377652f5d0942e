"""Tapers: prescriptions, PDMP imports and checks, risk flags, and the catalogue's seed data."""

import uuid
from typing import Any

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

from tapers.services.ledger_catalogue import seed_catalogue as seed


def seed_catalogue(apps: Any, schema_editor: Any) -> None:
    seed(
        apps.get_model("tapers", "Medication"),
        apps.get_model("tapers", "MedicationStrength"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tapers", "0001_catalogue"),
        ("patients", "0010_intake_wording"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalPdmpCheck",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                ("checked_at", models.DateTimeField()),
                (
                    "state",
                    models.CharField(
                        max_length=2,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{2}$", "Use the two-letter state code, e.g. NY."
                            )
                        ],
                    ),
                ),
                ("result_summary", models.TextField()),
                ("next_due_on", models.DateField(help_text="Default: the check's date + PDMP_RECHECK_DAYS.")),
                ("reminded_at", models.DateTimeField(blank=True, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "checked_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical PDMP check",
                "verbose_name_plural": "historical PDMP checks",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalRiskFlag",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                (
                    "code",
                    models.CharField(
                        choices=[
                            ("overlapping_benzodiazepine_supply", "Overlapping benzodiazepine supply"),
                            ("multiple_provider_episode", "Multiple provider episode"),
                            ("early_refill", "Early refill"),
                            ("benzodiazepine_opioid_overlap", "Benzodiazepine opioid overlap"),
                            ("high_total_daily_dze", "High total daily dze"),
                            ("dze_not_convertible", "Dze not convertible"),
                        ],
                        max_length=48,
                    ),
                ),
                (
                    "severity",
                    models.CharField(
                        choices=[("info", "Info"), ("warning", "Warning"), ("high", "High")], max_length=8
                    ),
                ),
                ("message", models.TextField()),
                ("source", models.TextField(help_text="Where the rule and its threshold come from.")),
                ("naloxone_prompt", models.TextField(blank=True)),
                ("fingerprint", models.CharField(max_length=64)),
                ("raised_at", models.DateTimeField()),
                ("cleared_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledgement_note", models.TextField(blank=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "acknowledged_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical risk flag",
                "verbose_name_plural": "historical risk flags",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="PdmpImport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("file_name", models.CharField(blank=True, max_length=255)),
                ("file_sha256", models.CharField(max_length=64)),
                (
                    "state",
                    models.CharField(
                        blank=True,
                        help_text="The PDMP's state.",
                        max_length=2,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{2}$", "Use the two-letter state code, e.g. NY."
                            )
                        ],
                    ),
                ),
                ("rows_read", models.PositiveIntegerField(default=0)),
                ("rows_added", models.PositiveIntegerField(default=0)),
                ("rows_already_recorded", models.PositiveIntegerField(default=0)),
                ("notes", models.JSONField(blank=True, default=list)),
                (
                    "imported_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="pdmp_imports", to="patients.patient"
                    ),
                ),
            ],
            options={
                "verbose_name": "PDMP import",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="HistoricalPrescription",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                (
                    "drug_name",
                    models.CharField(help_text="The drug as written on the source, e.g. 'Xanax'.", max_length=200),
                ),
                (
                    "strength",
                    models.CharField(blank=True, help_text="As written, e.g. '0.5 mg' or '5 mg/5 ml'.", max_length=100),
                ),
                (
                    "strength_mg",
                    models.DecimalField(
                        blank=True,
                        decimal_places=3,
                        help_text="mg per unit (per ml for a liquid).",
                        max_digits=10,
                        null=True,
                    ),
                ),
                (
                    "form",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("tablet", "Tablet"),
                            ("capsule", "Capsule"),
                            ("oral_liquid", "Oral liquid"),
                            ("odt", "Orally disintegrating tablet"),
                            ("er_tablet", "Extended-release tablet"),
                            ("other", "Other"),
                        ],
                        max_length=16,
                    ),
                ),
                ("directions", models.TextField(blank=True)),
                ("daily_dose_mg", models.DecimalField(blank=True, decimal_places=3, max_digits=10, null=True)),
                ("daily_dose_derived", models.BooleanField(default=False)),
                ("quantity", models.DecimalField(decimal_places=3, max_digits=10)),
                ("days_supply", models.PositiveIntegerField()),
                ("written_on", models.DateField()),
                ("filled_on", models.DateField(blank=True, null=True)),
                ("rx_number", models.CharField(blank=True, max_length=50)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("self_report", "Self-report"),
                            ("outside_records", "Outside records"),
                            ("pdmp_import", "PDMP import"),
                            ("internal", "Internal (our prescriber)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("natural_key", models.CharField(blank=True, max_length=400)),
                ("entered_in_error_at", models.DateTimeField(blank=True, null=True)),
                ("entered_in_error_reason", models.TextField(blank=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "entered_in_error_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "medication",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tapers.medication",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                (
                    "pharmacy",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tapers.pharmacy",
                    ),
                ),
                (
                    "prescriber",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tapers.prescriber",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "pdmp_import",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tapers.pdmpimport",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical prescription",
                "verbose_name_plural": "historical prescriptions",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="Prescription",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "drug_name",
                    models.CharField(help_text="The drug as written on the source, e.g. 'Xanax'.", max_length=200),
                ),
                (
                    "strength",
                    models.CharField(blank=True, help_text="As written, e.g. '0.5 mg' or '5 mg/5 ml'.", max_length=100),
                ),
                (
                    "strength_mg",
                    models.DecimalField(
                        blank=True,
                        decimal_places=3,
                        help_text="mg per unit (per ml for a liquid).",
                        max_digits=10,
                        null=True,
                    ),
                ),
                (
                    "form",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("tablet", "Tablet"),
                            ("capsule", "Capsule"),
                            ("oral_liquid", "Oral liquid"),
                            ("odt", "Orally disintegrating tablet"),
                            ("er_tablet", "Extended-release tablet"),
                            ("other", "Other"),
                        ],
                        max_length=16,
                    ),
                ),
                ("directions", models.TextField(blank=True)),
                ("daily_dose_mg", models.DecimalField(blank=True, decimal_places=3, max_digits=10, null=True)),
                ("daily_dose_derived", models.BooleanField(default=False)),
                ("quantity", models.DecimalField(decimal_places=3, max_digits=10)),
                ("days_supply", models.PositiveIntegerField()),
                ("written_on", models.DateField()),
                ("filled_on", models.DateField(blank=True, null=True)),
                ("rx_number", models.CharField(blank=True, max_length=50)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("self_report", "Self-report"),
                            ("outside_records", "Outside records"),
                            ("pdmp_import", "PDMP import"),
                            ("internal", "Internal (our prescriber)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("natural_key", models.CharField(blank=True, max_length=400)),
                ("entered_in_error_at", models.DateTimeField(blank=True, null=True)),
                ("entered_in_error_reason", models.TextField(blank=True)),
                (
                    "entered_in_error_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "medication",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="prescriptions",
                        to="tapers.medication",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="prescriptions", to="patients.patient"
                    ),
                ),
                (
                    "pdmp_import",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="prescriptions",
                        to="tapers.pdmpimport",
                    ),
                ),
                (
                    "pharmacy",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tapers.pharmacy",
                    ),
                ),
                (
                    "prescriber",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="prescriptions",
                        to="tapers.prescriber",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "ordering": ["-written_on", "-id"],
            },
        ),
        migrations.CreateModel(
            name="RiskFlag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "code",
                    models.CharField(
                        choices=[
                            ("overlapping_benzodiazepine_supply", "Overlapping benzodiazepine supply"),
                            ("multiple_provider_episode", "Multiple provider episode"),
                            ("early_refill", "Early refill"),
                            ("benzodiazepine_opioid_overlap", "Benzodiazepine opioid overlap"),
                            ("high_total_daily_dze", "High total daily dze"),
                            ("dze_not_convertible", "Dze not convertible"),
                        ],
                        max_length=48,
                    ),
                ),
                (
                    "severity",
                    models.CharField(
                        choices=[("info", "Info"), ("warning", "Warning"), ("high", "High")], max_length=8
                    ),
                ),
                ("message", models.TextField()),
                ("source", models.TextField(help_text="Where the rule and its threshold come from.")),
                ("naloxone_prompt", models.TextField(blank=True)),
                ("fingerprint", models.CharField(max_length=64)),
                ("raised_at", models.DateTimeField()),
                ("last_evaluated_at", models.DateTimeField()),
                ("cleared_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledgement_note", models.TextField(blank=True)),
                (
                    "acknowledged_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="risk_flags", to="patients.patient"
                    ),
                ),
                ("prescriptions", models.ManyToManyField(related_name="risk_flags", to="tapers.prescription")),
            ],
            options={
                "ordering": ["cleared_at", "-raised_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="PdmpCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("checked_at", models.DateTimeField()),
                (
                    "state",
                    models.CharField(
                        max_length=2,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{2}$", "Use the two-letter state code, e.g. NY."
                            )
                        ],
                    ),
                ),
                ("result_summary", models.TextField()),
                ("next_due_on", models.DateField(help_text="Default: the check's date + PDMP_RECHECK_DAYS.")),
                ("reminded_at", models.DateTimeField(blank=True, null=True)),
                (
                    "checked_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="pdmp_checks", to="patients.patient"
                    ),
                ),
            ],
            options={
                "verbose_name": "PDMP check",
                "ordering": ["-checked_at", "-id"],
                "indexes": [
                    models.Index(fields=["patient", "-checked_at"], name="pdmp_check_patient_recent"),
                    models.Index(
                        condition=models.Q(("reminded_at__isnull", True)), fields=["next_due_on"], name="pdmp_check_due"
                    ),
                ],
            },
        ),
        migrations.AddIndex(
            model_name="pdmpimport",
            index=models.Index(fields=["patient", "-created_at"], name="pdmp_import_patient_recent"),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(fields=["patient", "-written_on"], name="prescription_patient_written"),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(("days_supply__gte", 1)),
                name="prescription_days_supply_positive",
                violation_error_message="Days' supply must be at least 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("filled_on__isnull", True), ("filled_on__gte", models.F("written_on")), _connector="OR"
                ),
                name="prescription_filled_after_written",
                violation_error_message="A prescription cannot be filled before it was written.",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("daily_dose_mg__gte", 0),
                    ("quantity__gte", 0),
                    models.Q(("strength_mg__isnull", True), ("strength_mg__gt", 0), _connector="OR"),
                ),
                name="prescription_amounts_not_negative",
                violation_error_message="The daily dose and quantity cannot be negative, nor a strength zero.",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("pdmp_import__isnull", False), ("source", "pdmp_import")),
                    models.Q(models.Q(("source", "pdmp_import"), _negated=True), ("pdmp_import__isnull", True)),
                    _connector="OR",
                ),
                name="prescription_pdmp_rows_name_their_import",
                violation_error_message="A PDMP row names its import; no other row does.",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("entered_in_error_at__isnull", True), ("entered_in_error_by__isnull", True)),
                    models.Q(("entered_in_error_at__isnull", False), ("entered_in_error_by__isnull", False)),
                    _connector="OR",
                ),
                name="prescription_entered_in_error_complete",
                violation_error_message="Entered in error needs both who and when.",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.UniqueConstraint(
                condition=models.Q(("natural_key", ""), _negated=True),
                fields=("patient", "natural_key"),
                name="prescription_natural_key_unique",
            ),
        ),
        migrations.AddIndex(
            model_name="riskflag",
            index=models.Index(
                condition=models.Q(("cleared_at__isnull", True)), fields=["patient"], name="risk_flag_open_by_patient"
            ),
        ),
        migrations.AddConstraint(
            model_name="riskflag",
            constraint=models.UniqueConstraint(fields=("patient", "fingerprint"), name="risk_flag_one_per_fingerprint"),
        ),
        migrations.AddConstraint(
            model_name="riskflag",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("acknowledged_at__isnull", True), ("acknowledged_by__isnull", True)),
                    models.Q(("acknowledged_at__isnull", False), ("acknowledged_by__isnull", False)),
                    _connector="OR",
                ),
                name="risk_flag_acknowledged_complete",
                violation_error_message="An acknowledgement needs both who and when.",
            ),
        ),
        migrations.RunPython(seed_catalogue, migrations.RunPython.noop),
    ]
