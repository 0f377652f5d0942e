"""Tapers admin: the prescriber of record and communications with outside prescribers.

Read-only: these are written by tapers.services.coordination (the consent gate, the
disclosure, the send), never typed here. Clinical records: the care team's patients only,
as in the API; admissions and billing see none (the same rule as patients/admin.py's
clinical pages), and every page shown is audited.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import scope_to_visible_patients
from tapers.models import Communication, PrescriberOfRecord


class _ClinicalReadOnlyAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path=self.patient_path, clinical=True
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A front-office user may hold the model permission through a broad group: the scoping
        # above would show them nothing anyway; this keeps the pages out of their menu too.
        return may_act_as(request.user, CLINICAL_ROLES) and super().has_view_permission(request, obj)


@admin.register(PrescriberOfRecord)
class PrescriberOfRecordAdmin(_ClinicalReadOnlyAdmin):
    patient_path = "episode.patient"
    list_display = ["episode_patient", "prescriber", "started_on", "ended_on", "set_by"]
    list_select_related = ["episode__patient", "prescriber", "set_by"]
    list_filter = [("ended_on", admin.EmptyFieldListFilter)]
    search_fields = ["=episode__patient__mrn", "prescriber__name"]
    date_hierarchy = "started_on"

    @admin.display(description="Patient (MRN)", ordering="episode__patient__mrn")
    def episode_patient(self, obj: PrescriberOfRecord) -> str:
        return obj.episode.patient.mrn


@admin.register(Communication)
class CommunicationAdmin(_ClinicalReadOnlyAdmin):
    list_display = ["created_at", "patient", "prescriber", "direction", "channel", "subject", "status", "sent_at"]
    list_select_related = ["patient", "prescriber"]
    list_filter = ["direction", "channel", "status"]
    search_fields = ["=patient__mrn", "prescriber__name", "subject"]
    date_hierarchy = "created_at"
