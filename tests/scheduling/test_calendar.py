import pytest

from clinic.roles import Role
from scheduling.models import CalendarFeed
from tests.scheduling.test_appointments import book

pytestmark = pytest.mark.django_db


def test_a_clinicians_schedule_and_a_patients_schedule_over_a_range(
    desk, admitted, therapist, staff_of, location, room, room_b
):
    patient = admitted()
    book(desk, patient, [therapist], location, room)
    book(desk, admitted(), [therapist], location, room, starts_at="2026-11-26T10:00:00-05:00")
    book(desk, patient, [staff_of()], location, room_b, starts_at="2026-11-25T10:00:00-05:00")
    mine = desk.get(
        f"/api/v1/sessions/?staff={therapist.public_id}&start=2026-11-24T00:00:00-05:00&end=2026-11-26T00:00:00-05:00"
    ).json()["results"]
    assert [s["starts_at"] for s in mine] == ["2026-11-24T10:00:00-05:00"]
    theirs = desk.get(f"/api/v1/bookings/?patient={patient.public_id}&start=2026-11-24T00:00:00Z").json()["results"]
    assert [b["starts_at"] for b in theirs] == ["2026-11-24T10:00:00-05:00", "2026-11-25T10:00:00-05:00"]
    assert desk.get("/api/v1/sessions/?start=not-a-date").status_code == 400


def test_the_ics_feed_shows_initials_only_and_dies_when_revoked(
    client, client_for, desk, admitted, therapist, location, room
):
    patient = admitted()
    book(desk, patient, [therapist], location, room)
    clinician = client_for(therapist.user)
    feed = clinician.post("/api/v1/calendar-feeds/").json()
    url = feed["url"]
    assert url.startswith("http://testserver/api/v1/calendar/")
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    initials = f"{patient.legal_first_name[0]}.{patient.legal_last_name[0]}."
    assert f"SUMMARY:Individual therapy: {initials}" in body
    assert patient.legal_last_name not in body
    assert patient.mrn not in body
    assert "DTSTART:20261124T150000Z" in body
    clinician.post(f"/api/v1/calendar-feeds/{feed['id']}/revoke/")
    assert client.get(url.removeprefix("http://testserver")).status_code == 404
    assert CalendarFeed.objects.get().revoked_at is not None


def test_a_tampered_feed_token_is_a_404(client, client_for, therapist):
    url = client_for(therapist.user).post("/api/v1/calendar-feeds/").json()["url"].removeprefix("http://testserver")
    assert client.get(url.replace(".ics", "x.ics")).status_code == 404
    assert client.get("/api/v1/calendar/garbage.ics").status_code == 404


def test_feeds_are_for_clinical_staff_and_each_sees_only_their_own(client_for, make_user, therapist, staff_of):
    assert client_for(make_user(Role.BILLING)).post("/api/v1/calendar-feeds/").status_code == 403
    mine = client_for(therapist.user)
    mine.post("/api/v1/calendar-feeds/")
    other = client_for(staff_of().user)
    assert other.get("/api/v1/calendar-feeds/").json()["results"] == []
