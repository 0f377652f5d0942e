import pytest

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import PatientContact
from scheduling.models import Booking, Session, SessionStaff
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

TOMORROW_10 = "2026-11-24T10:00:00-05:00"


def appointment(patient, staff, place, room=None, **overrides):
    return {
        "session_type": "individual_therapy",
        "patient": str(patient.public_id),
        "staff": [str(s.public_id) for s in staff],
        "location": str(place.public_id),
        "room": str(room.public_id) if room else None,
        "starts_at": TOMORROW_10,
        **overrides,
    }


def book(client, *args, **overrides):
    return client.post("/api/v1/sessions/", appointment(*args, **overrides), format="json")


def test_the_desk_books_an_individual_appointment(desk, admitted, therapist, location, room):
    patient = admitted()
    response = book(desk, patient, [therapist], location, room)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["session_type"], body["starts_at"], body["ends_at"]) == (
        "individual_therapy",
        "2026-11-24T10:00:00-05:00",
        "2026-11-24T10:50:00-05:00",  # the type's default length
    )
    assert body["join_url"] is None
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, patient_id=patient.public_id).exists()


def test_a_video_appointment_gets_a_join_link_from_the_session_id(desk, admitted, therapist, location, settings):
    settings.VIDEO_JOIN_URL_TEMPLATE = "https://video.example.org/join/{session_id}"
    body = book(desk, admitted(), [therapist], location, modality="video").json()
    assert body["join_url"] == f"https://video.example.org/join/{body['session']}"


def test_a_clinician_in_two_places_at_once_is_a_409_naming_the_other_session(
    desk, admitted, therapist, location, room, room_b
):
    first = book(desk, admitted(), [therapist], location, room).json()
    response = book(desk, admitted(), [therapist], location, room_b, starts_at="2026-11-24T10:30:00-05:00")
    assert response.status_code == 409
    body = response.json()
    assert body["extra"]["conflict"] == "staff"
    assert body["extra"]["session"] == first["session"]
    assert "2026-11-24 10:00" in body["message"]
    assert Session.objects.count() == 1


def test_a_room_used_twice_is_a_409(desk, admitted, therapist, staff_of, location, room):
    book(desk, admitted(), [therapist], location, room)
    response = book(desk, admitted(), [staff_of()], location, room, starts_at="2026-11-24T10:49:00-05:00")
    assert (response.status_code, response.json()["extra"]["conflict"]) == (409, "room")


def test_a_patient_in_overlapping_sessions_is_a_409(desk, admitted, therapist, staff_of, location, room, room_b):
    patient = admitted()
    book(desk, patient, [therapist], location, room)
    prescriber = staff_of(Role.PRESCRIBER)
    response = book(desk, patient, [prescriber], location, room_b, session_type="psychiatry")
    assert (response.status_code, response.json()["extra"]["conflict"]) == (409, "patient")
    assert Booking.objects.count() == 1
    assert SessionStaff.objects.count() == 1


def test_back_to_back_sessions_do_not_clash(desk, admitted, therapist, location, room):
    patient = admitted()
    book(desk, patient, [therapist], location, room, ends_at="2026-11-24T11:00:00-05:00")
    assert book(desk, patient, [therapist], location, room, starts_at="2026-11-24T11:00:00-05:00").status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": "2026-11-24T09:00:00-05:00"}, "ends_at"),
        ({"starts_at": "2026-11-20T10:00:00-05:00"}, "starts_at"),
        ({"session_type": "psychiatry"}, "staff"),  # a clinician may not lead psychiatry
        ({"session_type": "group_therapy"}, "session_type"),
        ({"session_type": "nope"}, "session_type"),
        ({"location": "6f1c1a5e-0000-4000-8000-000000000000"}, "location"),
        ({"staff": ["6f1c1a5e-0000-4000-8000-000000000000"]}, "staff"),
        ({"room": None}, "room"),  # in person needs a room
    ],
)
def test_bad_appointments_are_a_400_and_nothing_is_written(desk, admitted, therapist, location, room, overrides, field):
    response = desk.post(
        "/api/v1/sessions/", appointment(admitted(), [therapist], location, room) | overrides, format="json"
    )
    assert response.status_code == 400, response.json()
    assert field in response.json()["extra"]["fields"]
    assert not Session.objects.exists()


def test_only_an_intake_can_be_booked_before_admission(desk, therapist, location, room):
    referred = PatientFactory.create()
    refused = book(desk, referred, [therapist], location, room)
    assert refused.status_code == 400
    assert "no active episode" in refused.json()["message"]
    assert book(desk, referred, [therapist], location, room, session_type="intake_assessment").status_code == 201


def test_a_family_session_needs_a_family_involvement_consent_naming_the_person(
    desk, admitted, therapist, location, room, family_consent
):
    patient = admitted()
    sister = PatientContact.objects.create(
        patient=patient, name="Dana Ruiz", relationship="sibling", phone="+16175550111"
    )
    body = appointment(patient, [therapist], location, room, session_type="family_session")
    refused = desk.post("/api/v1/sessions/", body | {"family_contacts": [str(sister.public_id)]}, format="json")
    assert refused.status_code == 403
    assert "Dana Ruiz" in refused.json()["message"]
    assert refused.json()["extra"]["missing_consent"]["purpose"] == "family_involvement"
    assert not Session.objects.exists()
    family_consent(patient, "Dana Ruiz", expires_on="2027-11-01")
    allowed = desk.post("/api/v1/sessions/", body | {"family_contacts": [str(sister.public_id)]}, format="json")
    assert allowed.status_code == 201, allowed.json()
    assert allowed.json()["family_participants"][0]["name"] == "Dana Ruiz"


def test_rescheduling_moves_everyone_and_refuses_a_clash(desk, admitted, therapist, location, room, room_b):
    first = book(desk, admitted(), [therapist], location, room).json()
    book(desk, admitted(), [therapist], location, room_b, starts_at="2026-11-24T13:00:00-05:00")
    clash = desk.post(
        f"/api/v1/sessions/{first['session']}/reschedule/", {"starts_at": "2026-11-24T13:30:00-05:00"}, format="json"
    )
    assert (clash.status_code, clash.json()["extra"]["conflict"]) == (409, "staff")
    moved = desk.post(
        f"/api/v1/sessions/{first['session']}/reschedule/", {"starts_at": "2026-11-25T09:00:00-05:00"}, format="json"
    )
    assert moved.status_code == 200
    assert (moved.json()["starts_at"], moved.json()["ends_at"]) == (
        "2026-11-25T09:00:00-05:00",
        "2026-11-25T09:50:00-05:00",
    )
    booking = Booking.objects.get(public_id=first["id"])
    assert booking.starts_at.isoformat() == "2026-11-25T14:00:00+00:00"
    assert SessionStaff.objects.get(session__public_id=first["session"]).starts_at == booking.starts_at


def test_cancelling_a_session_frees_the_clinician_and_cancels_the_booking(desk, admitted, therapist, location, room):
    first = book(desk, admitted(), [therapist], location, room).json()
    response = desk.post(f"/api/v1/sessions/{first['session']}/cancel/", {"reason": "Clinician ill"}, format="json")
    assert response.json()["status"] == "cancelled"
    booking = Booking.objects.get(public_id=first["id"])
    assert (booking.status, booking.cancelled_by) == ("cancelled", "clinic")
    assert book(desk, admitted(), [therapist], location, room).status_code == 201
    again = desk.post(f"/api/v1/sessions/{first['session']}/cancel/", {"reason": "again"}, format="json")
    assert again.status_code == 409


def test_billing_cannot_book_and_an_off_team_clinician_cannot_see_the_patient(
    make_user, client_for, admitted, therapist, location, room
):
    patient = admitted()
    assert book(client_for(make_user(Role.BILLING)), patient, [therapist], location, room).status_code == 403
    assert book(client_for(make_user(Role.CLINICIAN)), patient, [therapist], location, room).status_code == 404


def test_unauthenticated_is_401(api_client):
    assert api_client.get("/api/v1/sessions/").status_code == 401
    assert api_client.post("/api/v1/sessions/", {}).status_code == 401


def test_an_impossible_time_is_a_400_not_a_500(desk, admitted, therapist, location):
    # Found by the schema fuzzer: "12:99" has the shape of a time, and parsing it raised.
    response = book(desk, admitted(), [therapist], location, starts_at="2026-11-24T12:99:00Z")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"starts_at"}
