"""The patient page: search, filters, contacts and care team, the read-only consents, episodes
(and, from apps built on patients, coverages); admission to a level of care, by the "Admit" page or
as decided at intake; break-the-glass grants to review."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from clinic.admin_audit import GuardedHistoryAdmin, PatientAuditAdminMixin, ReadOnlyModelAdmin, refusal_errors
from clinic.errors import ApplicationError
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import may_act_as
from patients.access import scope_to_visible_patients
from patients.admin.base import PatientAutocompleteView, desk_page, patient_label, patient_name
from patients.admin.consents import ConsentInline
from patients.admin.episodes import EpisodeInline
from patients.models import BreakGlassGrant, CareTeamMember, EpisodeOfCare, Patient, PatientContact
from patients.selectors import intake_latest, patients_at_level
from patients.services import mrn_next
from patients.services.consents import CONSENT_RECORDERS
from patients.services.episodes import ADMITTING_ROLES, episode_admit
from patients.signals import reminder_contact_changed


class ContactInline(admin.TabularInline):
    model = PatientContact
    extra = 0
    fields = ["name", "relationship", "phone", "email", "is_emergency_contact", "is_support_person"]


class CareTeamInline(admin.TabularInline):
    model = CareTeamMember
    extra = 0
    fields = ["member", "team_role", "started_on", "ended_on"]
    autocomplete_fields = ["member"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CareTeamMember]:
        return super().get_queryset(request).select_related("member")


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


class AdmitForm(forms.Form):
    required_css_class = "required"
    # Levels this program delivers; residential and withdrawal management are referrals out.
    level = forms.ModelChoiceField(
        queryset=LevelOfCare.objects.filter(is_active=True, is_residential=False),
        label="Level of care",
        to_field_name="code",
    )
    admitted_on = forms.DateField(label="Admitted on", widget=AdminDateWidget)
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this level; kept with the stay.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].label_from_instance = lambda level: level.name  # type: ignore[attr-defined]


@admin.register(Patient)
class PatientAdmin(PatientAuditAdminMixin, GuardedHistoryAdmin):
    patient_path = ""
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "status"]
    list_filter = ["status", CurrentLevelFilter, "reminder_channel"]
    # The desk finds people by name, MRN, phone or date of birth (YYYY-MM-DD).
    search_fields = ["=mrn", "legal_last_name", "legal_first_name", "preferred_name", "=phone", "=date_of_birth"]
    readonly_fields = ["mrn", "public_id"]
    inlines = [ContactInline, ConsentInline, CareTeamInline]
    actions = ["admit_to_level", "admit_as_decided_at_intake"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        # The same rule as the API: clinical staff see their care teams' patients only.
        return scope_to_visible_patients(super().get_queryset(request), request.user, patient_path="", clinical=False)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin[Any, Any]]]:
        # Not on the add page: those records are made on their own pages, for a registered patient.
        extra = [EpisodeInline, *PATIENT_EXTRA_INLINES] if obj is not None else []
        return [*super().get_inlines(request, obj), *extra]

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            # Before the model's own URLs, whose "<object_id>/" would take "autocomplete".
            path(
                "autocomplete/",
                site.admin_view(PatientAutocompleteView.as_view(admin_site=site)),
                name="patients_patient_autocomplete",
            ),
            path("<int:patient_id>/admit/", site.admin_view(self.admit_view), name="patients_patient_admit"),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: Any,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None:
            admitted = EpisodeOfCare.objects.filter(patient=obj, discharged_on__isnull=True).exists()
            context["may_admit"] = not admitted and self.has_admit_permission(request)
            context["may_record_consent"] = may_act_as(request.user, CONSENT_RECORDERS)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.mrn = mrn_next()
        super().save_model(request, obj, form, change)
        if change and set(form.changed_data) & REMINDER_CONTACT_FIELDS:
            reminder_contact_changed.send(sender=Patient, patient_id=obj.pk)

    # --- admission ----------------------------------------------------------------------------

    def has_admit_permission(self, request: HttpRequest) -> bool:
        # episode_admit's rule (the desk, clinic administrators and clinical staff).
        return may_act_as(request.user, ADMITTING_ROLES)

    def admit_view(self, request: HttpRequest, patient_id: int) -> HttpResponse:
        """Admit to a level chosen here, with or without an intake decision: the same service as
        POST /api/v1/episodes/ with a level; its refusals (already admitted, a date outside the
        backdating window, backdated without a reason) come back as form errors."""
        if not self.has_admit_permission(request):
            raise PermissionDenied
        patient = self.get_object(request, str(patient_id))
        if patient is None:  # not there, or a patient this user may not see: the same answer
            raise Http404("No such patient.")
        patient_url = reverse("admin:patients_patient_change", args=[patient.pk])
        form = AdmitForm(request.POST or None, initial={"admitted_on": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                episode_admit(
                    patient=patient,
                    level=data["level"],
                    admitted_on=data["admitted_on"],
                    reason=data["reason"],
                    by=request.user,
                    request=request,
                )
            except ApplicationError as error:
                refusal_errors(form, error)
            else:
                self.message_user(
                    request,
                    f"{patient.mrn}: admitted to {data['level'].name} on {data['admitted_on']:%Y-%m-%d}.",
                    level=messages.SUCCESS,
                )
                return HttpResponseRedirect(patient_url)
        self._audit(request, patient, AuditAction.READ)  # the page names the patient
        intro = [f"{patient_label(patient)}."]
        if EpisodeOfCare.objects.filter(patient=patient, discharged_on__isnull=True).exists():
            intro.append("Already admitted: change the level of care on the open episode's page instead.")
        return desk_page(
            self,
            request,
            patient,
            title="Admit to a level of care",
            intro=intro,
            form=form,
            submit_label="Admit",
            cancel_url=patient_url,
        )

    @admin.action(description="Admit to a level of care…", permissions=["admit"])
    def admit_to_level(self, request: HttpRequest, queryset: QuerySet[Patient]) -> HttpResponse | None:
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(request, "Choose one patient to admit at a time.", level=messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:patients_patient_admit", args=[chosen[0]]))

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
class BreakGlassGrantAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Read-only: grants are made through the API, with their reason, and reviewed here (audited,
    as every page naming a patient is)."""

    list_display = ["created_at", "user", "patient", patient_name("patient"), "expires_at"]
    list_select_related = ["user", "patient"]
    search_fields = ["user__username", "=patient__mrn"]
    date_hierarchy = "created_at"
