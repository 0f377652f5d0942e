"""Tapers admin: the prescriber of record and communications with outside prescribers.

Read-only: these are written by tapers.services.coordination (the consent gate, the
disclosure, the send), never typed here. Clinical records: the care team's patients only,
as in the API; admissions and billing see none (the same rule as patients/admin.py's
clinical pages), and every page shown is audited.
"""

from django.contrib import admin

from tapers.admin.base import ClinicalReadOnlyAdmin
from tapers.models import Communication, PrescriberOfRecord


@admin.register(PrescriberOfRecord)
class PrescriberOfRecordAdmin(ClinicalReadOnlyAdmin):
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
class CommunicationAdmin(ClinicalReadOnlyAdmin):
    list_display = ["created_at", "patient", "prescriber", "direction", "channel", "subject", "status", "sent_at"]
    list_select_related = ["patient", "prescriber"]
    list_filter = ["direction", "channel", "status"]
    search_fields = ["=patient__mrn", "prescriber__name", "subject"]
    date_hierarchy = "created_at"
