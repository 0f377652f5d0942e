"""The session list (the week view) is one prepared statement (scheduling.selectors.session_rows)
while a single session still goes through SessionOutputSerializer: each session in the list
must read exactly as its own detail, and every filter pick what it names."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clinic.roles import Role
from scheduling.models import Session, SessionStaff
from scheduling.services.appointments import session_cancel
from scheduling.services.tracks import enrollment_create

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
WEEK = "start=2026-11-23T00:00:00-05:00&end=2026-11-30T00:00:00-05:00"


@pytest.fixture
def sessions(make_track, staff_of, make_user, admitted, therapist, book, settings, room_b):
    """A week with every kind of row the list shows: a group with two leads and a booking,
    a video appointment (a join link, no room) with a lead who has no staff profile, a
    cancelled session, and a start with microseconds."""
    settings.VIDEO_JOIN_URL_TEMPLATE = "https://video.example.org/join/{session_id}"
    co_lead = staff_of(Role.CLINICIAN)
    track, _ = make_track(facilitators=[therapist.user, co_lead.user])
    enrollment_create(track=track, patient=admitted("iop"), by=therapist.user)
    video = book(admitted()).session
    # A second lead without a staff profile, put on before the first lead is put on again: the
    # staff are listed in the order they were put on, not by user.
    (first,) = SessionStaff.objects.filter(session=video)
    first.delete()
    for user in (make_user(Role.CLINICIAN), first.user):
        SessionStaff.objects.create(session=video, user=user, starts_at=video.starts_at, ends_at=video.ends_at)
    cancelled = book(admitted(), starts_at=datetime(2026, 11, 25, 15, 0, tzinfo=NEW_YORK)).session
    session_cancel(session=cancelled, reason="Clinician unwell", by=make_user(Role.ADMISSIONS))
    odd = book(admitted(), starts_at=datetime(2026, 11, 26, 16, 0, 0, 250_000, tzinfo=NEW_YORK)).session
    odd.room = room_b
    odd.save()
    return {"track": track, "video": video, "cancelled": cancelled, "odd": odd, "co_lead": co_lead}


def listed(client, query=""):
    response = client.get(f"/api/v1/sessions/?page_size=200&{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_it_lists_each_session_exactly_as_its_detail_shows_it(desk, sessions, therapist):
    rows = listed(desk, WEEK)["results"]
    for row in rows:
        assert row == desk.get(f"/api/v1/sessions/{row['id']}/").json()
    by_id = {row["id"]: row for row in rows}
    # The variety the comparison must have covered, so it cannot pass on plain rows alone.
    video = by_id[str(sessions["video"].public_id)]
    assert video["join_url"] == f"https://video.example.org/join/{video['id']}"
    assert [lead["id"] for lead in video["staff"]] == [None, str(therapist.public_id)]
    assert by_id[str(sessions["cancelled"].public_id)]["status"] == "cancelled"
    assert by_id[str(sessions["odd"].public_id)]["starts_at"] == "2026-11-26T16:00:00.250000-05:00"
    groups = [row for row in rows if row["track"] == str(sessions["track"].public_id)]
    assert groups
    assert all(len(row["staff"]) == 2 and row["booked"] == 1 for row in groups)


def test_every_filter_picks_what_it_names(desk, sessions, therapist, location, room_b):
    track, co_lead = sessions["track"], sessions["co_lead"]
    start, end = datetime(2026, 11, 23, tzinfo=NEW_YORK), datetime(2026, 11, 30, tzinfo=NEW_YORK)
    week = Session.objects.filter(ends_at__gt=start, starts_at__lt=end)
    expected = {
        f"staff={co_lead.public_id}&{WEEK}": week.filter(staff__user=co_lead.user),
        f"staff={therapist.public_id}&{WEEK}": week.filter(staff__user=therapist.user),
        f"staff={co_lead.public_id}": Session.objects.filter(staff__user=co_lead.user),  # no time bounds
        f"location={location.public_id}": Session.objects.filter(location=location),
        f"room={room_b.public_id}": Session.objects.filter(room=room_b),
        f"track={track.public_id}&{WEEK}": week.filter(track=track),
        "session_type=individual_therapy": Session.objects.filter(session_type__code="individual_therapy"),
        "status=cancelled": Session.objects.filter(status="cancelled"),
        WEEK: week,
    }
    for query, sessions_named in expected.items():
        ids = [row["id"] for row in listed(desk, query)["results"]]
        assert ids == [str(s.public_id) for s in sessions_named.order_by("starts_at", "id")], query
        assert ids, f"{query} picked nothing: the check would prove nothing"


def test_a_single_session_reads_the_filters_as_the_list_does(desk, sessions, therapist):
    # DRF filters a detail lookup too: a session the staff member leads is found with ?staff=.
    video = sessions["video"].public_id
    assert desk.get(f"/api/v1/sessions/{video}/?staff={therapist.public_id}").status_code == 200
    assert desk.get(f"/api/v1/sessions/{video}/?staff={sessions['co_lead'].public_id}").status_code == 404
    assert desk.get(f"/api/v1/sessions/{video}/?location={sessions['track'].location.public_id}").status_code == 200


def test_a_staff_members_week_leaves_out_their_other_weeks(desk, sessions, therapist):
    body = listed(desk, f"staff={therapist.public_id}&{WEEK}")
    later = listed(desk, f"staff={therapist.public_id}&start=2026-11-30T00:00:00-05:00&end=2026-12-07T00:00:00-05:00")
    assert body["count"] > 0
    assert later["count"] > 0
    assert not {row["id"] for row in body["results"]} & {row["id"] for row in later["results"]}


def test_pages_follow_one_another_without_overlap(desk, sessions):
    everything = [row["id"] for row in listed(desk)["results"]]
    pages, url = [], "/api/v1/sessions/?page_size=3"
    while url:
        body = desk.get(url).json()
        assert body["count"] == len(everything)
        pages += [row["id"] for row in body["results"]]
        url = body["next"]
    assert len(everything) > 3
    assert pages == everything


def test_a_page_past_the_end_is_a_404_and_a_bad_filter_a_400_naming_it(desk, sessions):
    past = desk.get("/api/v1/sessions/?page=99")
    assert past.status_code == 404
    assert past.json()["message"]
    bad = desk.get("/api/v1/sessions/?start=next-tuesday&staff=nobody")
    assert bad.status_code == 400
    assert set(bad.json()["extra"]["fields"]) == {"start", "staff"}


def test_an_empty_list_is_one_empty_page(desk, location):
    assert listed(desk) == {"count": 0, "next": None, "previous": None, "results": []}
