"""The desk's reminder views in the API: a booking's reminders, the day's summary, the staff
queue, and opt-outs recorded by staff."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from scheduling.models import OptOut, Reminder, StaffTask, StaffTaskKind
from scheduling.services.reminders import opt_out_set, reminder_send, reminders_claim
from scheduling.services.replies import reply_handle
from tests.patients.factories import PatientFactory

NY = ZoneInfo("America/New_York")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_sms")]


@pytest.fixture(autouse=True)
def _twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = "test-token"


def send_due():
    return [reminder_send(pk).status for pk in reminders_claim()]


# --- a booking's reminders ----------------------------------------------------------------------


def test_a_bookings_reminders_show_where_each_stands_and_never_the_text(desk, texted, book, clock):
    booking = book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert send_due() == ["sent"]
    response = desk.get(f"/api/v1/bookings/{booking.public_id}/reminders/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(r["offset_minutes"], r["channel"], r["status"], r["attempts"]) for r in body] == [
        (1440, "sms", "sent", 1),
        (120, "sms", "pending", 0),
    ]
    assert body[0]["sent_at"] == "2026-11-23T10:00:01-05:00"
    assert "body" not in body[0]
    assert "text" not in body[0]
    listed = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="scheduling.Reminder")
    assert {e.patient_id for e in listed} == {booking.patient.public_id}


def test_an_off_team_clinician_cannot_see_a_bookings_reminders(client_for, make_user, texted, book):
    booking = book(texted())
    stranger = client_for(make_user(Role.CLINICIAN))
    assert stranger.get(f"/api/v1/bookings/{booking.public_id}/reminders/").status_code == 404


def test_a_confirmed_booking_says_when(desk, texted, book, clock):
    booking = book(texted(phone="+16175550111"))
    clock.move_to("2026-11-23 15:00:01+00:00")
    send_due()
    reply_handle(provider_message_id="SMreply1", from_number="+16175550111", body="C")
    body = desk.get(f"/api/v1/bookings/{booking.public_id}/").json()
    assert body["confirmed_at"] == "2026-11-23T10:00:01-05:00"


# --- the day's summary --------------------------------------------------------------------------


def test_the_summary_counts_the_days_reminders_replies_and_open_tasks(desk, texted, book, clock):
    confirmer, failing, stopper = texted(phone="+16175550111"), texted(phone="+16175550122"), texted()
    book(confirmer)
    book(failing, starts_at=datetime(2026, 11, 24, 11, 0, tzinfo=NY))
    book(stopper, starts_at=datetime(2026, 11, 24, 12, 0, tzinfo=NY))
    book(texted(channel="email", email="pat@example.org"), starts_at=datetime(2026, 11, 24, 13, 0, tzinfo=NY))
    clock.move_to("2026-11-23 18:00:01+00:00")  # 13:00 in New York: all four 24-hour reminders due
    opt_out_set(patient=stopper, channel="sms", opted_out=True, via="staff")
    assert sorted(send_due()) == ["sent", "sent", "sent"]
    Reminder.objects.filter(patient=failing, status="sent").update(status="failed")  # as a failed delivery does
    reply_handle(provider_message_id="SMreply1", from_number="+16175550111", body="C")
    reply_handle(provider_message_id="SMreply2", from_number="+16175550122", body="R")

    response = desk.get("/api/v1/reminders/summary/?date=2026-11-23")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "date": "2026-11-23",
        "time_zone": "America/New_York",
        "sent": {"sms": 2, "email": 1},
        "delivered": 0,
        "failed": 1,
        "skipped": 0,
        "opted_out": 1,
        "opted_back_in": 0,
        "confirmed": 1,
        "reschedule_requests": 1,
        "replies_received": 2,
        "open_staff_tasks": {"reminder_failed": 0, "reschedule_request": 1, "reply_to_read": 0},
    }
    # Another day has none of it; today is the default.
    other = desk.get("/api/v1/reminders/summary/?date=2026-11-22").json()
    assert (other["sent"], other["confirmed"], other["opted_out"]) == ({"sms": 0, "email": 0}, 0, 0)
    assert desk.get("/api/v1/reminders/summary/").json()["sent"] == {"sms": 2, "email": 1}


def test_a_bad_summary_date_is_a_400_saying_the_format(desk):
    response = desk.get("/api/v1/reminders/summary/?date=23/11/2026")
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.json()["message"]


def test_billing_gets_no_reminder_summary_or_queue(client_for, make_user):
    billing = client_for(make_user(Role.BILLING))
    assert billing.get("/api/v1/reminders/summary/").status_code == 403
    assert billing.get("/api/v1/staff-tasks/").status_code == 403
    assert billing.get("/api/v1/opt-outs/").status_code == 403


# --- the staff queue ----------------------------------------------------------------------------


def test_the_desk_lists_open_tasks_and_marks_one_done(desk, admitted, make_user, client_for):
    patient = admitted("iop")
    task = StaffTask.objects.create(kind=StaffTaskKind.RESCHEDULE_REQUEST, patient=patient, detail="Asked for a call")
    StaffTask.objects.create(kind=StaffTaskKind.REPLY_TO_READ, patient=patient, detail="Replied")
    open_tasks = desk.get("/api/v1/staff-tasks/?open=true&kind=reschedule_request").json()["results"]
    assert [(t["id"], t["patient"], t["detail"]) for t in open_tasks] == [
        (str(task.public_id), str(patient.public_id), "Asked for a call")
    ]
    done = desk.post(f"/api/v1/staff-tasks/{task.public_id}/done/")
    assert done.status_code == 200, done.content
    first = done.json()
    assert first["done_by"] is not None
    assert first["done_at"] is not None
    # Marking it again keeps who did it first.
    again = client_for(make_user(Role.ADMISSIONS)).post(f"/api/v1/staff-tasks/{task.public_id}/done/").json()
    assert (again["done_by"], again["done_at"]) == (first["done_by"], first["done_at"])
    assert desk.get("/api/v1/staff-tasks/?open=true&kind=reschedule_request").json()["results"] == []


def test_a_clinician_sees_only_their_care_teams_tasks(client_for, therapist, admitted):
    mine = StaffTask.objects.create(kind=StaffTaskKind.REPLY_TO_READ, patient=admitted("iop"), detail="ours")
    StaffTask.objects.create(kind=StaffTaskKind.REPLY_TO_READ, patient=PatientFactory.create(), detail="theirs")
    listed = client_for(therapist.user).get("/api/v1/staff-tasks/").json()["results"]
    assert [t["id"] for t in listed] == [str(mine.public_id)]


# --- opt-outs recorded by staff -----------------------------------------------------------------


def test_staff_stop_and_resume_a_channel_and_the_history_says_who_and_how(desk, texted, book):
    patient = texted()
    booking = book(patient)
    stop = desk.post("/api/v1/opt-outs/", {"patient": str(patient.public_id), "channel": "sms", "opted_out": True})
    assert stop.status_code == 200, stop.content
    assert set(Reminder.objects.filter(booking=booking).values_list("status", flat=True)) == {"cancelled"}
    resume = desk.post("/api/v1/opt-outs/", {"patient": str(patient.public_id), "channel": "sms", "opted_out": False})
    assert resume.status_code == 200
    assert set(Reminder.objects.filter(booking=booking).values_list("status", flat=True)) == {"pending"}

    [row] = desk.get(f"/api/v1/opt-outs/?patient={patient.public_id}").json()["results"]
    assert (row["channel"], row["opted_out"], row["changed_via"]) == ("sms", False, "staff")
    assert [(c["opted_out"], c["changed_via"]) for c in row["history"]] == [(False, "staff"), (True, "staff")]
    assert {c["changed_by"] for c in row["history"]} == {row["changed_by"]}
    assert row["changed_by"] is not None
    assert AuditEvent.objects.filter(
        object_type="scheduling.OptOut", patient_id=patient.public_id, action=AuditAction.UPDATE, via="api"
    ).exists()


def test_recording_an_opt_out_for_an_unseen_patient_or_a_bad_channel_is_refused(client_for, therapist, texted):
    patient = texted()
    other = PatientFactory.create()
    clinician = client_for(therapist.user)
    unseen = clinician.post("/api/v1/opt-outs/", {"patient": str(other.public_id), "channel": "sms", "opted_out": True})
    assert unseen.status_code == 404
    bad = clinician.post("/api/v1/opt-outs/", {"patient": str(patient.public_id), "channel": "fax", "opted_out": True})
    assert bad.status_code == 400
    assert "channel" in bad.json()["extra"]["fields"]
    assert not OptOut.objects.exists()


def test_the_opt_out_list_keeps_its_query_count(desk, texted, django_assert_max_num_queries):
    def stop_one():
        opt_out_set(patient=texted(), channel="sms", opted_out=True, via="staff")

    stop_one()
    with django_assert_max_num_queries(30) as small:
        assert desk.get("/api/v1/opt-outs/").status_code == 200
    count = len(small.captured_queries)
    for _ in range(4):
        stop_one()
    with django_assert_max_num_queries(count):
        assert len(desk.get("/api/v1/opt-outs/").json()["results"]) == 5


def test_a_staff_task_filter_that_is_not_true_or_false_is_a_400(desk):
    # Found by the schema fuzzer: django-filter's BooleanFilter ignored "null" and listed every task.
    response = desk.get("/api/v1/staff-tasks/?open=null")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"open"}
