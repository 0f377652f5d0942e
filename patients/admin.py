from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin, ServiceSavedAdminMixin
from clinic.errors import ApplicationError
from clinic.models import LevelOfCare
from patients.access import scope_to_visible_patients
from patients.models import (
    BreakGlassGrant,
    CareTeamMember,
    Consent,
    Disclosure,
    EpisodeOfCare,
    IntakeAssessment,
    IntakeBenzodiazepine,
    IntakePrescriber,
    IntakeSubstance,
    LevelOfCareStay,
    Patient,
    PatientContact,
    Referral,
)
from patients.models.intake import ANSWER_FIELDS
from patients.selectors import intake_latest, patients_at_level
from patients.services import mrn_next, referral_convert
from patients.services.episodes import episode_admit
from patients.services.intake import intake_check_date, intake_decide, intake_record
from patients.signals import reminder_contact_changed


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


class CurrentLevelFilter(admin.SimpleListFilter):
    title = "current level of care"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(level.code, level.name) for level in LevelOfCare.objects.filter(is_active=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        code = self.value()
        return patients_at_level(queryset, code) if code else queryset


# What reminders are planned from: a change re-plans the patient's future reminders.
REMINDER_CONTACT_FIELDS = {"reminder_channel", "phone", "email", "time_zone"}


# Inlines that apps built on patients add to the page of a saved patient (insurance's coverages):
# patients may not import them (DESIGN.md: dependencies point one way), so those apps append here.
PATIENT_EXTRA_INLINES: list[type[InlineModelAdmin[Any, Any]]] = []


@admin.register(Patient)
class PatientAdmin(PatientAuditAdminMixin, SimpleHistoryAdmin):
    patient_path = ""
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "status"]
    list_filter = ["status", CurrentLevelFilter, "reminder_channel"]
    # The desk finds people by name, MRN, phone or date of birth (YYYY-MM-DD).
    search_fields = ["=mrn", "legal_last_name", "legal_first_name", "preferred_name", "=phone", "=date_of_birth"]
    readonly_fields = ["mrn", "public_id"]
    inlines = [ContactInline, ConsentInline, CareTeamInline]
    actions = ["admit_as_decided_at_intake"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        # The same rule as the API: clinical staff see their care teams' patients only.
        return scope_to_visible_patients(super().get_queryset(request), request.user, patient_path="", clinical=False)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin[Any, Any]]]:
        # Not on the add page: those records are made on their own pages, for a registered patient.
        return [*super().get_inlines(request, obj), *(PATIENT_EXTRA_INLINES if obj is not None else [])]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.mrn = mrn_next()
        super().save_model(request, obj, form, change)
        if change and set(form.changed_data) & REMINDER_CONTACT_FIELDS:
            reminder_contact_changed.send(sender=Patient, patient_id=obj.pk)

    @admin.action(description="Admit today to the level decided at intake", permissions=["change"])
    def admit_as_decided_at_intake(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        # The same service as POST /api/v1/episodes/ with an intake_assessment.
        for patient in queryset:
            intake = intake_latest(patient)
            if intake is None:
                self.message_user(request, f"{patient.mrn}: no intake assessment yet.", level=messages.ERROR)
                continue
            try:
                episode_admit(
                    patient=patient,
                    level=None,
                    intake=intake,
                    admitted_on=timezone.localdate(),
                    reason=f"As decided at the intake assessment of {intake.assessed_on:%Y-%m-%d}",
                    by=request.user,
                    request=request,
                )
            except ApplicationError as error:
                self.message_user(request, f"{patient.mrn}: {error.message}", level=messages.ERROR)
            else:
                level = intake.decided_level.name if intake.decided_level else ""
                self.message_user(request, f"{patient.mrn}: admitted to {level}.", level=messages.SUCCESS)


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


class IntakeRowsInline(admin.TabularInline):
    """Rows of an intake: entered with it, read-only afterwards (like the intake)."""

    extra = 1
    max_num = 10  # as the API allows

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_add_permission(request, obj)


class IntakeBenzodiazepineInline(IntakeRowsInline):
    model = IntakeBenzodiazepine
    fields = ["drug", "daily_dose_mg", "duration_months", "days_per_week", "source", "prescriber_name"]


class IntakeSubstanceInline(IntakeRowsInline):
    model = IntakeSubstance
    fields = ["substance", "frequency", "last_used_on", "details"]


class IntakePrescriberInline(IntakeRowsInline):
    model = IntakePrescriber
    fields = ["name", "npi", "practice", "phone", "prescribes"]


# Safety answers are asked, never assumed: an unticked checkbox would read as "no".
YES_NO_ANSWERS = [
    "prior_withdrawal_seizure",
    "prior_withdrawal_delirium",
    "cssrs_wish_to_be_dead",
    "cssrs_suicidal_thoughts",
    "cssrs_behavior",
]


def _yes_no(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        required=True,
    )


class IntakeAssessmentForm(forms.ModelForm):
    class Meta:
        model = IntakeAssessment
        fields = ["patient", "assessed_on", *ANSWER_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in YES_NO_ANSWERS:
            if name in self.fields:
                self.fields[name] = _yes_no(str(self.fields[name].label))

    def clean_assessed_on(self) -> Any:
        assessed_on = self.cleaned_data["assessed_on"]
        try:
            intake_check_date(assessed_on)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error
        return assessed_on


PROPOSAL_FIELDS = [
    "total_daily_dze_low_mg",
    "total_daily_dze_high_mg",
    "proposed_level",
    "proposal_reasons",
    "decision",
    "decided_level",
    "decision_reason",
    "decided_by",
    "decided_at",
]


@admin.register(IntakeAssessment)
class IntakeAssessmentAdmin(ServiceSavedAdminMixin, PatientAuditAdminMixin, admin.ModelAdmin):
    """Record an intake (clinical staff on the patient's care team). It is written by the
    same service as the API, which computes the proposed level; a saved intake is read-only
    (a correction is a new assessment)."""

    list_display = ["assessed_on", "patient", "proposed_level", "decision", "decided_level", "assessed_by"]
    list_filter = ["decision", "proposed_level", "decided_level"]
    list_select_related = ["patient", "proposed_level", "decided_level", "assessed_by"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "assessed_on"
    autocomplete_fields = ["patient"]
    inlines = [IntakeBenzodiazepineInline, IntakeSubstanceInline, IntakePrescriberInline]
    actions = ["confirm_proposed_level"]
    form = IntakeAssessmentForm

    def get_queryset(self, request: HttpRequest) -> QuerySet[IntakeAssessment]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=True
        )

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The proposal and decision are the service's to fill in, never typed.
        return [] if obj else [*PROPOSAL_FIELDS, "assessed_by", "proposal_rules"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*PROPOSAL_FIELDS, "proposal_rules"] if obj else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if "patient" in form.base_fields:
            # Only the care team's patients can be chosen, as the API allows.
            form.base_fields["patient"].queryset = scope_to_visible_patients(  # type: ignore[attr-defined]
                Patient.objects.all(), request.user, patient_path="", clinical=True
            )
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Nothing yet: the service writes the assessment and its rows together in save_related.
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        rows = {
            formset.model: [
                {k: v for k, v in f.cleaned_data.items() if k not in {"id", "intake", "DELETE"}}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            for formset in formsets
        }
        answers = {k: v for k, v in form.cleaned_data.items() if k not in {"patient", "assessed_on"}}
        try:
            intake = intake_record(
                patient=form.cleaned_data["patient"],
                assessed_on=form.cleaned_data["assessed_on"],
                benzodiazepines=rows.get(IntakeBenzodiazepine, []),
                substances=rows.get(IntakeSubstance, []),
                prescribers=rows.get(IntakePrescriber, []),
                by=request.user,
                request=request,
                **answers,
            )
        except ApplicationError as error:
            raise self.service_refused(request, error.message) from error
        # The admin logs and redirects to the object it built; point it at the saved one.
        form.instance.pk, form.instance.public_id = intake.pk, intake.public_id
        for formset in formsets:
            # What the admin's change message reads from a saved formset; the rows are in the log as part of the add.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description="Confirm the proposed level of care", permissions=["add"])
    def confirm_proposed_level(self, request: HttpRequest, queryset: QuerySet[IntakeAssessment]) -> None:
        # The same service as POST /api/v1/intake-assessments/{id}/decision/.
        for intake in queryset.select_related("proposed_level", "patient"):
            label = f"{intake.patient.mrn}, intake of {intake.assessed_on:%Y-%m-%d}"
            try:
                intake_decide(intake=intake, level=intake.proposed_level, reason="", by=request.user, request=request)
            except ApplicationError as error:
                self.message_user(request, f"{label}: {error.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{label}: {intake.proposed_level.name} confirmed.", level=messages.SUCCESS)
