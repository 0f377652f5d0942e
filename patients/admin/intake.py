"""Intake assessments in the admin: clinical staff, their care teams' patients only, record one
through intake_record (which computes the proposed level) and confirm the proposal; a saved
intake is read-only. Admissions, billing and clinic administrators see none of it (DESIGN.md,
Roles), even if a group gave them the model permission by hand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.admin_audit import PatientAuditAdminMixin, ServiceSavedAdminMixin
from clinic.errors import ApplicationError
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import scope_to_visible_patients
from patients.admin.base import PatientPickerMixin, patient_name
from patients.models import (
    IntakeAssessment,
    IntakeBenzodiazepine,
    IntakePrescriber,
    IntakeSubstance,
)
from patients.models.intake import ANSWER_FIELDS
from patients.services.intake import intake_check_date, intake_decide, intake_record


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
class IntakeAssessmentAdmin(PatientPickerMixin, ServiceSavedAdminMixin, PatientAuditAdminMixin, admin.ModelAdmin):
    """Record an intake (clinical staff on the patient's care team). It is written by the
    same service as the API, which computes the proposed level; a saved intake is read-only
    (a correction is a new assessment)."""

    list_display = [
        "assessed_on",
        "patient",
        patient_name("patient"),
        "proposed_level",
        "decision",
        "decided_level",
        "assessed_by",
    ]
    list_filter = ["decision", "proposed_level", "decided_level"]
    list_select_related = ["patient", "proposed_level", "decided_level", "assessed_by"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "assessed_on"
    autocomplete_fields = ["patient"]
    inlines = [IntakeBenzodiazepineInline, IntakeSubstanceInline, IntakePrescriberInline]
    actions = ["confirm_proposed_level"]
    form = IntakeAssessmentForm
    picker_clinical = True  # only patients whose clinical records this user may open

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

    # Clinical roles only, whatever model permissions a group holds (tapers' ClinicalReadOnlyAdmin too).
    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES) and super().has_add_permission(request)

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
