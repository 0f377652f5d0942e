from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import PatientAuditAdminMixin
from patients.models import Patient
from patients.services import mrn_next


@admin.register(Patient)
class PatientAdmin(PatientAuditAdminMixin, SimpleHistoryAdmin):
    patient_path = ""
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "status"]
    list_filter = ["status"]
    search_fields = ["=mrn", "legal_last_name", "legal_first_name", "preferred_name"]
    readonly_fields = ["mrn", "public_id"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.mrn = mrn_next()
        super().save_model(request, obj, form, change)
