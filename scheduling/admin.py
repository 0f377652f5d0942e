from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin, ServiceSavedAdminMixin
from clinic.audit import audit_record_many, audit_target_for
from clinic.errors import ApplicationError
from clinic.models import AuditAction
from patients.access import scope_to_visible_patients
from patients.models import Patient
from scheduling import selectors
from scheduling.hours import Week, band_status
from scheduling.models import (
    Attendance,
    Booking,
    GroupTrack,
    LevelChangeReview,
    OptOut,
    OptOutVia,
    Reminder,
    ReminderPolicy,
    Session,
    SessionType,
    StaffTask,
    TrackEnrollment,
    WeeklyHours,
)
from scheduling.services.appointments import session_cancel
from scheduling.services.bookings import attendance_record
from scheduling.services.reminders import opt_out_set, staff_tasks_done
from scheduling.services.tracks import track_create, track_generate, track_update


@admin.register(SessionType)
class SessionTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_group", "default_duration_minutes", "counts_toward_program_hours", "is_active"]
    readonly_fields = ["code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the types the code knows come from scheduling.session_types

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GroupTrack)
class GroupTrackAdmin(ServiceSavedAdminMixin, admin.ModelAdmin):
    """Tracks are saved by the same services as the API: saving generates (or regenerates)
    the future sessions and says what it did."""

    list_display = ["name", "level", "location", "rrule", "start_time", "duration_minutes", "capacity", "is_active"]
    list_filter = ["level", "location", "is_active"]
    list_select_related = ["level", "location"]
    search_fields = ["name"]
    autocomplete_fields = ["facilitators"]
    actions = ["generate_sessions"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # end a track (is_active off, or an end date) so its history stays

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Nothing yet: the service saves the track with its facilitators in save_related.
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        fields = {k: v for k, v in form.cleaned_data.items() if k != "facilitators"}
        facilitators = list(form.cleaned_data["facilitators"])
        try:
            if change:
                track, report = track_update(track=form.instance, by=request.user, facilitators=facilitators, **fields)
            else:
                track, report = track_create(by=request.user, facilitators=facilitators, **fields)
        except ApplicationError as error:
            raise self.service_refused(request, error.message) from error
        form.instance.pk = track.pk
        summary = f"{report.created} sessions made, {report.removed} removed"
        if report.kept:
            summary += f", {len(report.kept)} booked ones left alone (reschedule or cancel them by hand)"
        if report.skipped:
            summary += f", {len(report.skipped)} skipped: " + "; ".join(s["reason"] for s in report.skipped[:3])
        self.message_user(request, summary + ".", level=messages.WARNING if report.skipped else messages.INFO)

    @admin.action(description="Generate sessions to the horizon")
    def generate_sessions(self, request: HttpRequest, queryset: QuerySet[GroupTrack]) -> None:
        for track in queryset:
            report = track_generate(track=track)
            self.message_user(request, f"{track.name}: {report.created} sessions made.")


def _minutes(text: str) -> int | None:
    """Minutes typed on the roster: empty, or a whole number from 0 to 1440."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) > 1440:
        raise ValueError("Minutes must be whole numbers from 0 to 1440.")
    return int(text)


class DayFilter(admin.SimpleListFilter):
    """Today by default: the desk's view is today's sessions, room by room."""

    title = "day"
    parameter_name = "day"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("today", "Today"), ("tomorrow", "Tomorrow"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or "today"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        value = self.value() or "today"
        if value == "all":
            return queryset
        day = timezone.localdate() + timedelta(days=1 if value == "tomorrow" else 0)
        return queryset.filter(starts_at__date=day)


@admin.register(Session)
class SessionAdmin(ReadOnlyModelAdmin):
    """Read-only: appointments are booked through the API, whose services check clashes."""

    list_display = ["local_start", "room", "session_type", "track", "booked", "status", "roster_link"]
    list_filter = [DayFilter, "location", "room", "session_type", "status"]
    ordering = ["room__name", "starts_at"]
    date_hierarchy = "starts_at"
    actions = ["cancel_sessions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return selectors.session_list()

    @admin.display(description="Starts", ordering="starts_at")
    def local_start(self, session: Session) -> str:
        return f"{timezone.localtime(session.starts_at, session.location.time_zone):%a %d %b %H:%M}"

    @admin.display(description="Booked")
    def booked(self, session: Session) -> str:
        return f"{getattr(session, 'booked_count', 0)} / {session.capacity}"

    @admin.display(description="Roster")
    def roster_link(self, session: Session) -> str:
        return format_html('<a href="{}">Roster</a>', reverse("admin:scheduling_session_roster", args=[session.pk]))

    def get_urls(self) -> list[Any]:
        roster = path(
            "<int:session_id>/roster/", self.admin_site.admin_view(self.roster_view), name="scheduling_session_roster"
        )
        return [roster, *super().get_urls()]

    def roster_view(self, request: HttpRequest, session_id: int) -> HttpResponse:
        """The roster with attendance to tick; saved through the attendance service."""
        session = get_object_or_404(selectors.session_list(), pk=session_id)
        bookings = list(
            scope_to_visible_patients(
                selectors.roster(session).filter(status="booked"), request.user, patient_path="patient", clinical=False
            )
        )
        if request.method == "POST":
            self._save_attendance(request, bookings)
            return HttpResponseRedirect(request.path)
        audit_record_many(
            (audit_target_for(b, patient_path="patient") for b in bookings),
            action=AuditAction.LIST,
            actor=request.user,
            request=request,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Roster",
            "session": session,
            "bookings": bookings,
            "choices": Attendance.choices,
            "started": session.starts_at <= timezone.now(),
            "local_start": timezone.localtime(session.starts_at, session.location.time_zone),
            "local_end": timezone.localtime(session.ends_at, session.location.time_zone),
        }
        return TemplateResponse(request, "admin/scheduling/roster.html", context)

    def _save_attendance(self, request: HttpRequest, bookings: list[Booking]) -> None:
        saved = 0
        for booking in bookings:
            value = request.POST.get(f"attendance-{booking.pk}", "")
            if not value:
                continue
            try:
                late, attended = (
                    _minutes(request.POST.get(f"{name}-{booking.pk}", "")) for name in ("late", "minutes")
                )
                if value not in Attendance.values:
                    raise ValueError("Choose an attendance from the list.")
                if (value, late if value == "late" else None, attended) == (
                    booking.attendance,
                    booking.minutes_late,
                    None,
                ):
                    continue  # unchanged
                attendance_record(
                    booking=booking,
                    attendance=value,
                    minutes_late=late if value == "late" else None,
                    minutes_attended=attended,
                    by=request.user,
                    request=request,
                )
            except ApplicationError as error:
                self.message_user(request, f"{booking.patient.mrn}: {error.message}", level=messages.ERROR)
            except ValueError as error:
                self.message_user(request, f"{booking.patient.mrn}: {error}", level=messages.ERROR)
            else:
                saved += 1
        self.message_user(request, f"Attendance saved for {saved} patient(s).")

    @admin.action(description="Cancel the session (the clinic cancels every booking)")
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        for session in queryset:
            try:
                session_cancel(session=session, reason="Cancelled at the desk", by=request.user, request=request)
            except ApplicationError as error:
                self.message_user(request, f"{session}: {error.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{session}: cancelled.")


class FrontOfficeRowsAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Rows about one patient each, listed for whoever may see that patient's scheduling
    (the front office: every patient; clinical staff: their care teams'), audited."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=False
        )


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
    list_display = ["starts_at", "patient", "session", "status", "cancelled_by", "late_cancellation", "attendance"]
    list_filter = ["status", "cancelled_by", "late_cancellation", "attendance"]
    list_select_related = ["patient", "session__session_type"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "starts_at"
    inlines = [ReminderInline]


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


# --- Reminders ---------------------------------------------------------------------------------


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(admin.ModelAdmin):
    """The one policy: offsets, sending hours, daily cap, neutral sender and wording. Saving
    refuses wording that would reveal the kind of care or show patient data."""

    fieldsets = [
        ("When", {"fields": ["offsets_minutes", "window_start", "window_end", "max_per_day"]}),
        ("Who it is from", {"fields": ["sender_name", "help_phone"]}),
        ("Wording", {"fields": ["sms_template", "email_subject", "email_template"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # there is one, made on first use

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        policy = ReminderPolicy.current()
        return HttpResponseRedirect(reverse("admin:scheduling_reminderpolicy_change", args=[policy.pk]))


@admin.register(Reminder)
class ReminderAdmin(FrontOfficeRowsAdmin):
    """The outbox, for looking into what went out, what did not, and why (never the text)."""

    list_display = ["due_at", "patient", "channel", "offset_minutes", "status", "attempts", "sent_at", "reason"]
    list_filter = ["status", "channel"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "due_at"
    raw_id_fields = ["booking", "patient"]


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "To do"), ("done", "Done")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(StaffTask)
class StaffTaskAdmin(FrontOfficeRowsAdmin):
    """The desk's queue: reminders that could not go, patients who asked for a call, replies
    to read. "Mark done" records who dealt with each."""

    list_display = ["created_at", "kind", "patient", "booking", "detail", "done_at", "done_by"]
    list_filter = [OpenFilter, "kind"]
    list_select_related = ["patient", "booking__session__session_type", "done_by", "inbound"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    readonly_fields = ["inbound_text"]
    actions = ["mark_done"]

    @admin.display(description="what the patient wrote")
    def inbound_text(self, task: StaffTask) -> str:
        return task.inbound.body if task.inbound else ""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # For the action only; the task itself is not edited.
        return obj is None and request.user.has_perm("scheduling.change_stafftask")

    @admin.action(description="Mark done", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet[StaffTask]) -> None:
        done = staff_tasks_done(queryset.filter(done_at__isnull=True), by=request.user, request=request)
        self.message_user(request, f"{done} task(s) marked done.", messages.SUCCESS)


@admin.register(OptOut)
class OptOutAdmin(ServiceSavedAdminMixin, FrontOfficeRowsAdmin):
    """Who has stopped which channel, when and how (a STOP text, staff, or the SMS provider).
    Staff record a patient's spoken request here; saving goes through the same service as a
    STOP text, which cancels or re-plans the patient's reminders. History keeps every change."""

    list_display = ["patient", "channel", "opted_out", "changed_at", "changed_via", "changed_by"]
    list_filter = ["channel", "opted_out", "changed_via"]
    list_select_related = ["patient", "changed_by"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    autocomplete_fields = ["patient"]
    fields = ["patient", "channel", "opted_out", "changed_at", "changed_via", "changed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scheduling.add_optout")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("scheduling.change_optout")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        made = ["changed_at", "changed_via", "changed_by"]
        return made if obj is None else ["patient", "channel", *made]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "patient":  # only patients this user may see, whatever the form posts
            kwargs["queryset"] = scope_to_visible_patients(
                Patient.objects.all(), request.user, patient_path="", clinical=False
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            row = opt_out_set(
                patient=obj.patient,
                channel=obj.channel,
                opted_out=obj.opted_out,
                via=OptOutVia.STAFF,
                by=request.user,
                request=request,
            )
        except ApplicationError as error:
            raise self.service_refused(request, error.message) from error
        form.instance = row  # the admin's log entry and redirect name the saved row
        obj.pk = row.pk
