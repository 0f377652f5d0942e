from datetime import date, time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.models import LevelOfCare
from clinic.roles import Role
from patients.services.episodes import episode_transition
from scheduling.models import Booking, GroupTrack, LevelChangeReview, Session, TrackEnrollment
from scheduling.services.tracks import tracks_generate_all
from scheduling.tasks import generate_track_sessions

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


def local_starts(track):
    return [s.starts_at.astimezone(NY).strftime("%a %m-%d %H:%M") for s in track.sessions.order_by("starts_at")]


def test_a_track_generates_its_sessions_over_the_horizon_in_the_locations_zone(make_track):
    # 10:00 on Monday 23 November: that morning's 09:00 session has started, so it is not made.
    track, report = make_track()
    starts = local_starts(track)
    assert starts[:3] == ["Wed 11-25 09:00", "Thu 11-26 09:00", "Mon 11-30 09:00"]
    # Eight weeks from now (to Monday 18 January, 10:00): Mon/Wed/Thu, less today's, plus the 18th's.
    assert report.created == len(starts) == 24
    assert starts[-1] == "Mon 01-18 09:00"
    assert all(s.endswith("09:00") for s in starts)


def test_generation_is_idempotent_and_the_beat_task_keeps_the_horizon_rolling(make_track, clock):
    track, _ = make_track()
    assert tracks_generate_all() == 0
    clock.move_to("2026-12-07 15:00:00+00:00")
    assert generate_track_sessions() == 6  # two more weeks came into the horizon
    assert Session.objects.filter(track=track).count() == 30


def test_the_api_sets_up_a_track_for_clinic_admins_only(make_user, client_for, location, room, therapist):
    body = {
        "name": "PHP day program",
        "level": "php",
        "location": str(location.public_id),
        "room": str(room.public_id),
        "facilitators": [str(therapist.public_id)],
        "capacity": 10,
        "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "starts_on": "2026-11-24",
        "start_time": "09:00",
        "duration_minutes": 240,
        "topics": ["dbt_skills", "cbt_i"],
    }
    assert client_for(make_user(Role.ADMISSIONS)).post("/api/v1/tracks/", body, format="json").status_code == 403
    admin = client_for(make_user(Role.CLINIC_ADMIN))
    created = admin.post("/api/v1/tracks/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["report"]["created"] == 40  # weekdays from Tue 24 November to Mon 18 January
    bad = admin.post("/api/v1/tracks/", body | {"rrule": "FREQ=WEEKLY;BYDAY=XX"}, format="json")
    assert (bad.status_code, list(bad.json()["extra"]["fields"])) == (400, ["rrule"])
    big = admin.post("/api/v1/tracks/", body | {"capacity": 40}, format="json")
    assert (big.status_code, list(big.json()["extra"]["fields"])) == (400, ["capacity"])
    assert GroupTrack.objects.count() == 1


def test_a_facilitator_who_may_not_lead_groups_is_refused(make_track, staff_of):
    from clinic.errors import ApplicationError

    with pytest.raises(ApplicationError, match="may not lead group therapy"):
        make_track(facilitators=[staff_of(Role.NURSE).user])


def test_enrolling_books_the_patient_into_the_tracks_future_sessions(make_track, admitted, desk):
    track, _ = make_track()
    patient = admitted("iop")
    response = desk.post(
        "/api/v1/enrollments/", {"track": str(track.public_id), "patient": str(patient.public_id)}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["report"]["booked"] == 24
    assert Booking.objects.filter(patient=patient, status="booked").count() == 24
    again = desk.post(
        "/api/v1/enrollments/", {"track": str(track.public_id), "patient": str(patient.public_id)}, format="json"
    )
    assert again.status_code == 409


def test_a_patient_at_another_level_is_not_enrolled(make_track, admitted, desk):
    track, _ = make_track(level="iop")
    response = desk.post(
        "/api/v1/enrollments/",
        {"track": str(track.public_id), "patient": str(admitted("php").public_id)},
        format="json",
    )
    assert response.status_code == 400
    assert "track" in response.json()["extra"]["fields"]


def test_a_full_track_is_a_409(make_track, admitted, desk):
    track, _ = make_track(capacity=1)
    desk.post(
        "/api/v1/enrollments/", {"track": str(track.public_id), "patient": str(admitted().public_id)}, format="json"
    )
    full = desk.post(
        "/api/v1/enrollments/", {"track": str(track.public_id), "patient": str(admitted().public_id)}, format="json"
    )
    assert (full.status_code, full.json()["extra"]["conflict"]) == (409, "capacity")


def test_editing_a_track_regenerates_untouched_sessions_and_reports_booked_ones(
    make_user, client_for, make_track, admitted, desk, location, room, therapist
):
    track, _ = make_track()
    patient = admitted()
    one = Session.objects.filter(track=track).earliest("starts_at")
    desk.post("/api/v1/bookings/", {"session": str(one.public_id), "patient": str(patient.public_id)}, format="json")
    admin = client_for(make_user(Role.CLINIC_ADMIN))
    response = admin.put(
        f"/api/v1/tracks/{track.public_id}/",
        {
            "name": track.name,
            "level": "iop",
            "location": str(location.public_id),
            "room": str(room.public_id),
            "facilitators": [str(therapist.public_id)],
            "capacity": 12,
            "rrule": "FREQ=WEEKLY;BYDAY=TU,TH",
            "starts_on": "2026-11-23",
            "start_time": "13:00",
            "duration_minutes": 180,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    report = response.json()["report"]
    assert report["removed"] == 23
    assert report["kept"] == [
        {"session": str(one.public_id), "reason": "has bookings; reschedule or cancel it by hand"}
    ]
    starts = local_starts(GroupTrack.objects.get())
    assert "Wed 11-25 09:00" in starts  # the booked one, left alone
    regenerated = [s for s in starts if s != "Wed 11-25 09:00"]
    assert {s.split()[0] for s in regenerated} == {"Tue", "Thu"}
    assert all(s.endswith("13:00") for s in regenerated)


def test_a_step_down_proposes_the_new_levels_track_and_a_clinician_confirms(
    make_track, admitted, therapist, desk, client_for, make_user, django_capture_on_commit_callbacks, clock
):
    php, _ = make_track(level="php", name="PHP day", rrule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
    iop, _ = make_track(level="iop", name="IOP evening", start_time=time(17), capacity=8)
    patient = admitted("php")
    desk.post("/api/v1/enrollments/", {"track": str(php.public_id), "patient": str(patient.public_id)}, format="json")
    episode = patient.episodes.get()
    clock.move_to("2026-11-24 15:00:00+00:00")
    with django_capture_on_commit_callbacks(execute=True):  # the signal goes after commit
        episode_transition(
            episode=episode,
            to_level=LevelOfCare.objects.get(code="iop"),
            effective_on=date(2026, 11, 24),
            reason="Stable",
            by=therapist.user,
        )
    review = LevelChangeReview.objects.get()
    assert (review.proposed_track, review.status) == (iop, "pending")
    # Nothing changes until a clinician confirms.
    assert Booking.objects.filter(patient=patient, session__track=php, status="booked").count() > 0
    # A new day, new tokens.
    clinician, desk = client_for(therapist.user), client_for(make_user(Role.ADMISSIONS))
    listed = clinician.get(f"/api/v1/level-change-reviews/?patient__public_id={patient.public_id}").json()["results"]
    future_php = Booking.objects.filter(patient=patient, session__track=php, starts_at__gt=timezone.now())
    assert len(listed[0]["bookings_to_cancel"]) == future_php.count() > 0
    assert desk.post(f"/api/v1/level-change-reviews/{review.public_id}/confirm/", {}, format="json").status_code == 404
    confirmed = clinician.post(f"/api/v1/level-change-reviews/{review.public_id}/confirm/", {}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    assert not future_php.filter(status="booked").exists()
    # From now on (Tuesday), to the end of the horizon generated on Monday.
    assert Booking.objects.filter(patient=patient, session__track=iop, status="booked").count() == 23
    assert TrackEnrollment.objects.get(patient=patient, ended_on__isnull=True).track == iop
