"""Tapers admin: ledger. Read-only views of prescriptions, PDMP imports and checks and risk
flags: clinical records, so only clinical roles (clinician, prescriber, nurse) see them, and
only for their care teams' (or break-the-glass) patients, as in the API; admissions, billing
and clinic administrators do not. Every page is audited. Writes go through the API's services."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import scope_to_visible_patients
from tapers.models import PdmpCheck, PdmpImport, Prescription, RiskFlag


class _LedgerAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=True
        )


@admin.register(Prescription)
class PrescriptionAdmin(_LedgerAdmin, SimpleHistoryAdmin):
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
class PdmpImportAdmin(_LedgerAdmin):
    list_display = ["created_at", "patient", "state", "file_name", "rows_read", "rows_added", "imported_by"]
    list_select_related = ["patient", "imported_by"]
    search_fields = ["=patient__mrn", "file_name"]


@admin.register(PdmpCheck)
class PdmpCheckAdmin(_LedgerAdmin, SimpleHistoryAdmin):
    list_display = ["checked_at", "patient", "state", "checked_by", "next_due_on", "reminded_at"]
    list_filter = ["state"]
    list_select_related = ["patient", "checked_by"]
    search_fields = ["=patient__mrn"]
    date_hierarchy = "checked_at"


@admin.register(RiskFlag)
class RiskFlagAdmin(_LedgerAdmin, SimpleHistoryAdmin):
    list_display = ["raised_at", "patient", "code", "severity", "cleared_at", "acknowledged_by", "acknowledged_at"]
    list_filter = ["code", "severity", ("cleared_at", admin.EmptyFieldListFilter)]
    list_select_related = ["patient", "acknowledged_by"]
    search_fields = ["=patient__mrn"]
