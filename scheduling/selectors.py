"""Scheduling reads: sessions and rosters, calendars, weekly program hours, the reminders' day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.db import PreparedPage
from patients.models import EpisodeOfCare, Patient, ReminderChannel
from patients.selectors import current_stays
from scheduling.hours import Week
from scheduling.models import (
    Booking,
    BookingStatus,
    CancelledBy,
    InboundMessage,
    OptOut,
    Reminder,
    ReminderStatus,
    Session,
    SessionStaff,
    StaffTask,
    StaffTaskKind,
)


def session_list() -> QuerySet[Session]:
    """Sessions with their leads and how many are booked (a count, not the bookings: a week
    view shows places taken, not who took them)."""
    # In the order they were put on the session, as session_rows lists them.
    staff = SessionStaff.objects.filter(is_active=True).select_related("user__staff_profile").order_by("id")
    booked = Booking.objects.filter(session=OuterRef("pk"), status=BookingStatus.BOOKED)
    return (
        Session.objects.select_related("session_type", "location", "room", "track")
        .prefetch_related(Prefetch("staff", queryset=staff))
        .annotate(booked_count=Coalesce(Subquery(booked.values("session").annotate(n=Count("pk")).values("n")), 0))
    )


# The session list (the clinician's week view, the busiest read there is) as two prepared
# statements (clinic/db.py) instead of ORM querysets compiled and planned on every request.
# Its columns are what SessionOutputSerializer shows, in scheduling.api.serializers.
# session_output_from_row's order; tests/scheduling/test_session_list.py holds the two to
# the same output. The staff are ordered by when they were put on the session.
_SESSION_FROM = """
FROM scheduling_session s
JOIN scheduling_sessiontype st ON st.id = s.session_type_id
JOIN clinic_location l ON l.id = s.location_id
LEFT JOIN scheduling_grouptrack tr ON tr.id = s.track_id
LEFT JOIN clinic_room r ON r.id = s.room_id"""
_SESSION_COLUMNS = f"""
SELECT s.public_id::text, st.code, tr.public_id::text, l.public_id::text, r.public_id::text, r.name,
       s.starts_at, s.ends_at, s.capacity,
       (SELECT count(*) FROM scheduling_booking b WHERE b.session_id = s.id AND b.status = '{BookingStatus.BOOKED}'),
       s.modality, s.topic, s.status, s.cancel_reason,
       (SELECT coalesce(json_agg(json_build_object(
                   'id', sp.public_id, 'name', btrim(u.first_name || ' ' || u.last_name)) ORDER BY x.id), '[]')
          FROM scheduling_sessionstaff x
          JOIN auth_user u ON u.id = x.user_id
          LEFT JOIN clinic_staffprofile sp ON sp.user_id = u.id
         WHERE x.session_id = s.id AND x.is_active)"""  # noqa: S608 - constant text
# One fragment per SessionFilter filter, in the order their values are passed.
_SESSION_WHERE = {
    "location": "l.public_id = %s",
    "room": "r.public_id = %s",
    "track": "tr.public_id = %s",
    "session_type": "st.code = %s",
    "status": "s.status = %s",
    "start": "s.ends_at > %s",
    "end": "s.starts_at < %s",
}


def session_rows(filters: dict[str, Any]) -> PreparedPage:
    """Sessions matching SessionFilter's cleaned `filters`, by start time (cancelled ones
    included, marked). `staff` is a staff id: the sessions they lead, found through the time
    range copied onto SessionStaff (its (user, starts_at) index) bounded by start and end,
    rather than a walk through every session the person ever led."""
    where: list[str] = []
    params: list[Any] = []
    if filters.get("staff") is not None:
        led = ["sp.public_id = %s"]
        params.append(filters["staff"])
        for name, condition in (("start", "x.ends_at > %s"), ("end", "x.starts_at < %s")):
            if filters.get(name) is not None:
                led.append(condition)
                params.append(filters[name])
        where.append(
            "s.id IN (SELECT x.session_id FROM scheduling_sessionstaff x "  # noqa: S608 - constant fragments
            f"JOIN clinic_staffprofile sp ON sp.user_id = x.user_id WHERE {' AND '.join(led)})"
        )
    for name, condition in _SESSION_WHERE.items():
        if filters.get(name) not in (None, ""):
            where.append(condition)
            params.append(filters[name])
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return PreparedPage(
        count_sql=f"SELECT count(*){_SESSION_FROM}{clause}",
        page_sql=f"{_SESSION_COLUMNS}{_SESSION_FROM}{clause} ORDER BY s.starts_at, s.id",
        params=params,
    )


def session_list_with_patients() -> QuerySet[Session]:
    """Sessions with their booked patients too (the calendar feed's initials, the admin)."""
    live = Booking.objects.filter(status=BookingStatus.BOOKED).select_related("patient")
    return session_list().prefetch_related(Prefetch("bookings", queryset=live, to_attr="live_bookings"))


def booking_list() -> QuerySet[Booking]:
    return Booking.objects.select_related("patient", "session__session_type", "session__location", "session__room")


def roster(session: Session) -> QuerySet[Booking]:
    return booking_list().filter(session=session).order_by("patient__legal_last_name", "patient__legal_first_name")


def staff_schedule(user: Any, start: datetime, end: datetime) -> QuerySet[Session]:
    """The sessions a staff member leads that overlap [start, end), cancelled ones included
    (marked) so a calendar shows what changed."""
    # On the time range copied onto SessionStaff: its (user, starts_at) index, not a walk
    # through every session the person ever led.
    led = SessionStaff.objects.filter(user=user, starts_at__lt=end, ends_at__gt=start).values("session_id")
    return session_list_with_patients().filter(pk__in=led)


class _NaiveDateTimeField(DateTimeField):
    # Lets the ORM compare a timestamp without time zone with a naive datetime as is
    # (a plain DateTimeField would make it aware in the server's zone first).
    def get_prep_value(self, value: Any) -> Any:
        return value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        return value


class _LocalTime(Func):
    # timezone(zone, timestamptz) is the wall-clock time in the patient's own zone, a
    # timestamp without time zone: compared with naive local datetimes, never converted.
    function = "timezone"
    output_field = _NaiveDateTimeField()


class _Minutes(Func):
    template = "EXTRACT(EPOCH FROM (%(expressions)s)) / 60"
    output_field = FloatField()


def with_program_minutes(patients: QuerySet[Patient], week: Week) -> QuerySet[Patient]:
    """Annotate each patient with the week's clinical minutes (sessions whose type counts
    toward program hours), in their own time zone:
    - scheduled_minutes: booked sessions, no-shows included (they were on the schedule);
    - attended_minutes: minutes attended as recorded;
    - projected_minutes: attended for sessions that have ended, the full length for those
      still to come: where the week is heading.
    One subquery each, whatever the number of patients."""
    monday = datetime.combine(week.monday(), time(0))
    in_week = (
        Booking.objects.filter(patient=OuterRef("pk"), session__session_type__counts_toward_program_hours=True)
        .annotate(local_start=_LocalTime(F("patient__time_zone"), F("starts_at")))
        .filter(local_start__gte=monday, local_start__lt=monday + timedelta(days=7))
    )
    on_schedule = Q(status=BookingStatus.BOOKED) | Q(cancelled_by=CancelledBy.NO_SHOW)
    length = _Minutes(F("ends_at") - F("starts_at"))
    now = timezone.now()

    def total(expression: Any, rows: QuerySet[Booking]) -> Coalesce:
        summed = rows.values("patient").annotate(total=Sum(expression)).values("total")
        return Coalesce(Subquery(summed, output_field=FloatField()), Value(0.0))

    scheduled = in_week.filter(on_schedule)
    projected = Case(
        When(ends_at__lte=now, then=Coalesce(F("minutes_attended"), Value(0), output_field=IntegerField())),
        default=length,
        output_field=FloatField(),
    )
    return patients.annotate(
        scheduled_minutes=total(length, scheduled),
        attended_minutes=total(Coalesce(F("minutes_attended"), Value(0)), in_week.filter(status=BookingStatus.BOOKED)),
        projected_minutes=total(projected, scheduled),
    )


def program_hours_list(patients: QuerySet[Patient], week: Week) -> QuerySet[Patient]:
    """Admitted patients with their current level and the week's minutes."""
    level = current_stays().filter(episode__patient=OuterRef("pk"))
    admitted = EpisodeOfCare.objects.filter(discharged_on__isnull=True).values("patient_id")
    return with_program_minutes(
        patients.filter(pk__in=admitted).annotate(
            level_code=Subquery(level.values("level__code")[:1]),
            level_min_hours=Subquery(level.values("level__min_weekly_hours")[:1]),
            level_max_hours=Subquery(level.values("level__max_weekly_hours")[:1]),
        ),
        week,
    ).order_by("legal_last_name", "legal_first_name", "pk")


def patients_under_band(patients: QuerySet[Patient], week: Week) -> QuerySet[Patient]:
    """Patients whose week is heading under their level's minimum hours."""
    # The annotations are made by program_hours_list; the type checker cannot see them.
    under = {"level_min_hours__isnull": False, "projected_minutes__lt": F("level_min_hours") * 60}
    return program_hours_list(patients, week).filter(**under)


def reminder_day_summary(day: date, zone: ZoneInfo) -> dict[str, Any]:
    """What the reminders did on one day of the clinic's calendar: sent by channel, delivered,
    failed, skipped, opt-outs and opt-ins, confirmations, reschedule requests, replies; and
    the desk's queue as it stands. Counts only, one aggregate query per table."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    sent_today = Q(sent_at__gte=start, sent_at__lt=end)
    settled_today = Q(updated_at__gte=start, updated_at__lt=end)
    reminders = Reminder.objects.aggregate(
        sent_sms=Count("pk", filter=sent_today & Q(channel=ReminderChannel.SMS)),
        sent_email=Count("pk", filter=sent_today & Q(channel=ReminderChannel.EMAIL)),
        delivered=Count("pk", filter=sent_today & Q(status=ReminderStatus.DELIVERED)),
        failed=Count("pk", filter=settled_today & Q(status=ReminderStatus.FAILED)),
        skipped=Count("pk", filter=settled_today & Q(status=ReminderStatus.SKIPPED)),
    )
    # Every change of an opt-out is one history row (opt_out_set saves only on a change).
    changes = OptOut.history.filter(changed_at__gte=start, changed_at__lt=end).aggregate(
        stopped=Count("pk", filter=Q(opted_out=True)),
        resumed=Count("pk", filter=Q(opted_out=False)),
    )
    confirmed = Booking.objects.filter(confirmed_at__gte=start, confirmed_at__lt=end).count()
    tasks = StaffTask.objects.aggregate(
        reschedule_requests=Count(
            "pk", filter=Q(kind=StaffTaskKind.RESCHEDULE_REQUEST, created_at__gte=start, created_at__lt=end)
        ),
        **{f"open_{kind}": Count("pk", filter=Q(kind=kind, done_at__isnull=True)) for kind in StaffTaskKind.values},
    )
    replies = InboundMessage.objects.filter(received_at__gte=start, received_at__lt=end).count()
    return {
        "date": day,
        "time_zone": str(zone),
        "sent": {"sms": reminders["sent_sms"], "email": reminders["sent_email"]},
        "delivered": reminders["delivered"],
        "failed": reminders["failed"],
        "skipped": reminders["skipped"],
        "opted_out": changes["stopped"],
        "opted_back_in": changes["resumed"],
        "confirmed": confirmed,
        "reschedule_requests": tasks["reschedule_requests"],
        "replies_received": replies,
        "open_staff_tasks": {kind: tasks[f"open_{kind}"] for kind in StaffTaskKind.values},
    }


def opt_outs_with_history(rows: list[OptOut]) -> list[OptOut]:
    """The rows, each with `.changes`: its history newest first, read in one query for all
    (simple_history's `history` manager cannot be prefetched)."""
    changes: dict[int, list[Any]] = {row.pk: [] for row in rows}
    history = OptOut.history.filter(id__in=list(changes)).select_related("changed_by")
    for change in history.order_by("-history_date", "-history_id"):
        changes[change.id].append(change)
    for row in rows:
        row.changes = changes[row.pk]  # type: ignore[attr-defined]
    return rows
