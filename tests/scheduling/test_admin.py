from datetime import time

import pytest

from clinic.models import AuditAction, AuditEvent, LevelOfCare
from clinic.roles import Role
from scheduling.models import Booking, GroupTrack, Session, SessionType
from scheduling.services.tracks import enrollment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def track(make_track):
    return make_track(capacity=10, rrule="FREQ=DAILY", start_time=time(14), duration_minutes=120)[0]


def test_the_desk_sees_todays_sessions_room_by_room(client, make_user, track):
    client.force_login(make_user(Role.ADMISSIONS))
    page = client.get("/admin/scheduling/session/").content.decode()
    assert page.count("Roster</a>") == 1  # today's 14:00 group only
    assert "Mon 23 Nov 14:00" in page
    tomorrow = client.get("/admin/scheduling/session/?day=tomorrow").content.decode()
    assert "Tue 24 Nov 14:00" in tomorrow


def test_a_clinician_ticks_attendance_on_the_roster(client, track, admitted, therapist, clock):
    patient = admitted("iop")
    enrollment_create(track=track, patient=patient, by=therapist.user)
    session = Session.objects.filter(track=track).earliest("starts_at")
    client.force_login(therapist.user)
    url = f"/admin/scheduling/session/{session.pk}/roster/"
    page = client.get(url).content.decode()
    assert patient.mrn in page
    assert "Save attendance" not in page  # not started yet
    assert AuditEvent.objects.filter(action=AuditAction.LIST, patient_id=patient.public_id, via="admin").exists()
    clock.move_to("2026-11-23 21:00:00+00:00")  # 16:00 local: the group is over
    client.force_login(therapist.user)
    booking = Booking.objects.get(session=session, patient=patient)
    response = client.post(url, {f"attendance-{booking.pk}": "late", f"late-{booking.pk}": "20"}, follow=True)
    assert "Attendance saved for 1 patient(s)." in response.content.decode()
    booking.refresh_from_db()
    assert (booking.attendance, booking.minutes_late, booking.minutes_attended) == ("late", 20, 100)


def test_the_admin_lists_patients_under_their_band_this_week(client, make_user, track, admitted, therapist):
    short = admitted("php")  # PHP needs 20 hours; nothing is booked
    enrolled = admitted("iop")
    enrollment_create(track=track, patient=enrolled, by=therapist.user)  # 2 h a day, every day
    client.force_login(make_user(Role.ADMISSIONS))
    page = client.get("/admin/scheduling/weeklyhours/?band=under").content.decode()
    assert short.mrn in page
    assert enrolled.mrn not in page


def test_a_track_saved_in_the_admin_makes_its_sessions(client, make_user, location, room, therapist):
    client.force_login(make_user(Role.CLINIC_ADMIN))
    response = client.post(
        "/admin/scheduling/grouptrack/add/",
        {
            "name": "PHP days",
            "level": LevelOfCare.objects.get(code="php").pk,
            "location": location.pk,
            "session_type": SessionType.objects.get(code="group_therapy").pk,
            "room": room.pk,
            "facilitators": [therapist.user.pk],
            "capacity": 8,
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "starts_on": "2026-11-24",
            "start_time": "09:00",
            "duration_minutes": 240,
            "topics": "",
            "is_active": "on",
        },
        follow=True,
    )
    assert "8 sessions made" in response.content.decode()
    assert Session.objects.filter(track=GroupTrack.objects.get()).count() == 8


def test_enrollments_and_level_change_reviews_are_listed_read_only(client, make_user, track, admitted, therapist):
    patient = admitted("iop")
    enrollment_create(track=track, patient=patient, by=therapist.user)
    client.force_login(make_user(Role.ADMISSIONS))
    page = client.get("/admin/scheduling/trackenrollment/")
    assert page.status_code == 200
    assert patient.mrn in page.content.decode()
    assert client.get("/admin/scheduling/trackenrollment/add/").status_code == 403
    client.force_login(therapist.user)
    assert client.get("/admin/scheduling/levelchangereview/").status_code == 200
