"""Scheduling admin: session types, group tracks, and the day's sessions room by room with
their rosters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin_audit import ReadOnlyModelAdmin, ServiceSavedAdminMixin
from clinic.audit import audit_record_many, audit_target_for
from clinic.errors import ApplicationError
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import scope_to_visible_patients
from scheduling import selectors
from scheduling.admin.appointments import (
    TITLE,
    AppointmentForm,
    PatientLookup,
    StaffLookup,
    audit_shown_patient,
    initial_from,
    may_schedule,
    success_message,
)
from scheduling.models import Attendance, Booking, GroupTrack, Session, SessionType
from scheduling.services import SCHEDULERS
from scheduling.services.appointments import appointment_create, session_cancel
from scheduling.services.bookings import attendance_record
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
    """Today by default: the desk's view is today's sessions, room by room. A date
    (?day=YYYY-MM-DD) shows that day: where the desk lands after booking an appointment."""

    title = "day"
    parameter_name = "day"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [("today", "Today"), ("tomorrow", "Tomorrow"), ("all", "All")]
        day = _day(self.value())
        if day is not None and self.value() not in {"today", "tomorrow"}:
            choices.append((str(self.value()), f"{day:%a %d %b %Y}"))
        return choices

    def choices(self, changelist: Any) -> Any:
        current = self.value() or "today"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        if self.value() == "all":
            return queryset
        return queryset.filter(starts_at__date=_day(self.value()) or timezone.localdate())


def _day(value: str | None) -> date | None:
    if value in {None, "", "today"}:
        return timezone.localdate()
    if value == "tomorrow":
        return timezone.localdate() + timedelta(days=1)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=200, help_text="Kept with the session and in the audit log, e.g. “Therapist off sick”."
    )


@admin.register(Session)
class SessionAdmin(ReadOnlyModelAdmin):
    """Sessions are made by the services (a track's generation, the appointment page here, the
    API), which check clashes; the list itself is read-only. Its pages: the roster of each session
    and "Schedule an appointment"."""

    list_display = ["local_start", "room", "session_type", "leads", "track", "booked", "status", "roster_link"]
    list_filter = [DayFilter, "location", "room", "session_type", "status"]
    ordering = ["room__name", "starts_at"]
    date_hierarchy = "starts_at"
    actions = ["cancel_sessions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # Related names and the booked count in the list's own queries (selectors.session_list):
        # a constant number of queries whatever the day holds (tests/scheduling/test_admin_desk.py).
        return selectors.session_list()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        schedule = reverse("admin:scheduling_session_schedule") if may_schedule(request.user) else None
        return super().changelist_view(request, {"schedule_url": schedule, **(extra_context or {})})

    @admin.display(description="Starts", ordering="starts_at")
    def local_start(self, session: Session) -> str:
        return f"{timezone.localtime(session.starts_at, session.location.time_zone):%a %d %b %H:%M}"

    @admin.display(description="Staff")
    def leads(self, session: Session) -> str:
        return ", ".join(lead.user.get_full_name() or lead.user.username for lead in session.staff.all())

    @admin.display(description="Booked")
    def booked(self, session: Session) -> str:
        return f"{getattr(session, 'booked_count', 0)} / {session.capacity}"

    @admin.display(description="Roster")
    def roster_link(self, session: Session) -> str:
        return format_html('<a href="{}">Roster</a>', reverse("admin:scheduling_session_roster", args=[session.pk]))

    def get_urls(self) -> list[Any]:
        site = self.admin_site
        return [
            path("<int:session_id>/roster/", site.admin_view(self.roster_view), name="scheduling_session_roster"),
            path("schedule/", site.admin_view(self.schedule_view), name="scheduling_session_schedule"),
            path(
                "schedule/patients/",
                site.admin_view(PatientLookup.as_view(admin_site=site)),
                name="scheduling_session_schedule_patients",
            ),
            path(
                "schedule/staff/",
                site.admin_view(StaffLookup.as_view(admin_site=site)),
                name="scheduling_session_schedule_staff",
            ),
            *super().get_urls(),
        ]

    # --- Schedule an appointment ---------------------------------------------------------------

    def schedule_view(self, request: HttpRequest) -> HttpResponse:
        """A one-to-one appointment booked through the same service as the API; a refusal is shown
        on the form with what was typed (the service's transaction wrote nothing)."""
        if not may_schedule(request.user):
            raise PermissionDenied
        form = AppointmentForm(
            request.POST if request.method == "POST" else None,
            initial=initial_from(request, request.user),
            user=request.user,
            admin_site=self.admin_site,
        )
        if request.method == "POST" and form.is_valid():
            try:
                booking = appointment_create(**form.service_arguments(), by=request.user, request=request)
            except ApplicationError as error:
                form.refused(error)
            else:
                self.message_user(request, success_message(booking), messages.SUCCESS)
                day = timezone.localtime(booking.starts_at, booking.session.location.time_zone).date()
                return HttpResponseRedirect(f"{reverse('admin:scheduling_session_changelist')}?day={day:%Y-%m-%d}")
        audit_shown_patient(request, form.chosen_patient())
        context = {
            **self.admin_site.each_context(request),
            "title": TITLE,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "durations": form.default_durations(),
        }
        return TemplateResponse(request, "admin/scheduling/session/schedule.html", context)

    # --- Roster --------------------------------------------------------------------------------

    def roster_view(self, request: HttpRequest, session_id: int) -> HttpResponse:
        """The session's booked patients that this user may see (the desk: all; clinical staff:
        their care teams'), with attendance to tick once it has started, saved through the
        attendance service (clinical staff only, as in the API)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        session = get_object_or_404(selectors.session_list(), pk=session_id)
        bookings = list(
            scope_to_visible_patients(
                selectors.roster(session).filter(status="booked"), request.user, patient_path="patient", clinical=False
            )
        )
        may_record = may_act_as(request.user, CLINICAL_ROLES)
        if request.method == "POST":
            if not may_record:
                raise PermissionDenied
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
            "opts": self.opts,
            "session": session,
            "bookings": bookings,
            "hidden": getattr(session, "booked_count", 0) - len(bookings),
            "choices": Attendance.choices,
            "started": session.starts_at <= timezone.now(),
            "may_record": may_record,
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

    # --- Cancel --------------------------------------------------------------------------------

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        # The roles the cancelling service lets cancel, with the admin's permission to change sessions.
        return may_act_as(request.user, SCHEDULERS) and request.user.has_perm("scheduling.change_session")

    @admin.action(description="Cancel the session (the clinic cancels every booking)", permissions=["cancel"])
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> HttpResponse | None:
        # Django's two-step action: the first post asks why, the second cancels through the service.
        form = CancelForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            sessions = list(queryset)
            return TemplateResponse(
                request,
                "admin/scheduling/session/cancel.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Cancel sessions",
                    "opts": self.opts,
                    "form": form,
                    "sessions": sessions,
                    "booked": sum(getattr(s, "booked_count", 0) for s in sessions),
                    "hidden": [("action", "cancel_sessions"), *((ACTION_CHECKBOX_NAME, s.pk) for s in sessions)],
                },
            )
        cancelled = 0
        for session in queryset:
            try:
                session_cancel(session=session, reason=form.cleaned_data["reason"], by=request.user, request=request)
            except ApplicationError as error:
                self.message_user(request, f"{session}: {error.message}", level=messages.ERROR)
            else:
                cancelled += 1
        self.message_user(request, f"{cancelled} session(s) cancelled, with their bookings.", messages.SUCCESS)
        return None
