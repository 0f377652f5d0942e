"""Group tracks, the sessions generated from their RRULE over a rolling horizon, and the
patients enrolled in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction
from clinic.roles import Role, require_role
from patients.models import Patient
from patients.selectors import current_level_code
from scheduling import recurrence
from scheduling.models import (
    Booking,
    BookingStatus,
    CancelledBy,
    GroupTrack,
    Modality,
    Session,
    SessionStaff,
    SessionStatus,
    TrackEnrollment,
)
from scheduling.services import (
    MAX_DAYS_AHEAD,
    MAX_SESSION_HOURS,
    SCHEDULERS,
    check_leads,
    refusing_double_booking,
    room_is_exclusive,
)
from scheduling.services.bookings import booking_place
from scheduling.services.reminders import reminders_plan

TRACK_MANAGERS = frozenset({Role.CLINIC_ADMIN})


@dataclass
class GenerationReport:
    created: int = 0
    removed: int = 0
    # Sessions that could not be made (room or facilitator busy) or were left alone
    # (future sessions with bookings that no longer match the rule): id and why.
    skipped: list[dict[str, str]] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)
    booked: int = 0


def _validate(track: GroupTrack, facilitators: list[Any]) -> None:
    try:
        recurrence.parse(
            track.rrule, starts_on=track.starts_on, start_time=track.start_time, zone=track.location.time_zone
        )
    except recurrence.RecurrenceError as error:
        raise ApplicationError(str(error), extra={"fields": {"rrule": [str(error)]}}) from error
    if not track.session_type.is_group:
        raise ApplicationError(
            "A track's sessions are group sessions.", extra={"fields": {"session_type": ["Not a group type."]}}
        )
    check_leads(track.session_type, facilitators, field="facilitators")
    if track.room is not None:
        if track.room.location_id != track.location_id:
            raise ApplicationError("That room is at another location.", extra={"fields": {"room": ["Elsewhere."]}})
        if track.capacity > track.room.capacity:
            raise ApplicationError(
                f"The room seats {track.room.capacity}; lower the capacity or choose a larger room.",
                extra={"fields": {"capacity": [f"More than the room's {track.room.capacity}."]}},
            )
    if not date(2000, 1, 1) <= track.starts_on <= timezone.localdate() + timedelta(days=MAX_DAYS_AHEAD):
        raise ApplicationError(
            f"A track starts between 2000 and {MAX_DAYS_AHEAD} days from now.",
            extra={"fields": {"starts_on": ["Out of range."]}},
        )
    if not 15 <= track.duration_minutes <= MAX_SESSION_HOURS * 60:
        raise ApplicationError(
            f"A group session lasts 15 minutes to {MAX_SESSION_HOURS} hours.",
            extra={"fields": {"duration_minutes": ["Out of range."]}},
        )
    if not track.location.is_active or (track.room is not None and not track.room.is_active):
        raise ApplicationError(
            "That location or room is out of use.", extra={"fields": {"room": ["Inactive room or location."]}}
        )
    if track.level.is_residential:
        raise ApplicationError(
            "Tracks are for the levels this program runs.", extra={"fields": {"level": ["Not offered here."]}}
        )
    track.full_clean(exclude=["facilitators"])


def _horizon() -> tuple[datetime, datetime]:
    now = timezone.now()
    return now, now + timedelta(weeks=settings.SCHEDULING_HORIZON_WEEKS)


@transaction.atomic
def track_create(*, facilitators: list[Any], by: Any, **fields: Any) -> tuple[GroupTrack, GenerationReport]:
    require_role(by, TRACK_MANAGERS, "set up group tracks")
    track = GroupTrack(**fields)
    _validate(track, facilitators)
    track.save()
    track.facilitators.set(facilitators)
    return track, track_generate(track=track)


@transaction.atomic
def track_update(
    *, track: GroupTrack, by: Any, facilitators: list[Any] | None = None, **changes: Any
) -> tuple[GroupTrack, GenerationReport]:
    """Change a track, then regenerate its future sessions that nobody is booked into;
    future sessions with bookings or attendance are left alone and reported."""
    require_role(by, TRACK_MANAGERS, "change group tracks")
    track = GroupTrack.objects.select_for_update().get(pk=track.pk)
    for name, value in changes.items():
        setattr(track, name, value)
    facilitators = list(track.facilitators.all()) if facilitators is None else facilitators
    _validate(track, facilitators)
    track.save()
    track.facilitators.set(facilitators)
    start, _ = _horizon()
    # Lock the future sessions first: a desk booking one of them waits for this change
    # (and finds it gone, a 409) instead of racing the delete.
    future_ids = list(
        Session.objects.select_for_update()
        .filter(track=track, starts_at__gt=start, status=SessionStatus.SCHEDULED)
        .values_list("pk", flat=True)
    )
    live = set(
        Booking.objects.filter(session_id__in=future_ids, status=BookingStatus.BOOKED).values_list(
            "session_id", flat=True
        )
    )
    empty = [pk for pk in future_ids if pk not in live]
    # Sessions nobody was ever booked into go; those with only cancelled bookings are
    # cancelled, so the record of those bookings stays. CASCADE removes their SessionStaff.
    with_history = set(Booking.objects.filter(session_id__in=empty).values_list("session_id", flat=True))
    Session.objects.filter(pk__in=[pk for pk in empty if pk not in with_history]).delete()
    now = timezone.now()
    Session.objects.filter(pk__in=with_history).update(
        status=SessionStatus.CANCELLED, cancelled_at=now, cancel_reason="The track changed", updated_at=now
    )
    SessionStaff.objects.filter(session_id__in=with_history).update(is_active=False)
    report = track_generate(track=track)
    report.removed = len(empty)
    wanted = {s for s, _ in _occurrences(track, *_horizon())} if track.is_active else set()
    lead_ids = {user.pk for user in facilitators}
    kept = Session.objects.filter(pk__in=live).prefetch_related("staff")
    for session in kept:
        staff_ids = {row.user_id for row in session.staff.all() if row.is_active}
        same = (
            session.starts_at in wanted
            and session.ends_at - session.starts_at == timedelta(minutes=track.duration_minutes)
            and session.room_id == track.room_id
            and session.capacity == track.capacity
            and staff_ids == lead_ids
        )
        if not same:
            report.kept.append(
                {"session": str(session.public_id), "reason": "has bookings; reschedule or cancel it by hand"}
            )
    return track, report


def _occurrences(track: GroupTrack, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return list(
        recurrence.occurrences(
            track.rrule,
            starts_on=track.starts_on,
            ends_on=track.ends_on,
            start_time=track.start_time,
            duration_minutes=track.duration_minutes,
            zone=track.location.time_zone,
            window_start=start,
            window_end=end,
        )
    )


@transaction.atomic
def track_generate(*, track: GroupTrack) -> GenerationReport:
    """Make the track's missing sessions up to the horizon and book its enrolled patients
    into them. Safe to run again: existing sessions are skipped."""
    report = GenerationReport()
    if not track.is_active:
        return report
    track = GroupTrack.objects.select_related("location", "room", "session_type").get(pk=track.pk)
    facilitators = list(track.facilitators.all())
    # Occurrences already made (a rescheduled session still stands for its occurrence).
    existing = set(
        Session.objects.filter(track=track, status=SessionStatus.SCHEDULED).values_list("occurrence_at", flat=True)
    )
    enrollments = list(TrackEnrollment.objects.filter(track=track, ended_on__isnull=True).select_related("patient"))
    made: list[int] = []
    for starts_at, ends_at in _occurrences(track, *_horizon()):
        if starts_at in existing:
            continue
        try:
            with refusing_double_booking(
                start=starts_at,
                end=ends_at,
                room_ids=[track.room_id] if track.room_id else [],
                staff_ids=[user.pk for user in facilitators],
            ):
                session = Session.objects.create(
                    session_type=track.session_type,
                    track=track,
                    location=track.location,
                    room=track.room,
                    room_is_exclusive=room_is_exclusive(track.room),
                    occurrence_at=starts_at,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=track.capacity,
                    modality=Modality.IN_PERSON if track.room and not track.room.is_virtual else Modality.VIDEO,
                    topic=track.topics[0] if track.topics else "",
                )
                SessionStaff.objects.bulk_create(
                    SessionStaff(session=session, user=user, starts_at=starts_at, ends_at=ends_at)
                    for user in facilitators
                )
        except Conflict as clash:
            report.skipped.append({"starts_at": starts_at.isoformat(), "reason": clash.message})
            continue
        report.created += 1
        made.append(session.pk)
        for enrollment in enrollments:
            if enrollment.started_on <= timezone.localdate(starts_at):
                report.booked += _book_quietly(session, enrollment, report)
    # Once for all the new sessions' bookings: its query count does not grow with them.
    reminders_plan(Booking.objects.filter(session_id__in=made).values_list("pk", flat=True))
    return report


def _book_quietly(session: Session, enrollment: TrackEnrollment, report: GenerationReport) -> int:
    try:
        booking_place(session=session, patient=enrollment.patient, by=enrollment.enrolled_by, enrollment=enrollment)
    except Conflict as clash:
        report.skipped.append({"session": str(session.public_id), "reason": clash.message})
        return 0
    return 1


def tracks_generate_all() -> int:
    """For the beat task: keep every active track's sessions generated to the horizon."""
    created = 0
    for track_id in GroupTrack.objects.filter(is_active=True).values_list("pk", flat=True):
        created += track_generate(track=GroupTrack(pk=track_id)).created
    return created


@transaction.atomic
def enrollment_create(
    *, track: GroupTrack, patient: Patient, by: Any, request: HttpRequest | None = None
) -> tuple[TrackEnrollment, GenerationReport]:
    """Enrol a patient in a track and book them into its future sessions (those where they
    are already busy are skipped and reported)."""
    require_role(by, SCHEDULERS, "enrol patients in tracks")
    track = GroupTrack.objects.select_for_update().select_related("level").get(pk=track.pk)
    if not track.is_active:
        raise Conflict("This track is no longer running.")
    today = timezone.localdate()
    level = current_level_code(patient)
    if level is None:
        raise ApplicationError(
            "The patient has no active episode of care; admit them first.",
            extra={"fields": {"patient": ["No active episode of care."]}},
        )
    if level != track.level.code:
        raise ApplicationError(
            f"This track is for {track.level.name}; the patient is at another level ({level}).",
            extra={"fields": {"track": [f"For {track.level.code}, patient is {level}."]}},
        )
    if TrackEnrollment.objects.filter(track=track, patient=patient, ended_on__isnull=True).exists():
        raise Conflict("The patient is already enrolled in this track.")
    enrolled = TrackEnrollment.objects.filter(track=track, ended_on__isnull=True).count()
    if enrolled >= track.capacity:
        raise Conflict(f"The track is full ({enrolled} of {track.capacity} enrolled).", extra={"conflict": "capacity"})
    enrollment = TrackEnrollment.objects.create(track=track, patient=patient, started_on=today, enrolled_by=by)
    report = GenerationReport()
    sessions = Session.objects.filter(
        track=track, status=SessionStatus.SCHEDULED, starts_at__gt=timezone.now()
    ).select_for_update()
    for session in sessions:
        report.booked += _book_quietly(session, enrollment, report)
    reminders_plan(Booking.objects.filter(enrollment=enrollment).values_list("pk", flat=True))
    audit_record(
        audit_target_for(enrollment, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request
    )
    return enrollment, report


@transaction.atomic
def enrollment_end(
    *, enrollment: TrackEnrollment, by: Any, request: HttpRequest | None = None
) -> tuple[TrackEnrollment, int]:
    """End an enrollment today and cancel (by the clinic) its future bookings."""
    require_role(by, SCHEDULERS, "end track enrollments")
    enrollment = TrackEnrollment.objects.select_for_update().get(pk=enrollment.pk)
    if enrollment.ended_on is not None:
        raise Conflict("This enrollment has already ended.")
    now = timezone.now()
    enrollment.ended_on = timezone.localdate()
    enrollment.save(update_fields=["ended_on", "updated_at"])
    future = Booking.objects.filter(enrollment=enrollment, status=BookingStatus.BOOKED, starts_at__gt=now)
    ids = list(future.values_list("pk", flat=True))
    cancelled = Booking.objects.filter(pk__in=ids).update(
        status=BookingStatus.CANCELLED, cancelled_by=CancelledBy.CLINIC, cancelled_at=now, updated_at=now
    )
    reminders_plan(ids)
    audit_record(
        audit_target_for(enrollment, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request
    )
    return enrollment, cancelled
