"""Episodes of care in the admin: read-only stays, the "Change level of care" page (step down,
step up, transfer out) through episode_transition, and the episodes table on the patient page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from clinic.admin_audit import GuardedHistoryAdmin, PatientAuditAdminMixin, refusal_errors
from clinic.errors import ApplicationError
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import EPISODE_CLINICAL_FIELDS, clinically_visible_patients, scope_to_visible_patients
from patients.admin.base import desk_page, patient_name
from patients.models import EpisodeOfCare, LevelOfCareStay
from patients.services.episodes import episode_transition


def _with_level_name(episodes: QuerySet[EpisodeOfCare]) -> QuerySet[EpisodeOfCare]:
    """Each episode with the name of its latest stay's level (the current one while it is open),
    in the same query as the episodes."""
    latest = LevelOfCareStay.objects.filter(episode=OuterRef("pk")).order_by("-started_on", "-id")
    return episodes.annotate(level_name=Subquery(latest.values("level__name")[:1]))


class EpisodeInline(admin.TabularInline):
    """The patient's episodes on the patient page: admitted, level, discharged; each links to the
    episode's page. Read-only: admissions and changes of level go through their services."""

    model = EpisodeOfCare
    fk_name = "patient"
    template = "admin/patients/episode_inline.html"
    fields = readonly_fields = ("admitted_on", "discharged_on", "discharge_reason")
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[EpisodeOfCare]:
        return _with_level_name(super().get_queryset(request))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StayInline(admin.TabularInline):
    """Read-only here: levels change through the transition service (the "Change level of care"
    page, or the API), which keeps stays from overlapping and tells scheduling and insurance."""

    model = LevelOfCareStay
    template = "admin/patients/readonly_table_inline.html"
    extra = 0
    can_delete = False
    fields = ["level", "started_on", "ended_on", "kind", "reason", "decided_by"]
    readonly_fields = ["level", "started_on", "ended_on", "kind", "reason", "decided_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LevelOfCareStay]:
        return super().get_queryset(request).select_related("level", "decided_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LevelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        # A residential level is delivered elsewhere: choosing it refers the patient out.
        return f"{obj.name}: refer out, ends this episode" if obj.is_residential else obj.name


class ChangeLevelForm(forms.Form):
    required_css_class = "required"
    # Posted as the level's code (php, iop, outpatient, residential, wm), as the API takes it.
    to_level = LevelChoiceField(queryset=LevelOfCare.objects.none(), label="New level of care", to_field_name="code")
    effective_on = forms.DateField(
        label="Effective on", widget=AdminDateWidget, help_text="The first day at the new level."
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Why the level changes; kept with the stay."
    )

    def __init__(self, *args: Any, current: LevelOfCareStay, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        levels = LevelOfCare.objects.filter(is_active=True).exclude(pk=current.level_id)
        self.fields["to_level"].queryset = levels  # type: ignore[attr-defined]


@admin.register(EpisodeOfCare)
class EpisodeOfCareAdmin(PatientAuditAdminMixin, GuardedHistoryAdmin):
    # Episodes change through the admission and level services; their history is read only.
    allow_revert = False

    list_display = [
        "patient",
        patient_name("patient"),
        "admitted_on",
        "level_name",
        "discharged_on",
        "discharge_reason",
    ]
    list_filter = [("discharged_on", admin.EmptyFieldListFilter), "discharge_reason"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "admitted_on"
    # The intake it followed is set by the admission, never picked from every intake on file.
    readonly_fields = ["patient", "admitted_on", "intake_assessment", "discharged_on", "discharge_reason"]
    fieldsets = [
        (None, {"fields": ("patient", "admitted_on", "intake_assessment", "discharged_on", "discharge_reason")}),
        (
            "Aftercare plan",
            {"fields": ("follow_up_appointments", "community_resources", "relapse_prevention_plan", "safety_plan")},
        ),
    ]
    inlines = [StayInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[EpisodeOfCare]:
        return scope_to_visible_patients(
            _with_level_name(super().get_queryset(request)), request.user, patient_path="patient", clinical=False
        )

    @admin.display(description="Level of care (current or last)", ordering="level_name")
    def level_name(self, episode: Any) -> str:
        return episode.level_name or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an episode is opened by an admission: the patient's "Admit" page or action

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # As in the API: the front office sees the episode without its clinical fields.
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or clinically_visible_patients(request.user).filter(pk=obj.patient_id).exists():
            return fieldsets
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f not in EPISODE_CLINICAL_FIELDS)})
            for name, options in fieldsets
        ]

    # --- changing the level of care -----------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        change_level = self.admin_site.admin_view(self.change_level_view)
        return [
            path("<int:episode_id>/change-level/", change_level, name="patients_episodeofcare_change_level"),
            *super().get_urls(),
        ]

    def has_transition_permission(self, request: HttpRequest) -> bool:
        # episode_transition's rule: changing the level is clinical work.
        return may_act_as(request.user, CLINICAL_ROLES)

    def _may_change_level(self, request: HttpRequest, episode: EpisodeOfCare) -> bool:
        # As the API: the patient's care team (or break-the-glass) only, whoever else sees the episode.
        return (
            self.has_transition_permission(request)
            and clinically_visible_patients(request.user).filter(pk=episode.patient_id).exists()
        )

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
            # str() of an episode is Django's "EpisodeOfCare object (n)": name it for people.
            context["subtitle"] = context["record_label"] = f"{obj.patient.mrn}, admitted {obj.admitted_on:%Y-%m-%d}"
        if obj is not None and obj.discharged_on is None:
            context["current_stay"] = obj.stays.select_related("level").filter(ended_on__isnull=True).first()
            context["may_change_level"] = self._may_change_level(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def change_level_view(self, request: HttpRequest, episode_id: int) -> HttpResponse:
        if not self.has_transition_permission(request):
            raise PermissionDenied
        episode = self.get_object(request, str(episode_id))
        if episode is None:  # not there, or a patient this user may not see: the same answer
            raise Http404("No such episode of care.")
        if not self._may_change_level(request, episode):
            raise PermissionDenied
        episode_url = reverse("admin:patients_episodeofcare_change", args=[episode.pk])
        current = episode.stays.select_related("level").filter(ended_on__isnull=True).first()
        if episode.discharged_on is not None or current is None:
            self.message_user(request, "This episode of care has ended; admit the patient again.", messages.WARNING)
            return HttpResponseRedirect(episode_url)
        form = ChangeLevelForm(request.POST or None, current=current, initial={"effective_on": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                stay = episode_transition(episode=episode, by=request.user, request=request, **form.cleaned_data)
            except ApplicationError as error:
                refusal_errors(form, error)
            else:
                return self._changed(request, episode, stay, form.cleaned_data, episode_url)
        self._audit(request, episode, AuditAction.READ)  # the page names the patient
        patient = episode.patient
        return desk_page(
            self,
            request,
            episode,
            title="Change level of care",
            original_label=f"{patient.mrn}, admitted {episode.admitted_on:%Y-%m-%d}",
            intro=[
                f"{patient.mrn} ({patient.legal_last_name}, {patient.legal_first_name}): in {current.level.name} "
                f"since {current.started_on:%Y-%m-%d}.",
                "The change closes the current stay and opens the next; the new level's group track is "
                "proposed and its authorization flagged for billing.",
            ],
            form=form,
            submit_label="Change level of care",
            cancel_url=episode_url,
        )

    def _changed(
        self,
        request: HttpRequest,
        episode: EpisodeOfCare,
        stay: LevelOfCareStay | None,
        data: dict[str, Any],
        episode_url: str,
    ) -> HttpResponse:
        mrn, level, on = episode.patient.mrn, data["to_level"].name, data["effective_on"]
        if stay is None:
            outcome = f"{mrn}: referred out to {level}; the episode of care ended on {on:%Y-%m-%d}."
        else:
            outcome = f"{mrn}: {stay.get_kind_display().lower()} to {level} from {on:%Y-%m-%d}."
        self.message_user(request, outcome, level=messages.SUCCESS)
        return HttpResponseRedirect(episode_url)
