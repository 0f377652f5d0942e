"""The schedule, roster and program-hours endpoints cost the same number of queries
whatever their length (pinned by comparison)."""

from datetime import time

import pytest

from scheduling.models import Session
from scheduling.services.tracks import enrollment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def track(make_track):
    return make_track(rrule="FREQ=DAILY", start_time=time(14), duration_minutes=60)[0]


def enrol(track, admitted, therapist, count):
    for _ in range(count):
        enrollment_create(track=track, patient=admitted("iop"), by=therapist.user)


def pinned(client, url, django_assert_max_num_queries, grow):
    with django_assert_max_num_queries(30) as small:
        assert client.get(url).status_code == 200
    # Counted now: each request resets the connection's query log.
    count = len(small.captured_queries)
    grow()
    with django_assert_max_num_queries(count):
        assert client.get(url).status_code == 200


def test_the_week_view_keeps_its_query_count(track, admitted, therapist, desk, django_assert_max_num_queries):
    url = f"/api/v1/sessions/?staff={therapist.public_id}&start=2026-11-23T00:00:00Z&end=2026-11-30T00:00:00Z"
    enrol(track, admitted, therapist, 1)
    pinned(desk, url, django_assert_max_num_queries, lambda: enrol(track, admitted, therapist, 5))


def test_the_roster_keeps_its_query_count(track, admitted, therapist, desk, django_assert_max_num_queries):
    session = Session.objects.filter(track=track).earliest("starts_at")
    enrol(track, admitted, therapist, 1)
    url = f"/api/v1/bookings/?session={session.public_id}"
    pinned(desk, url, django_assert_max_num_queries, lambda: enrol(track, admitted, therapist, 5))


def test_program_hours_keep_their_query_count(track, admitted, therapist, desk, django_assert_max_num_queries):
    enrol(track, admitted, therapist, 1)
    pinned(desk, "/api/v1/program-hours/", django_assert_max_num_queries, lambda: enrol(track, admitted, therapist, 5))


def test_a_clinicians_roster_view_keeps_its_query_count(
    track, admitted, therapist, client_for, django_assert_max_num_queries
):
    session = Session.objects.filter(track=track).earliest("starts_at")
    enrol(track, admitted, therapist, 1)
    url = f"/api/v1/bookings/?session={session.public_id}"
    pinned(client_for(therapist.user), url, django_assert_max_num_queries, lambda: enrol(track, admitted, therapist, 5))
