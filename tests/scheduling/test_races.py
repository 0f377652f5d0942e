"""Two people booking at the same moment, on real concurrent connections: the database
decides, and the loser gets a 409."""

import threading
from datetime import date, time

import pytest
from django.db import connection

from clinic.errors import Conflict
from clinic.models import LevelOfCare
from clinic.roles import Role
from scheduling.models import Booking, Session, SessionType
from scheduling.services.appointments import appointment_create
from scheduling.services.bookings import booking_create
from scheduling.services.tracks import track_create


def race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes.append("ok")
        except Conflict:
            outcomes.append("409")
        except Exception as exc:  # a 500 would show up here
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_desks_cannot_both_take_the_last_seat(make_user, location, room, therapist, admitted):
    track, _ = track_create(
        by=make_user(Role.CLINIC_ADMIN),
        facilitators=[therapist.user],
        name="Small group",
        level=LevelOfCare.objects.get(code="iop"),
        location=location,
        session_type=SessionType.objects.get(code="group_therapy"),
        room=room,
        capacity=1,
        rrule="FREQ=WEEKLY;BYDAY=WE",
        starts_on=date(2026, 11, 25),
        start_time=time(9),
        duration_minutes=60,
    )
    session = Session.objects.filter(track=track).earliest("starts_at")
    desk = make_user(Role.ADMISSIONS)
    first, second = admitted(), admitted()
    outcomes = race(
        lambda: booking_create(session=session, patient=first, by=desk),
        lambda: booking_create(session=session, patient=second, by=desk),
    )
    assert outcomes == ["409", "ok"]
    assert Booking.objects.filter(session=session, status="booked").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_desks_cannot_double_book_a_clinician(make_user, location, room, room_b, therapist, admitted):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    desk = make_user(Role.ADMISSIONS)
    individual = SessionType.objects.get(code="individual_therapy")
    at = datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("America/New_York"))
    first, second = admitted(), admitted()

    def book(patient, where):
        return lambda: appointment_create(
            session_type=individual, patient=patient, staff=[therapist.user], location=location, room=where,
            starts_at=at, by=desk,
        )  # fmt: skip

    assert race(book(first, room), book(second, room_b)) == ["409", "ok"]
    assert Session.objects.count() == 1
