"""Scheduling writes. Shared checks live here; each concern has its module:
appointments (one-to-one), tracks (groups and their generated sessions), bookings
(booking, cancelling, attendance) and reviews (what a level-of-care change means for the
schedule).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from clinic.errors import ApplicationError, Conflict
from clinic.roles import CLINICAL_ROLES, Role, has_any_role
from patients.models import EpisodeOfCare, Patient
from scheduling.models import Booking, Session, SessionStaff, SessionType

# Who may put people in sessions: the desk and clinical staff (DESIGN.md roles).
SCHEDULERS = frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN, *CLINICAL_ROLES})

CONFLICTS = {
    "session_room_no_overlap": ("room", "The room is already in use at that time."),
    "staff_no_overlap": ("staff", "A staff member is already in another session at that time."),
    "booking_patient_no_overlap": ("patient", "The patient is already booked into another session at that time."),
    "session_one_per_track_occurrence": ("track", "The track already has a session for that occurrence."),
}


def _clashing_session(kind: str, *, start: datetime, end: datetime, ids: Iterable[int], own: int | None) -> Any:
    overlap = Q(starts_at__lt=end, ends_at__gt=start)
    others = ~Q(session_id=own) if own is not None else Q()
    if kind == "room":
        rows = Session.objects.filter(overlap, room_id__in=ids, status="scheduled").select_related("location")
        return rows.exclude(pk=own).first() if own is not None else rows.first()
    if kind == "staff":
        staff = SessionStaff.objects.filter(overlap, others, user_id__in=ids, is_active=True)
        return staff.select_related("session__location").first()
    if kind == "patient":
        bookings = Booking.objects.filter(overlap, others, patient_id__in=ids, status="booked")
        return bookings.select_related("session__location").first()
    return None


def when(session: Session) -> str:
    """A session's time as people at its location read it: "2026-11-24 10:00-10:50"."""
    zone = session.location.time_zone
    start, end = timezone.localtime(session.starts_at, zone), timezone.localtime(session.ends_at, zone)
    return (
        f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}"
        if start.date() == end.date()
        else f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    )


@contextmanager
def refusing_double_booking(
    *,
    start: datetime,
    end: datetime,
    room_ids: Iterable[int] = (),
    staff_ids: Iterable[int] = (),
    patient_ids: Iterable[int] = (),
    session_id: int | None = None,
) -> Iterator[None]:
    """Run the writes in a savepoint; when an exclusion constraint refuses them (the
    database is the last word, also when two requests race), answer 409 saying what
    clashes with what."""
    try:
        with transaction.atomic():
            yield
    except OperationalError as error:
        # Two requests inserting rows that clash with each other at the same instant can each
        # wait on the other inside the exclusion check; PostgreSQL then aborts one of them
        # ("deadlock detected"). That one lost the race: the same answer as a refusal.
        if not isinstance(error.__cause__, psycopg.errors.DeadlockDetected):
            raise
        raise Conflict(
            "Someone booked the same person, room or time at the same moment; reload and try again.",
            extra={"conflict": "concurrent"},
        ) from error
    except IntegrityError as error:
        name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if name not in CONFLICTS:
            raise
        kind, message = CONFLICTS[name]
        ids = {"room": room_ids, "staff": staff_ids, "patient": patient_ids}.get(kind, ())
        clash = _clashing_session(kind, start=start, end=end, ids=list(ids), own=session_id)
        session = getattr(clash, "session", clash)
        extra: dict[str, Any] = {"conflict": kind}
        if session is not None:
            extra |= {
                "session": str(session.public_id),
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
            }
            message = f"{message[:-1]}: a session {when(session)} ({session.location.time_zone})."
        raise Conflict(message, extra=extra) from error


# Bounds a person would never need, that keep nonsense (year 9999, a 15-day "session")
# out of calendars and of the database's date range.
MAX_DAYS_AHEAD = 730
MAX_SESSION_HOURS = 12


def check_times(starts_at: datetime, ends_at: datetime, *, field: str = "starts_at") -> None:
    if ends_at <= starts_at:
        raise ApplicationError(
            "A session must end after it starts.", extra={"fields": {"ends_at": ["Before the start."]}}
        )
    if ends_at - starts_at > timedelta(hours=MAX_SESSION_HOURS):
        raise ApplicationError(
            f"A session lasts at most {MAX_SESSION_HOURS} hours.", extra={"fields": {"ends_at": ["Too long."]}}
        )
    now = timezone.now()
    if starts_at <= now:
        raise ApplicationError(
            "That time has passed; sessions are booked for the future.", extra={"fields": {field: ["In the past."]}}
        )
    if starts_at > now + timedelta(days=MAX_DAYS_AHEAD):
        raise ApplicationError(
            f"Sessions are booked at most {MAX_DAYS_AHEAD} days ahead.", extra={"fields": {field: ["Too far ahead."]}}
        )


def check_leads(session_type: SessionType, staff: Iterable[Any], *, field: str = "staff") -> None:
    """Every lead holds a role that may lead this type of session."""
    staff = list(staff)
    if not staff:
        raise ApplicationError("A session needs someone to lead it.", extra={"fields": {field: ["Required."]}})
    allowed = frozenset(session_type.lead_roles)
    for user in staff:
        if not user.is_active or not has_any_role(user, allowed):
            raise ApplicationError(
                f"{user.get_full_name() or user.username} may not lead {session_type.name.lower()}: "
                f"it needs a {' or '.join(sorted(allowed))}.",
                extra={"fields": {field: [f"Not a {'/'.join(sorted(allowed))}."]}},
            )


def check_admitted(patient: Patient, session_type: SessionType) -> None:
    """Only an intake can be booked before admission."""
    from scheduling.session_types import INTAKE

    if session_type.code == INTAKE:
        return
    if not EpisodeOfCare.objects.filter(patient=patient, discharged_on__isnull=True).exists():
        raise ApplicationError(
            "The patient has no active episode of care; admit them first (only an intake can be booked before).",
            extra={"fields": {"patient": ["No active episode of care."]}},
        )


def room_is_exclusive(room: Any) -> bool:
    """A physical room holds one session at a time; a telehealth room any number."""
    return room is not None and not room.is_virtual
