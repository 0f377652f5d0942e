"""Scheduling reads: sessions and rosters, calendars, weekly program hours."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

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

from patients.models import EpisodeOfCare, Patient
from patients.selectors import current_stays
from scheduling.hours import Week
from scheduling.models import Booking, BookingStatus, CancelledBy, Session, SessionStaff


def session_list() -> QuerySet[Session]:
    """Sessions with their leads and how many are booked (a count, not the bookings: a week
    view shows places taken, not who took them)."""
    staff = SessionStaff.objects.filter(is_active=True).select_related("user__staff_profile")
    booked = Booking.objects.filter(session=OuterRef("pk"), status=BookingStatus.BOOKED)
    return (
        Session.objects.select_related("session_type", "location", "room", "track")
        .prefetch_related(Prefetch("staff", queryset=staff))
        .annotate(booked_count=Coalesce(Subquery(booked.values("session").annotate(n=Count("pk")).values("n")), 0))
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
