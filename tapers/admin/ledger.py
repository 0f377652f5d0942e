"""Tapers admin: ledger. Read-only views of prescriptions, PDMP imports and checks and risk
flags: clinical records, so only clinical roles (clinician, prescriber, nurse) see them, and
only for their care teams' (or break-the-glass) patients, as in the API; admissions, billing
and clinic administrators do not. Every page is audited. Writes go through the API's services."""

from django.contrib import admin

from tapers.admin.base import ClinicalHistoryAdmin, ClinicalReadOnlyAdmin
from tapers.models import PdmpCheck, PdmpImport, Prescription, RiskFlag


@admin.register(Prescription)
class PrescriptionAdmin(ClinicalHistoryAdmin):
    list_display = [
        "written_on",
        "filled_on",
        "patient",
        "drug_name",
        "strength",
        "daily_dose_mg",
        "days_supply",
        "prescriber",
        "pharmacy",
        "source",
        "entered_in_error_at",
    ]
    list_filter = ["source", "medication__drug_class"]
    list_select_related = ["patient", "prescriber", "pharmacy"]
    search_fields = ["=patient__mrn", "drug_name", "prescriber__name", "rx_number"]
    date_hierarchy = "written_on"


@admin.register(PdmpImport)
class PdmpImportAdmin(ClinicalReadOnlyAdmin):
    list_display = ["created_at", "patient", "state", "file_name", "rows_read", "rows_added", "imported_by"]
    list_select_related = ["patient", "imported_by"]
    search_fields = ["=patient__mrn", "file_name"]


@admin.register(PdmpCheck)
class PdmpCheckAdmin(ClinicalHistoryAdmin):
    list_display = ["checked_at", "patient", "state", "checked_by", "next_due_on", "reminded_at"]
    list_filter = ["state"]
    list_select_related = ["patient", "checked_by"]
    search_fields = ["=patient__mrn"]
    date_hierarchy = "checked_at"


@admin.register(RiskFlag)
class RiskFlagAdmin(ClinicalHistoryAdmin):
    list_display = ["raised_at", "patient", "code", "severity", "cleared_at", "acknowledged_by", "acknowledged_at"]
    list_filter = ["code", "severity", ("cleared_at", admin.EmptyFieldListFilter)]
    list_select_related = ["patient", "acknowledged_by"]
    search_fields = ["=patient__mrn"]
