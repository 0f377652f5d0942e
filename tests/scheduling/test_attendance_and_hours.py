from datetime import date

import pytest

from clinic.roles import Role
from scheduling.hours import Week, band_status
from scheduling.models import Booking, Session
from scheduling.services.tracks import enrollment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def iop_track(make_track):
    # Mon/Wed/Thu 09:00-12:00: 9 clinical hours a week, exactly the IOP minimum.
    return make_track(name="IOP mornings", capacity=2)[0]


@pytest.fixture
def enrolled(iop_track, admitted, therapist):
    patient = admitted("iop")
    enrollment_create(track=iop_track, patient=patient, by=therapist.user)
    return patient


def test_band_edges():
    assert band_status(20 * 60, 20, None) == "within"
    assert band_status(20 * 60 - 1, 20, None) == "under"
    assert band_status(9 * 60, 9, 20) == "within"
    assert band_status(20 * 60, 9, 20) == "over"
    assert band_status(0, None, None) == "within"


def test_iso_weeks_parse_and_refuse_nonsense():
    assert str(Week.parse("2026-w48")) == "2026-W48"
    assert Week.parse("2026-W48").monday() == date(2026, 11, 23)
    for bad in ["2026-48", "2026-W54", "W48", ""]:
        with pytest.raises(ValueError, match="ISO week"):
            Week.parse(bad)


def hours(client, week="2026-W49", **params):
    query = "&".join(f"{k}={v}" for k, v in {"week": week, **params}.items())
    return client.get(f"/api/v1/program-hours/?{query}")


def test_program_hours_follow_attendance(enrolled, therapist, client_for, clock, desk):
    week = {row["patient"]: row for row in hours(desk).json()["results"]}[str(enrolled.public_id)]
    # Week 49 (30 November - 6 December): three 3-hour groups booked, none attended yet.
    assert (week["scheduled_hours"], week["attended_hours"], week["projected_hours"], week["band"]) == (
        9.0, 0.0, 9.0, "within",
    )  # fmt: skip
    sessions = list(Session.objects.filter(starts_at__date__gte="2026-11-30").order_by("starts_at")[:3])
    clock.move_to("2026-12-03 18:00:00+00:00")  # Thursday 13:00: all three are over
    clinician = client_for(therapist.user)
    booking = {s: Booking.objects.get(session=s, patient=enrolled) for s in sessions}
    ok = clinician.post(f"/api/v1/bookings/{booking[sessions[0]].public_id}/attendance/", {"attendance": "present"})
    assert ok.json()["minutes_attended"] == 180
    late = clinician.post(
        f"/api/v1/bookings/{booking[sessions[1]].public_id}/attendance/",
        {"attendance": "late", "minutes_late": 30},
        format="json",
    )
    assert late.json()["minutes_attended"] == 150
    clinician.post(f"/api/v1/bookings/{booking[sessions[2]].public_id}/attendance/", {"attendance": "absent"})
    row = hours(clinician, under_band="true").json()["results"][0]
    assert (row["scheduled_hours"], row["attended_hours"], row["projected_hours"], row["band"]) == (
        9.0, 5.5, 5.5, "under",
    )  # fmt: skip
    assert row["patient"] == str(enrolled.public_id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attendance": "late"}, "minutes_late"),
        ({"attendance": "present", "minutes_late": 5}, "minutes_late"),
        ({"attendance": "left_early"}, "minutes_attended"),
        ({"attendance": "present", "minutes_attended": 181}, "minutes_attended"),
        ({"attendance": "absent", "minutes_attended": 10}, "minutes_attended"),
        ({"attendance": "maybe"}, "attendance"),
    ],
)
def test_attendance_that_does_not_add_up_is_a_400(enrolled, therapist, client_for, clock, body, field):
    booking = Booking.objects.filter(patient=enrolled).earliest("starts_at")
    clock.move_to("2026-11-25 17:00:00+00:00")  # Wednesday noon: the first group is over
    response = client_for(therapist.user).post(f"/api/v1/bookings/{booking.public_id}/attendance/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["extra"]["fields"]
    booking.refresh_from_db()
    assert booking.attendance == ""


def test_attendance_waits_for_the_session_and_is_clinical_work(enrolled, therapist, client_for, desk):
    booking = Booking.objects.filter(patient=enrolled).earliest("starts_at")
    url = f"/api/v1/bookings/{booking.public_id}/attendance/"
    early = client_for(therapist.user).post(url, {"attendance": "present"})
    assert early.status_code == 400
    assert desk.post(url, {"attendance": "present"}).status_code == 403


def test_the_last_seat_goes_once(iop_track, admitted, desk):
    session = Session.objects.filter(track=iop_track).earliest("starts_at")
    results = [
        desk.post("/api/v1/bookings/", {"session": str(session.public_id), "patient": str(admitted().public_id)})
        for _ in range(3)
    ]
    assert [r.status_code for r in results] == [201, 201, 409]
    assert results[2].json()["extra"]["conflict"] == "capacity"
    assert "2 of 2" in results[2].json()["message"]


def test_cancelling_late_and_no_shows(enrolled, desk, client_for, clock, make_user):
    first, second = Booking.objects.filter(patient=enrolled).order_by("starts_at")[:2]
    # Tuesday 10:00: Wednesday's 09:00 group is 23 hours away, inside the 24-hour window.
    clock.move_to("2026-11-24 15:00:00+00:00")
    desk = client_for(make_user(Role.ADMISSIONS))
    late = desk.post(f"/api/v1/bookings/{first.public_id}/cancel/", {"cancelled_by": "patient"})
    assert (late.json()["status"], late.json()["cancelled_by"], late.json()["late_cancellation"]) == (
        "cancelled", "patient", True,
    )  # fmt: skip
    not_yet = desk.post(f"/api/v1/bookings/{second.public_id}/cancel/", {"cancelled_by": "no_show"})
    assert not_yet.status_code == 400
    assert desk.post(f"/api/v1/bookings/{first.public_id}/cancel/", {"cancelled_by": "clinic"}).status_code == 409


def test_booking_into_a_cancelled_or_past_session_is_refused(iop_track, admitted, desk, make_user, client_for):
    patient = admitted()
    sessions = list(Session.objects.filter(track=iop_track).order_by("starts_at")[:1])
    desk.post(f"/api/v1/sessions/{sessions[0].public_id}/cancel/", {"reason": "Holiday"})
    body = {"session": str(sessions[0].public_id), "patient": str(patient.public_id)}
    cancelled = desk.post("/api/v1/bookings/", body)
    assert cancelled.status_code == 409
    past = Session.objects.create(
        session_type=iop_track.session_type,
        location=iop_track.location,
        starts_at="2026-11-20T14:00:00Z",
        ends_at="2026-11-20T15:00:00Z",
        capacity=5,
    )
    late = desk.post("/api/v1/bookings/", {"session": str(past.public_id), "patient": str(patient.public_id)})
    assert late.status_code == 400


def test_a_facilitator_sees_the_roster_of_the_group_they_lead_and_no_other_bookings(
    iop_track, enrolled, staff_of, client_for, desk, location, room_b
):
    from tests.scheduling.test_appointments import book

    cofacilitator = staff_of()
    iop_track.facilitators.add(cofacilitator.user)
    session = Session.objects.filter(track=iop_track).earliest("starts_at")
    session.staff.create(user=cofacilitator.user, starts_at=session.starts_at, ends_at=session.ends_at)
    other = staff_of()
    book(desk, enrolled, [other], location, room_b, starts_at="2026-11-24T15:00:00-05:00")
    client = client_for(cofacilitator.user)
    roster = client.get(f"/api/v1/bookings/?session={session.public_id}").json()["results"]
    assert [b["patient"] for b in roster] == [str(enrolled.public_id)]
    everything = client.get(f"/api/v1/bookings/?patient={enrolled.public_id}").json()["results"]
    assert {b["session"] for b in everything} == {str(session.public_id)}
