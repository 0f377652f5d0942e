"""Two people booking at the same moment, on real concurrent connections: the database
decides, and the loser gets a 409."""

import pytest

from clinic.roles import Role
from scheduling.models import Booking, Session, SessionType
from scheduling.services.appointments import appointment_create
from scheduling.services.bookings import booking_create
from tests.utils import race


@pytest.mark.django_db(transaction=True)
def test_two_desks_cannot_both_take_the_last_seat(make_user, make_track, admitted):
    track, _ = make_track(name="Small group", capacity=1, rrule="FREQ=WEEKLY;BYDAY=WE", duration_minutes=60)
    session = Session.objects.filter(track=track).earliest("starts_at")
    desk = make_user(Role.ADMISSIONS)
    first, second = admitted(), admitted()
    outcomes = race(
        lambda: booking_create(session=session, patient=first, by=desk),
        lambda: booking_create(session=session, patient=second, by=desk),
    )
    assert outcomes == ["Conflict", "ok"]
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

    assert race(book(first, room), book(second, room_b)) == ["Conflict", "ok"]
    assert Session.objects.count() == 1
