"""Scheduling admin: bookings, track enrolments, level-change reviews and the week's program
hours (read-only: written through the API's services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin
from patients.access import scope_to_visible_patients
from scheduling import selectors
from scheduling.admin.base import FrontOfficeRowsAdmin
from scheduling.hours import Week, band_status
from scheduling.models import Booking, LevelChangeReview, Reminder, TrackEnrollment, WeeklyHours

_REMINDER_COLUMNS = [
    "due_at",
    "channel",
    "offset_minutes",
    "status",
    "attempts",
    "sent_at",
    "provider_status",
    "reason",
]


class ReminderInline(admin.TabularInline):
    """A booking's reminders and where each stands (never the text)."""

    model = Reminder
    fields = tuple(_REMINDER_COLUMNS)
    readonly_fields = _REMINDER_COLUMNS
    ordering = ["due_at", "channel"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(FrontOfficeRowsAdmin):
    list_display = [
        "starts_at",
        "patient",
        "patient_name",
        "session",
        "status",
        "cancelled_by",
        "late_cancellation",
        "attendance",
    ]
    list_filter = ["status", "cancelled_by", "late_cancellation", "attendance"]
    # The patient's name and the session's type come with the rows (tests/scheduling/test_admin_desk.py).
    list_select_related = ["patient", "session__session_type"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "starts_at"
    inlines = [ReminderInline]

    @admin.display(description="Name", ordering="patient__legal_last_name")
    def patient_name(self, booking: Booking) -> str:
        # str() of a patient is the MRN only (it lands in logs); the desk reads names here.
        return f"{booking.patient.legal_last_name}, {booking.patient.legal_first_name}"


class BandFilter(admin.SimpleListFilter):
    title = "band"
    parameter_name = "band"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("under", "Heading under their band")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset  # applied in WeeklyHoursAdmin.get_queryset, on the annotated rows


@admin.register(WeeklyHours)
class WeeklyHoursAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """This ISO week's clinical hours per admitted patient against their level's band."""

    patient_path = ""
    list_display = ["mrn", "legal_last_name", "legal_first_name", "level", "scheduled", "attended", "projected", "band"]
    list_filter = [BandFilter]
    search_fields = ["=mrn", "legal_last_name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        patients = scope_to_visible_patients(WeeklyHours.objects.all(), request.user, patient_path="", clinical=False)
        week = Week.of(timezone.localdate())
        pick = selectors.patients_under_band if request.GET.get("band") == "under" else selectors.program_hours_list
        return pick(patients, week)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("scheduling.view_booking")

    @admin.display(description="Level")
    def level(self, patient: Any) -> str:
        return patient.level_code or "—"

    @admin.display(description="Scheduled h")
    def scheduled(self, patient: Any) -> str:
        return f"{patient.scheduled_minutes / 60:.1f}"

    @admin.display(description="Attended h")
    def attended(self, patient: Any) -> str:
        return f"{patient.attended_minutes / 60:.1f}"

    @admin.display(description="Projected h")
    def projected(self, patient: Any) -> str:
        return f"{patient.projected_minutes / 60:.1f}"

    @admin.display(description="Band")
    def band(self, patient: Any) -> str:
        return band_status(patient.projected_minutes, patient.level_min_hours, patient.level_max_hours)


@admin.register(TrackEnrollment)
class TrackEnrollmentAdmin(FrontOfficeRowsAdmin):
    """Read-only: enrolment books and cancels sessions, so it goes through the service (API)."""

    list_display = ["patient", "track", "started_on", "ended_on"]
    list_filter = ["track", ("ended_on", admin.EmptyFieldListFilter)]
    list_select_related = ["patient", "track"]
    search_fields = ["=patient__mrn", "patient__legal_last_name", "track__name"]


@admin.register(LevelChangeReview)
class LevelChangeReviewAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Read-only: what level changes mean for the schedule; confirmed through the API."""

    list_display = ["created_at", "patient", "from_level", "to_level", "proposed_track", "status"]
    list_filter = ["status", "to_level"]
    list_select_related = ["patient", "from_level", "to_level", "proposed_track"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LevelChangeReview]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=True
        )
