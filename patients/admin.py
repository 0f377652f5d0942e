from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin
from clinic.errors import ApplicationError
from patients.access import scope_to_visible_patients
from patients.models import (
    BreakGlassGrant,
    CareTeamMember,
    Consent,
    Disclosure,
    EpisodeOfCare,
    LevelOfCareStay,
    Patient,
    PatientContact,
    Referral,
)
from patients.services import mrn_next, referral_convert


class ContactInline(admin.TabularInline):
    model = PatientContact
    extra = 0
    fields = ["name", "relationship", "phone", "email", "is_emergency_contact", "is_support_person"]


class ConsentInline(admin.StackedInline):
    """Read-only on the patient page; consents are recorded and revoked through the consent
    service (API, and the consent page below), which checks them and audits."""

    model = Consent
    fk_name = "patient"
    extra = 0
    can_delete = False
    fields = ["recipient_type", "recipient_name", "information", "purposes", "effective_on", "expires_on", "revoked_at"]
    readonly_fields = [
        "recipient_type",
        "recipient_name",
        "information",
        "purposes",
        "effective_on",
        "expires_on",
        "revoked_at",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CareTeamInline(admin.TabularInline):
    model = CareTeamMember
    extra = 0
    fields = ["member", "team_role", "started_on", "ended_on"]
    autocomplete_fields = ["member"]


@admin.register(Patient)
class PatientAdmin(PatientAuditAdminMixin, SimpleHistoryAdmin):
    patient_path = ""
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "status"]
    list_filter = ["status", "reminder_channel"]
    # The desk finds people by name, MRN, phone or date of birth (YYYY-MM-DD).
    search_fields = ["=mrn", "legal_last_name", "legal_first_name", "preferred_name", "=phone", "=date_of_birth"]
    readonly_fields = ["mrn", "public_id"]
    inlines = [ContactInline, ConsentInline, CareTeamInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        # The same rule as the API: clinical staff see their care teams' patients only.
        return scope_to_visible_patients(super().get_queryset(request), request.user, patient_path="", clinical=False)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.mrn = mrn_next()
        super().save_model(request, obj, form, change)


@admin.register(BreakGlassGrant)
class BreakGlassGrantAdmin(ReadOnlyModelAdmin):
    """Read-only: grants are made through the API, with their reason, and reviewed here."""

    list_display = ["created_at", "user", "patient", "expires_at"]
    list_select_related = ["user", "patient"]
    search_fields = ["user__username", "=patient__mrn"]
    date_hierarchy = "created_at"


class StayInline(admin.TabularInline):
    """Read-only here: levels change through the transition service (API), which keeps
    stays from overlapping and tells scheduling and insurance."""

    model = LevelOfCareStay
    extra = 0
    can_delete = False
    fields = ["level", "started_on", "ended_on", "kind", "reason", "decided_by"]
    readonly_fields = ["level", "started_on", "ended_on", "kind", "reason", "decided_by"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EpisodeOfCare)
class EpisodeOfCareAdmin(PatientAuditAdminMixin, SimpleHistoryAdmin):
    list_display = ["patient", "admitted_on", "discharged_on", "discharge_reason"]
    list_filter = [("discharged_on", admin.EmptyFieldListFilter), "discharge_reason"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "admitted_on"
    readonly_fields = ["patient", "admitted_on", "discharged_on", "discharge_reason"]
    inlines = [StayInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[EpisodeOfCare]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=False
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Disclosure)
class DisclosureAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Read-only: the record of what left the clinic, under which consent."""

    list_display = ["disclosed_at", "patient", "recipient_type", "recipient_name", "purpose"]
    list_filter = ["recipient_type", "purpose"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "recipient_name"]
    date_hierarchy = "disclosed_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Disclosure]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=False
        )


@admin.register(Referral)
class ReferralAdmin(SimpleHistoryAdmin):
    list_display = ["received_at", "last_name", "first_name", "source", "status", "owner"]
    list_filter = ["status", "source"]
    list_select_related = ["owner"]
    search_fields = ["last_name", "first_name", "=phone", "referrer_name"]
    date_hierarchy = "received_at"
    autocomplete_fields = ["owner"]
    readonly_fields = ["converted_patient"]
    actions = ["convert_to_patient"]

    @admin.action(description="Convert to a patient (issues the MRN)")
    def convert_to_patient(self, request: HttpRequest, queryset: QuerySet[Referral]) -> None:
        # The same service as POST /api/v1/referrals/{id}/convert/.
        for referral in queryset:
            try:
                patient = referral_convert(referral=referral, by=request.user, request=request)
            except ApplicationError as error:
                self.message_user(request, f"{referral.last_name}: {error.message}", level=messages.ERROR)
            else:
                self.message_user(
                    request, f"{referral.last_name}: registered as {patient.mrn}.", level=messages.SUCCESS
                )
