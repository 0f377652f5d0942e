"""The controlled-prescription ledger: prescriptions, PDMP imports and checks, risk flags.

Writes go through tapers.services.ledger, which re-evaluates the patient's risk flags
(tapers.risk) in the same transaction as every ledger change. Nothing here is ever
hard-deleted: a prescription recorded by mistake is marked entered in error, with who,
when and why, and its history is kept.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from clinic.models import US_STATE, PublicModel
from tapers.models.catalogue import DosageForm, Medication, Pharmacy, Prescriber
from tapers.risk import RuleCode


class PrescriptionSource(models.TextChoices):
    SELF_REPORT = "self_report", "Self-report"
    OUTSIDE_RECORDS = "outside_records", "Outside records"
    PDMP_IMPORT = "pdmp_import", "PDMP import"
    INTERNAL = "internal", "Internal (our prescriber)"


class PdmpImport(PublicModel):
    """One PDMP report file imported for a patient, with what it added."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="pdmp_imports")
    file_name = models.CharField(max_length=255, blank=True)
    # The same file imported twice is recognisable (and adds nothing the second time).
    file_sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=2, blank=True, validators=[US_STATE], help_text="The PDMP's state.")
    rows_read = models.PositiveIntegerField(default=0)
    rows_added = models.PositiveIntegerField(default=0)
    rows_already_recorded = models.PositiveIntegerField(default=0)
    # Line by line notes a prescriber should read (daily dose derived, drug not in the catalogue).
    notes = models.JSONField(default=list, blank=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "PDMP import"
        indexes = [
            # A patient's imports, newest first.
            models.Index(fields=["patient", "-created_at"], name="pdmp_import_patient_recent"),
        ]

    def __str__(self) -> str:
        return f"PDMP import {self.public_id} ({self.rows_added} added)"


class Prescription(PublicModel):
    """One controlled prescription we learned of, from any prescriber."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prescriptions")
    # Null when the drug is not in the catalogue: kept as written, read as class "other" by the rules.
    medication = models.ForeignKey(
        Medication, on_delete=models.PROTECT, null=True, blank=True, related_name="prescriptions"
    )
    drug_name = models.CharField(max_length=200, help_text="The drug as written on the source, e.g. 'Xanax'.")
    strength = models.CharField(max_length=100, blank=True, help_text="As written, e.g. '0.5 mg' or '5 mg/5 ml'.")
    strength_mg = models.DecimalField(
        max_digits=10, decimal_places=3, null=True, blank=True, help_text="mg per unit (per ml for a liquid)."
    )
    form = models.CharField(max_length=16, choices=DosageForm.choices, blank=True)
    directions = models.TextField(blank=True)
    # Null when unknown (a patch dosed in mcg/h, a self-report without a dose); never for a
    # benzodiazepine or z-drug, whose dose the diazepam-equivalent total needs (the service refuses).
    daily_dose_mg = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    # True when the daily dose was worked out as quantity x strength / days' supply, not given.
    daily_dose_derived = models.BooleanField(default=False)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField()
    written_on = models.DateField()
    filled_on = models.DateField(null=True, blank=True)
    prescriber = models.ForeignKey(Prescriber, on_delete=models.PROTECT, related_name="prescriptions")
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rx_number = models.CharField(max_length=50, blank=True)
    source = models.CharField(max_length=16, choices=PrescriptionSource.choices)
    pdmp_import = models.ForeignKey(
        PdmpImport, on_delete=models.PROTECT, null=True, blank=True, related_name="prescriptions"
    )
    # Identifies a dispensing across PDMP files (tapers.pdmp.natural_key); blank for hand entries.
    natural_key = models.CharField(max_length=400, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_in_error_reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-written_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="prescription_days_supply_positive",
                condition=Q(days_supply__gte=1),
                violation_error_message="Days' supply must be at least 1.",
            ),
            models.CheckConstraint(
                name="prescription_filled_after_written",
                condition=Q(filled_on__isnull=True) | Q(filled_on__gte=F("written_on")),
                violation_error_message="A prescription cannot be filled before it was written.",
            ),
            models.CheckConstraint(
                name="prescription_amounts_not_negative",
                condition=Q(daily_dose_mg__gte=0, quantity__gte=0)
                & (Q(strength_mg__isnull=True) | Q(strength_mg__gt=0)),
                violation_error_message="The daily dose and quantity cannot be negative, nor a strength zero.",
            ),
            models.CheckConstraint(
                name="prescription_pdmp_rows_name_their_import",
                condition=Q(source="pdmp_import", pdmp_import__isnull=False)
                | (~Q(source="pdmp_import") & Q(pdmp_import__isnull=True)),
                violation_error_message="A PDMP row names its import; no other row does.",
            ),
            models.CheckConstraint(
                name="prescription_entered_in_error_complete",
                condition=Q(entered_in_error_at__isnull=True, entered_in_error_by__isnull=True)
                | Q(entered_in_error_at__isnull=False, entered_in_error_by__isnull=False),
                violation_error_message="Entered in error needs both who and when.",
            ),
            # Re-importing a file, or an overlapping one, adds nothing twice (the key stays on a
            # row marked entered in error, so a re-import does not bring it back either).
            models.UniqueConstraint(
                fields=["patient", "natural_key"],
                condition=~Q(natural_key=""),
                name="prescription_natural_key_unique",
            ),
        ]
        indexes = [
            # The ledger list (?patient=) and the risk re-evaluation read a patient's rows by date.
            models.Index(fields=["patient", "-written_on"], name="prescription_patient_written"),
        ]

    def __str__(self) -> str:
        return f"{self.drug_name} {self.strength} written {self.written_on}".replace("  ", " ")

    @property
    def is_entered_in_error(self) -> bool:
        return self.entered_in_error_at is not None


class PdmpCheck(PublicModel):
    """Someone looked the patient up in a state PDMP (2025 Joint Guideline Rec 1b)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="pdmp_checks")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()
    state = models.CharField(max_length=2, validators=[US_STATE])
    result_summary = models.TextField()
    next_due_on = models.DateField(help_text="Default: the check's date + PDMP_RECHECK_DAYS.")
    # Set once the recheck reminder went out, so a second beat run sends nothing more.
    reminded_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-checked_at", "-id"]
        verbose_name = "PDMP check"
        indexes = [
            # A patient's checks, newest first (the list, and "is there a newer check?").
            models.Index(fields=["patient", "-checked_at"], name="pdmp_check_patient_recent"),
            # The daily reminder run reads only the due, unreminded checks.
            models.Index(fields=["next_due_on"], condition=Q(reminded_at__isnull=True), name="pdmp_check_due"),
        ]

    def __str__(self) -> str:
        return f"PDMP check {self.state} {self.checked_at:%Y-%m-%d}"


class RiskSeverity(models.TextChoices):
    # The values of tapers.risk.Severity.
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    HIGH = "high", "High"


class RiskFlag(PublicModel):
    """A concern the ledger rules (tapers.risk) raised, kept while they raise it.

    `fingerprint` is the rule code and the sorted prescription ids: a re-evaluation that
    raises the same concern from the same prescriptions updates this row (an
    acknowledgement stays); different prescriptions make a new flag and clear this one.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="risk_flags")
    code = models.CharField(
        max_length=48, choices=[(c.value, c.value.replace("_", " ").capitalize()) for c in RuleCode]
    )
    severity = models.CharField(max_length=8, choices=RiskSeverity.choices)
    message = models.TextField()
    source = models.TextField(help_text="Where the rule and its threshold come from.")
    naloxone_prompt = models.TextField(blank=True)
    prescriptions = models.ManyToManyField(Prescription, related_name="risk_flags")
    fingerprint = models.CharField(max_length=64)
    raised_at = models.DateTimeField()
    last_evaluated_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    history = HistoricalRecords(excluded_fields=["last_evaluated_at"])

    class Meta:
        ordering = ["cleared_at", "-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "fingerprint"], name="risk_flag_one_per_fingerprint"),
            models.CheckConstraint(
                name="risk_flag_acknowledged_complete",
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
                violation_error_message="An acknowledgement needs both who and when.",
            ),
        ]
        indexes = [
            # ?open=true: a patient's flags still raised.
            models.Index(fields=["patient"], condition=Q(cleared_at__isnull=True), name="risk_flag_open_by_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


@checks.register(checks.Tags.compatibility)
def check_ledger_risk_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse to start with a LEDGER_RISK_* setting the rules cannot use, rather than fail
    every ledger write later."""
    from tapers.risk import RiskInputError
    from tapers.services.ledger import ledger_thresholds

    try:
        ledger_thresholds()
    except (RiskInputError, ValueError, ArithmeticError) as error:
        return [checks.Error(f"Ledger risk settings: {error}", id="tapers.E101")]
    return []
