"""Holes a reviewer found by trying to break scheduling, each kept closed."""

from datetime import date

import pytest

from clinic.models import LevelOfCare
from clinic.roles import Role
from patients.models import PatientContact
from patients.services.episodes import episode_discharge
from scheduling.models import Booking, LevelChangeReview, Session
from tests.clinic.factories import RoomFactory
from tests.patients.factories import PatientFactory
from tests.scheduling.test_appointments import appointment, book

pytestmark = pytest.mark.django_db


def test_an_off_team_clinician_cannot_move_or_cancel_someone_elses_appointment(
    desk, admitted, therapist, staff_of, location, room, client_for
):
    first = book(desk, admitted(), [therapist], location, room).json()
    outsider = client_for(staff_of().user)
    url = f"/api/v1/sessions/{first['session']}"
    assert outsider.post(f"{url}/reschedule/", {"starts_at": "2026-12-04T10:05:00-05:00"}).status_code == 404
    assert outsider.post(f"{url}/cancel/", {"reason": "oops"}).status_code == 404
    assert Session.objects.get(public_id=first["session"]).status == "scheduled"
    # The clinician who leads it may.
    lead = client_for(therapist.user)
    assert lead.post(f"{url}/reschedule/", {"starts_at": "2026-12-04T10:05:00-05:00"}).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starts_at": "9999-12-31T23:00:00+00:00"}, "starts_at"),
        ({"starts_at": "2029-01-01T10:00:00-05:00"}, "starts_at"),
        ({"ends_at": "2026-12-09T10:00:00-05:00"}, "ends_at"),  # a 15-day "session"
        ({"starts_at": "2026-11-24T10:00:00"}, "starts_at"),  # no offset: whose 10:00?
    ],
)
def test_times_a_person_would_never_mean_are_a_400(desk, admitted, therapist, location, room, overrides, field):
    body = appointment(admitted(), [therapist], location, room) | overrides
    response = desk.post("/api/v1/sessions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Session.objects.exists()


def test_a_rescheduled_group_session_is_not_made_again(make_track, admitted, desk):
    from scheduling.services.tracks import track_generate

    track, _ = make_track()
    session = Session.objects.filter(track=track).earliest("starts_at")
    moved = desk.post(f"/api/v1/sessions/{session.public_id}/reschedule/", {"starts_at": "2026-11-25T15:30:00-05:00"})
    assert moved.status_code == 200, moved.json()
    assert track_generate(track=track).created == 0
    assert Session.objects.filter(track=track).count() == 24


def test_a_family_session_names_known_contacts_and_keeps_its_consent_when_moved(
    desk, admitted, therapist, location, room, family_consent
):
    patient = admitted()
    base = appointment(patient, [therapist], location, room, session_type="family_session")
    unknown = desk.post(
        "/api/v1/sessions/", base | {"family_contacts": ["00000000-0000-4000-8000-000000000000"]}, format="json"
    )
    assert (unknown.status_code, list(unknown.json()["extra"]["fields"])) == (400, ["family_contacts"])
    assert desk.post("/api/v1/sessions/", base, format="json").status_code == 400  # nobody named
    partner = PatientContact.objects.create(
        patient=patient, name="Sam Lee", relationship="spouse_partner", phone="+16175550199"
    )
    family_consent(patient, "Sam Lee", expires_on="2026-12-10")
    made = desk.post("/api/v1/sessions/", base | {"family_contacts": [str(partner.public_id)]}, format="json")
    assert made.status_code == 201
    late = desk.post(
        f"/api/v1/sessions/{made.json()['session']}/reschedule/", {"starts_at": "2026-12-15T10:00:00-05:00"}
    )
    assert late.status_code == 403
    assert "Sam Lee" in late.json()["message"]


def test_a_track_rule_that_would_crash_the_parser_is_a_400(make_user, client_for, location, room, therapist):
    admin = client_for(make_user(Role.CLINIC_ADMIN))
    body = {
        "name": "x", "level": "iop", "location": str(location.public_id), "room": str(room.public_id),
        "facilitators": [str(therapist.public_id)], "capacity": 5, "starts_on": "2026-11-24", "start_time": "09:00",
        "duration_minutes": 60,
    }  # fmt: skip
    for rule in ["FREQ=DAILY;INTERVAL=-5", "FREQ=MONTHLY;BYDAY=53MO", "FREQ=DAILY;INTERVAL=0"]:
        response = admin.post("/api/v1/tracks/", body | {"rrule": rule}, format="json")
        assert (response.status_code, list(response.json()["extra"]["fields"])) == (400, ["rrule"]), rule


def test_a_clash_is_told_on_the_locations_clock(desk, admitted, therapist, make_user, client_for):
    from zoneinfo import ZoneInfo

    from tests.clinic.factories import LocationFactory

    honolulu = LocationFactory.create(name="Honolulu", time_zone=ZoneInfo("Pacific/Honolulu"))
    lanai = RoomFactory.create(location=honolulu, name="Lanai")
    body = appointment(admitted(), [therapist], honolulu, lanai, starts_at="2026-12-01T10:00:00-10:00")
    desk.post("/api/v1/sessions/", body, format="json")
    clash = desk.post("/api/v1/sessions/", body | {"patient": str(admitted().public_id)}, format="json")
    assert clash.status_code == 409
    assert "2026-12-01 10:00-10:50 (Pacific/Honolulu)" in clash.json()["message"]


def test_a_telehealth_room_holds_many_sessions_at_once(desk, admitted, therapist, staff_of, location):
    telehealth = RoomFactory.create(location=location, name="Telehealth", is_virtual=True, capacity=15)
    for lead in (therapist, staff_of()):
        body = appointment(admitted(), [lead], location, telehealth, modality="video")
        assert desk.post("/api/v1/sessions/", body, format="json").status_code == 201


def test_program_hours_list_admitted_patients_only_and_refuse_absurd_weeks(desk, admitted):
    patient = admitted()
    never = PatientFactory.create()
    rows = desk.get("/api/v1/program-hours/").json()["results"]
    assert [row["patient"] for row in rows] == [str(patient.public_id)]
    assert str(never.public_id) not in str(rows)
    assert desk.get("/api/v1/program-hours/?week=9999-W52").status_code == 400


def test_a_discharge_lists_every_future_appointment_and_confirming_cancels_them(
    desk, admitted, therapist, location, room, client_for, clock, django_capture_on_commit_callbacks
):
    patient = admitted()
    first = book(desk, patient, [therapist], location, room).json()
    clock.move_to("2026-11-24 13:00:00+00:00")  # 08:00, before the 10:00 appointment
    with django_capture_on_commit_callbacks(execute=True):
        episode_discharge(
            episode=patient.episodes.get(),
            discharged_on=date(2026, 11, 24),
            reason="completed",
            aftercare={"safety_plan": "Call or text 988"},
            by=therapist.user,
        )
    review = LevelChangeReview.objects.get()
    assert [b.public_id for b in review.bookings_to_cancel.all()] == [
        Booking.objects.get(public_id=first["id"]).public_id
    ]
    clinician = client_for(therapist.user)
    assert (
        clinician.post(
            f"/api/v1/level-change-reviews/{review.public_id}/confirm/", {"track": None}, format="json"
        ).status_code
        == 200
    )
    booking = Booking.objects.get(public_id=first["id"])
    assert (booking.status, booking.cancelled_by) == ("cancelled", "clinic")


def test_a_one_to_one_is_not_booked_as_a_group_and_its_cancellation_frees_the_clinician(
    desk, admitted, therapist, location, room
):
    first = book(desk, admitted(), [therapist], location, room).json()
    other = admitted()
    as_group = desk.post("/api/v1/bookings/", {"session": first["session"], "patient": str(other.public_id)})
    assert as_group.status_code == 400
    desk.post(f"/api/v1/bookings/{first['id']}/cancel/", {"cancelled_by": "patient"})
    assert Session.objects.get(public_id=first["session"]).status == "cancelled"
    assert book(desk, other, [therapist], location, room).status_code == 201


def test_a_deactivated_clinicians_feed_stops(client, client_for, therapist):
    url = client_for(therapist.user).post("/api/v1/calendar-feeds/").json()["url"].removeprefix("http://testserver")
    assert client.get(url).status_code == 200
    therapist.user.is_active = False
    therapist.user.save()
    assert client.get(url).status_code == 404


def test_late_minutes_and_attended_minutes_fit_in_the_session(make_track, admitted, therapist, client_for, clock):
    from scheduling.services.tracks import enrollment_create

    track, _ = make_track()
    patient = admitted()
    enrollment_create(track=track, patient=patient, by=therapist.user)
    booking = Booking.objects.filter(patient=patient).earliest("starts_at")
    clock.move_to("2026-11-25 18:00:00+00:00")
    response = client_for(therapist.user).post(
        f"/api/v1/bookings/{booking.public_id}/attendance/",
        {"attendance": "late", "minutes_late": 170, "minutes_attended": 50},
        format="json",
    )
    assert response.status_code == 400


def test_a_nurse_does_not_confirm_a_level_change_review(
    make_user, client_for, admitted, therapist, clock, django_capture_on_commit_callbacks
):
    from patients.services.episodes import episode_transition
    from tests.patients.factories import put_on_care_team

    patient = admitted("php")
    nurse = make_user(Role.NURSE)
    put_on_care_team(patient, nurse, "nurse")
    clock.move_to("2026-11-24 15:00:00+00:00")
    with django_capture_on_commit_callbacks(execute=True):
        episode_transition(
            episode=patient.episodes.get(), to_level=LevelOfCare.objects.get(code="iop"),
            effective_on=date(2026, 11, 24), reason="Stable", by=therapist.user,
        )  # fmt: skip
    review = LevelChangeReview.objects.get()
    assert client_for(nurse).post(f"/api/v1/level-change-reviews/{review.public_id}/confirm/", {}).status_code == 403
