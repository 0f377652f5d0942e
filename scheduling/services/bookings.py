"""A patient's place in a session: booking, cancelling, attendance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, require_role
from patients.models import Patient
from scheduling.models import (
    Attendance,
    Booking,
    BookingStatus,
    CancelledBy,
    Session,
    SessionStaff,
    SessionStatus,
    TrackEnrollment,
)
from scheduling.services import SCHEDULERS, check_admitted, refusing_double_booking
from scheduling.services.reminders import reminders_plan


def booking_place(*, session: Session, patient: Patient, by: Any, enrollment: TrackEnrollment | None = None) -> Booking:
    """The booking itself, for a session the caller has locked and checked. Capacity is
    counted under that lock, so two desks cannot both take the last seat."""
    taken = Booking.objects.filter(session=session, status=BookingStatus.BOOKED).count()
    if taken >= session.capacity:
        raise Conflict(
            f"The session is full ({taken} of {session.capacity} places taken).",
            extra={"conflict": "capacity", "session": str(session.public_id)},
        )
    if Booking.objects.filter(session=session, patient=patient, status=BookingStatus.BOOKED).exists():
        raise Conflict("The patient is already booked into this session.", extra={"conflict": "patient"})
    with refusing_double_booking(start=session.starts_at, end=session.ends_at, patient_ids=[patient.pk]):
        return Booking.objects.create(
            session=session,
            patient=patient,
            enrollment=enrollment,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            booked_by=by,
        )


@transaction.atomic
def booking_create(*, session: Session, patient: Patient, by: Any, request: HttpRequest | None = None) -> Booking:
    """Book a patient into one session (a group session outside their track, or a drop-in)."""
    require_role(by, SCHEDULERS, "book sessions")
    # The row lock first: a track being changed at the same moment may remove the session.
    locked = Session.objects.select_for_update().filter(pk=session.pk).first()
    if locked is None:
        raise Conflict("That session was removed (its track changed); choose another.", extra={"conflict": "removed"})
    session = Session.objects.select_related("session_type").get(pk=locked.pk)
    if not session.session_type.is_group:
        raise ApplicationError(
            "That is a one-to-one appointment; book a new appointment instead (POST /api/v1/sessions/).",
            extra={"fields": {"session": ["Not a group session."]}},
        )
    if session.status == SessionStatus.CANCELLED:
        raise Conflict("This session is cancelled; choose another.", extra={"conflict": "cancelled"})
    if session.starts_at <= timezone.now():
        raise ApplicationError(
            "This session has already started; book a future one.", extra={"fields": {"session": ["In the past."]}}
        )
    check_admitted(patient, session.session_type)
    booking = booking_place(session=session, patient=patient, by=by)
    reminders_plan([booking.pk])
    audit_objects([booking], AuditAction.CREATE, by=by, request=request)
    return booking


@transaction.atomic
def booking_cancel(
    *, booking: Booking, cancelled_by: str, by: Any, reason: str = "", request: HttpRequest | None = None
) -> Booking:
    """Cancel one patient's place. Late when within LATE_CANCELLATION_HOURS of the start;
    a no-show is recorded only once the session has started."""
    require_role(by, SCHEDULERS, "cancel bookings")
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if booking.status != BookingStatus.BOOKED:
        raise Conflict("This booking is already cancelled.")
    if booking.attendance:
        raise Conflict("Attendance is already recorded for this booking.")
    now = timezone.now()
    started = booking.starts_at <= now
    if cancelled_by == CancelledBy.NO_SHOW and not started:
        raise ApplicationError(
            "A no-show is recorded once the session has started.",
            extra={"fields": {"cancelled_by": ["Session not started."]}},
        )
    if cancelled_by != CancelledBy.NO_SHOW and started:
        raise ApplicationError(
            "The session has started: record a no-show or attendance instead.",
            extra={"fields": {"cancelled_by": ["Session started."]}},
        )
    booking.status, booking.cancelled_by, booking.cancelled_at = BookingStatus.CANCELLED, cancelled_by, now
    booking.late_cancellation = cancelled_by == CancelledBy.NO_SHOW or (
        booking.starts_at - now < timedelta(hours=settings.LATE_CANCELLATION_HOURS)
    )
    booking.save(update_fields=["status", "cancelled_by", "cancelled_at", "late_cancellation", "updated_at"])
    session = Session.objects.select_related("session_type").get(pk=booking.session_id)
    if not session.session_type.is_group and not started:
        # A one-to-one without its patient frees the clinician and the room.
        Session.objects.filter(pk=session.pk).update(
            status=SessionStatus.CANCELLED, cancelled_at=now, cancel_reason="The booking was cancelled", updated_at=now
        )
        SessionStaff.objects.filter(session=session).update(is_active=False)
    reminders_plan([booking.pk])
    audit_objects([booking], AuditAction.UPDATE, by=by, request=request, reason=reason)
    return booking


def _minutes(session: Session) -> int:
    return int((session.ends_at - session.starts_at).total_seconds() // 60)


@transaction.atomic
def attendance_record(
    *,
    booking: Booking,
    attendance: str,
    minutes_late: int | None = None,
    minutes_attended: int | None = None,
    by: Any,
    request: HttpRequest | None = None,
) -> Booking:
    """Record (or correct) attendance once the session has started. Minutes attended
    default from the session's length: all of it present, less the minutes late, none
    when absent or excused; leaving early needs the minutes."""
    require_role(by, CLINICAL_ROLES, "record attendance")
    booking = Booking.objects.select_for_update().select_related("session").get(pk=booking.pk)
    session = booking.session
    if booking.status != BookingStatus.BOOKED or session.status != SessionStatus.SCHEDULED:
        raise Conflict("This booking or its session is cancelled; there is no attendance to record.")
    if session.starts_at > timezone.now():
        raise ApplicationError(
            "The session has not started yet.", extra={"fields": {"attendance": ["Session in the future."]}}
        )
    length = _minutes(session)
    if attendance == Attendance.LATE and not minutes_late:
        raise ApplicationError("Say how many minutes late.", extra={"fields": {"minutes_late": ["Required."]}})
    if attendance != Attendance.LATE and minutes_late is not None:
        raise ApplicationError(
            "Minutes late go with attendance 'late'.", extra={"fields": {"minutes_late": ["Only when late."]}}
        )
    if attendance == Attendance.LEFT_EARLY and minutes_attended is None:
        raise ApplicationError(
            "Say how many minutes they attended before leaving.", extra={"fields": {"minutes_attended": ["Required."]}}
        )
    defaults = {
        Attendance.PRESENT: length,
        Attendance.LATE: length - min(minutes_late or 0, length),
        Attendance.ABSENT: 0,
        Attendance.EXCUSED: 0,
    }
    attended = minutes_attended if minutes_attended is not None else defaults.get(Attendance(attendance), 0)
    if not 0 <= attended <= length:
        raise ApplicationError(
            f"Minutes attended must be between 0 and the session's {length}.",
            extra={"fields": {"minutes_attended": [f"0 to {length}."]}},
        )
    if attendance == Attendance.LATE and (minutes_late or 0) + attended > length:
        raise ApplicationError(
            f"Minutes late and minutes attended add up to more than the session's {length}.",
            extra={"fields": {"minutes_attended": [f"At most {length - (minutes_late or 0)}."]}},
        )
    if attendance in {Attendance.ABSENT, Attendance.EXCUSED} and attended:
        raise ApplicationError(
            "Someone absent or excused attended no minutes.", extra={"fields": {"minutes_attended": ["Must be 0."]}}
        )
    booking.attendance, booking.minutes_late, booking.minutes_attended = attendance, minutes_late, attended
    booking.attendance_recorded_by, booking.attendance_recorded_at = by, timezone.now()
    booking.save()
    audit_objects([booking], AuditAction.UPDATE, by=by, request=request)
    return booking
