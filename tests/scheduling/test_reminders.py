"""The reminder outbox: rows written with bookings, claimed by the dispatcher, sent under a
lock with a neutral text (DESIGN.md flow 4)."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic import messaging
from clinic.roles import Role
from scheduling.models import (
    Booking,
    OptOut,
    Reminder,
    ReminderPolicy,
    SessionType,
    StaffTask,
    StaffTaskKind,
)
from scheduling.reminder_content import REVEALING_WORDS
from scheduling.services.appointments import session_cancel, session_reschedule
from scheduling.services.bookings import booking_cancel
from scheduling.services.reminders import reminder_send, reminders_claim, reminders_dispatch

NY = ZoneInfo("America/New_York")
TOMORROW_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NY)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_sms")]


def rows(booking):
    return {(r.offset_minutes, r.channel): (r.status, r.due_at) for r in Reminder.objects.filter(booking=booking)}


def utc(local):
    return local.astimezone(ZoneInfo("UTC"))


def claim_and_send(now=None):
    sent = []
    for pk in reminders_claim(now=now):
        sent.append(reminder_send(pk).status)
    return sent


# --- planning ---------------------------------------------------------------------------------


def test_a_booking_writes_one_row_per_offset_at_the_patients_local_times(texted, book):
    booking = book(texted())
    assert rows(booking) == {
        (1440, "sms"): ("pending", utc(datetime(2026, 11, 23, 10, 0, tzinfo=NY))),
        (120, "sms"): ("pending", utc(datetime(2026, 11, 24, 8, 0, tzinfo=NY))),
    }


def test_quiet_hours_are_the_patients_not_the_clinics(texted, book):
    # 10:00 New York is 07:00 in Los Angeles. 24 h before: 07:00 there, quiet until 08:00.
    # 2 h before: 05:00 there, quiet until 08:00 (11:00 New York), after the session
    # starts, so that reminder is not planned at all.
    booking = book(texted(time_zone=ZoneInfo("America/Los_Angeles")))
    la = ZoneInfo("America/Los_Angeles")
    assert rows(booking) == {(1440, "sms"): ("pending", utc(datetime(2026, 11, 23, 8, 0, tzinfo=la)))}


def test_an_offset_already_past_when_booking_is_not_planned(texted, book, clock):
    booking = book(texted(), starts_at=datetime(2026, 11, 23, 16, 0, tzinfo=NY))  # today, in 6 hours
    assert rows(booking) == {(120, "sms"): ("pending", utc(datetime(2026, 11, 23, 14, 0, tzinfo=NY)))}


def test_no_rows_without_a_channel_or_opt_in_or_for_a_type_that_sends_none(texted, book):
    hour = iter(range(11, 16))

    def at():
        return datetime(2026, 11, 24, next(hour), 0, tzinfo=NY)

    assert rows(book(texted(channel="none"), starts_at=at())) == {}
    opted = texted()
    OptOut.objects.create(patient=opted, channel="sms", changed_at=timezone.now(), changed_via="staff")
    assert rows(book(opted, starts_at=at())) == {}
    SessionType.objects.filter(code="case_management").update(sends_reminders=False)
    assert rows(book(texted(), starts_at=at(), code="case_management")) == {}
    assert rows(book(texted(), starts_at=at())) != {}  # the same booking otherwise has them


def test_email_patients_get_email_rows(texted, book):
    booking = book(texted(channel="email", email="pat@example.org"))
    assert {channel for _, channel in rows(booking)} == {"email"}


def test_moving_the_session_moves_the_pending_rows_and_cancelling_cancels_them(texted, book, scheduler):
    booking = book(texted())
    session_reschedule(
        session=booking.session, starts_at=datetime(2026, 11, 25, 13, 0, tzinfo=NY), ends_at=None, by=scheduler
    )
    assert rows(booking) == {
        (1440, "sms"): ("pending", utc(datetime(2026, 11, 24, 13, 0, tzinfo=NY))),
        (120, "sms"): ("pending", utc(datetime(2026, 11, 25, 11, 0, tzinfo=NY))),
    }
    booking_cancel(booking=booking, cancelled_by="patient", by=scheduler)
    assert {status for status, _ in rows(booking).values()} == {"cancelled"}


def test_cancelling_the_session_cancels_its_rows(texted, book, scheduler):
    booking = book(texted())
    session_cancel(session=booking.session, reason="Clinician ill", by=scheduler)
    assert {status for status, _ in rows(booking).values()} == {"cancelled"}


def test_enrolling_in_a_track_plans_reminders_for_its_sessions(texted, make_track, scheduler):
    from scheduling.services.tracks import enrollment_create

    track, _ = make_track()
    patient = texted()
    enrollment, report = enrollment_create(track=track, patient=patient, by=scheduler)
    assert report.booked > 0
    assert Reminder.objects.filter(booking__enrollment=enrollment, status="pending").count() >= report.booked


def test_nightly_generation_plans_reminders_for_the_sessions_it_books(texted, make_track, scheduler, clock):
    from scheduling.services.tracks import enrollment_create, track_generate

    track, _ = make_track()
    enrollment, _ = enrollment_create(track=track, patient=texted(), by=scheduler)
    horizon = Booking.objects.filter(enrollment=enrollment).latest("starts_at").starts_at
    clock.move_to("2026-12-07 15:00:00+00:00")  # two weeks on: the horizon has moved with the clock
    report = track_generate(track=track)
    new = Booking.objects.filter(enrollment=enrollment, starts_at__gt=horizon)
    assert report.booked == new.count() == 6  # two weeks of Mon/Wed/Thu
    planned = Reminder.objects.filter(booking__in=new, status="pending")
    assert set(planned.values_list("booking_id", flat=True)) == set(new.values_list("pk", flat=True))


# --- the dispatcher ---------------------------------------------------------------------------


def test_the_dispatcher_claims_only_what_is_due(texted, book, clock):
    booking = book(texted())
    clock.move_to("2026-11-23 14:59:59+00:00")
    assert reminders_claim() == []
    clock.move_to("2026-11-23 15:00:01+00:00")  # the 24 h reminder is due at 15:00Z
    claimed = reminders_claim()
    assert claimed == [Reminder.objects.get(booking=booking, offset_minutes=1440).pk]
    assert reminders_claim() == []  # claimed rows are not claimed twice within the lease


def test_a_claim_whose_lease_ran_out_is_claimed_again(texted, book, clock, settings):
    settings.REMINDER_CLAIM_LEASE_SECONDS = 600
    book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    [pk] = reminders_claim()
    clock.move_to("2026-11-23 15:09:00+00:00")
    assert reminders_claim() == []
    clock.move_to("2026-11-23 15:10:02+00:00")
    assert reminders_claim() == [pk]  # the worker that held it died: claimed again


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_skips_rows_another_transaction_holds(texted, book, clock):
    """Two dispatchers at once: the rows one holds are skipped by the other, not waited for."""
    first = book(texted())
    second = book(texted(phone="+16175550102"), starts_at=datetime(2026, 11, 24, 10, 0, tzinfo=NY) + timedelta(hours=2))
    held = Reminder.objects.get(booking=first, offset_minutes=1440)
    clock.move_to("2026-11-24 09:00:00+00:00")  # both 24 h reminders are due
    other = psycopg.connect(**_conninfo(), autocommit=False)
    try:
        other.execute("SELECT id FROM scheduling_reminder WHERE id = %s FOR UPDATE", [held.pk])
        claimed = reminders_claim()
    finally:
        other.rollback()
        other.close()
    assert claimed == [Reminder.objects.get(booking=second, offset_minutes=1440).pk]
    assert reminders_claim() == [held.pk]  # released: the next run takes it


def _conninfo():
    params = connection.get_connection_params()
    return {k: v for k, v in params.items() if k in {"dbname", "user", "host", "port", "password"}}


def test_dispatch_enqueues_only_after_the_claim_commits_and_survives_a_broker_failure(
    texted, book, clock, django_capture_on_commit_callbacks
):
    book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    enqueued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_dispatch(enqueue=enqueued.extend) == 1
    assert len(enqueued) == 1

    def broker_down(ids):
        raise ConnectionError("redis is down")

    Reminder.objects.update(status="pending", claimed_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_dispatch(enqueue=broker_down) == 1
    assert Reminder.objects.get(pk=enqueued[0]).status == "claimed"  # kept; the lease brings it back


# --- sending ----------------------------------------------------------------------------------


def test_a_sent_reminder_is_neutral_and_on_the_patients_clock(texted, book, clock):
    patient = texted(time_zone=ZoneInfo("America/Chicago"))
    booking = book(patient)
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["sent"]
    [message] = messaging.outbox
    assert message.to == "+16175550101"
    assert "9 a.m." in message.body  # 10:00 New York is 09:00 in Chicago
    assert "Nov. 24, 2026" in message.body
    lowered = message.body.lower()
    assert patient.legal_first_name.lower() not in lowered
    assert patient.legal_last_name.lower() not in lowered
    assert not [word for word in REVEALING_WORDS if f" {word} " in f" {lowered} "]
    row = Reminder.objects.get(booking=booking, offset_minutes=1440)
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 1, f"locmem-{row.idempotency_key}")
    assert message.idempotency_key == str(row.idempotency_key)


def test_dates_are_in_the_patients_language(texted, book, clock):
    book(texted(preferred_language="es"))
    clock.move_to("2026-11-23 15:00:01+00:00")
    claim_and_send()
    assert "24 de noviembre de 2026" in messaging.outbox[0].body


def test_cancelled_between_dispatch_and_send_sends_nothing(texted, book, clock, scheduler):
    booking = book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    [pk] = reminders_claim()
    booking_cancel(booking=booking, cancelled_by="patient", by=scheduler)
    assert reminder_send(pk).status == "cancelled"
    assert messaging.outbox == []


def test_opted_out_after_dispatch_sends_nothing(texted, book, clock):
    patient = texted()
    book(patient)
    clock.move_to("2026-11-23 15:00:01+00:00")
    [pk] = reminders_claim()
    OptOut.objects.create(patient=patient, channel="sms", changed_at=timezone.now(), changed_via="sms_reply")
    assert reminder_send(pk).status == "cancelled"
    assert messaging.outbox == []


def test_a_second_task_for_the_same_row_sends_nothing_more(texted, book, clock):
    book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    [pk] = reminders_claim()
    assert reminder_send(pk).status == "sent"
    assert reminder_send(pk).status == "gone"
    assert len(messaging.outbox) == 1


def test_one_send_runs_five_statements_the_first_taking_the_locks(texted, book, clock):
    """Pinned, so a lazy load or an extra read in the send path shows here: the locking read
    (a primary-key lookup, so no ORDER BY and LIMIT for Django to build on every send), the
    policy, the patient's opt-outs, today's count for the daily cap, and the row's update."""
    book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    [pk] = reminders_claim()
    with CaptureQueriesContext(connection) as captured:
        assert reminder_send(pk).status == "sent"
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [(sql.split()[0], re.findall(r'(?:FROM|UPDATE) "(\w+)"', sql)[0]) for sql in statements] == [
        ("SELECT", "scheduling_reminder"),
        ("SELECT", "scheduling_reminderpolicy"),
        ("SELECT", "scheduling_optout"),
        ("SELECT", "scheduling_reminder"),
        ("UPDATE", "scheduling_reminder"),
    ]
    lock = statements[0]
    assert 'FOR NO KEY UPDATE OF "scheduling_reminder", "scheduling_booking", "patients_patient"' in lock
    assert "ORDER BY" not in lock


def test_a_backlog_past_the_window_defers_to_the_next_morning(texted, book, clock):
    booking = book(texted(), starts_at=datetime(2026, 11, 25, 10, 0, tzinfo=NY))
    clock.move_to("2026-11-24 15:00:01+00:00")
    [pk] = reminders_claim()
    clock.move_to(datetime(2026, 11, 24, 21, 30, tzinfo=NY))  # the worker got to it late
    assert reminder_send(pk).status == "deferred"
    row = Reminder.objects.get(pk=pk)
    assert (row.status, row.due_at) == ("pending", utc(datetime(2026, 11, 25, 8, 0, tzinfo=NY)))
    assert messaging.outbox == []
    assert row.booking_id == booking.pk


def test_the_daily_cap_skips_a_second_reminder_the_same_local_day(texted, book, clock, therapist):
    patient = texted()
    book(patient, starts_at=datetime(2026, 11, 24, 10, 0, tzinfo=NY))
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["sent"]
    second = book(patient, starts_at=datetime(2026, 11, 23, 14, 0, tzinfo=NY))  # today, 2 h reminder at 12:00
    clock.move_to(datetime(2026, 11, 23, 12, 0, 1, tzinfo=NY))
    assert claim_and_send() == ["skipped"]
    assert "Daily limit of 1" in Reminder.objects.get(booking=second, offset_minutes=120).reason
    assert len(messaging.outbox) == 1


def test_a_permanent_provider_error_fails_the_row_into_the_staff_queue(texted, book, clock, twilio_fake):
    booking = book(texted(phone="+16175550199"))
    twilio_fake.fail_next(status=400, code=21211)
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["failed"]
    row = Reminder.objects.get(booking=booking, offset_minutes=1440)
    assert row.status == "failed"
    assert "not a valid phone number" in row.reason
    task = StaffTask.objects.get(reminder=row)
    assert (task.kind, task.patient_id, task.booking_id) == (
        StaffTaskKind.REMINDER_FAILED,
        booking.patient_id,
        booking.pk,
    )


@pytest.mark.parametrize("stored", ["555-CALL-NOW", "+1555", "+161755501011234"])
def test_an_unparsable_phone_number_fails_the_row_with_a_reason_for_the_desk(texted, book, clock, stored):
    patient = texted()
    booking = book(patient)
    type(patient).objects.filter(pk=patient.pk).update(phone=stored)  # as an import could leave it
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["failed"]
    row = Reminder.objects.get(booking=booking, offset_minutes=1440)
    assert "not a valid number" in row.reason
    assert StaffTask.objects.filter(reminder=row, kind=StaffTaskKind.REMINDER_FAILED).exists()
    assert messaging.outbox == []


def test_unsubscribed_at_the_provider_records_the_opt_out_and_stops_the_rest(texted, book, clock, twilio_fake):
    patient = texted()
    booking = book(patient)
    later = book(patient, starts_at=datetime(2026, 11, 27, 10, 0, tzinfo=NY))
    twilio_fake.fail_next(status=400, code=21610)
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["failed"]
    row = Reminder.objects.get(booking=booking, offset_minutes=1440)
    assert "opted out of texts" in row.reason
    assert StaffTask.objects.filter(reminder=row, kind=StaffTaskKind.REMINDER_FAILED).exists()
    opt_out = OptOut.objects.get(patient=patient, channel="sms")
    assert (opt_out.opted_out, opt_out.changed_via, opt_out.changed_by) == (True, "provider", None)
    # Every other pending text is cancelled, saying why; nothing more is tried.
    assert {status for status, _ in rows(later).values()} == {"cancelled"}
    assert Reminder.objects.get(booking=booking, offset_minutes=120).status == "cancelled"
    clock.move_to("2026-11-26 15:00:01+00:00")
    assert claim_and_send() == []
    assert twilio_fake.messages == []


def test_a_transient_error_retries_with_backoff_then_fails_after_the_limit(texted, book, clock, twilio_fake, settings):
    settings.REMINDER_MAX_ATTEMPTS = 3
    settings.REMINDER_RETRY_BASE_SECONDS = 30
    book(texted())
    twilio_fake.fail_next(count=3, status=503)
    clock.move_to("2026-11-23 15:00:01+00:00")
    [pk] = reminders_claim()
    first, second = reminder_send(pk), reminder_send(pk)
    assert (first.status, first.retry_in, second.status, second.retry_in) == ("retry", 30, "retry", 60)
    row = Reminder.objects.get(pk=pk)
    # The lease runs from the planned retry: the dispatcher does not claim it meanwhile.
    assert row.status == "claimed"
    assert row.claimed_at is not None
    assert row.claimed_at > timezone.now()
    assert reminders_claim() == []
    assert reminder_send(pk).status == "failed"
    row.refresh_from_db()
    assert (row.attempts, row.status) == (3, "failed")
    assert "Gave up after 3 attempts" in row.reason
    assert twilio_fake.messages == []


def test_the_twilio_backend_gets_the_rows_idempotency_key(texted, book, clock, twilio_fake):
    book(texted())
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["sent"]
    row = Reminder.objects.get(status="sent")
    [delivered] = twilio_fake.messages
    assert delivered.request.idempotency_token == str(row.idempotency_key)
    assert delivered.sid == row.provider_message_id
    assert row.provider_message_id.startswith("SM")


def test_an_email_reminder_goes_through_djangos_mail(texted, book, clock, mailoutbox):
    book(texted(channel="email", email="pat@example.org"))
    clock.move_to("2026-11-23 15:00:01+00:00")
    assert claim_and_send() == ["sent"]
    [message] = mailoutbox
    assert message.to == ["pat@example.org"]
    assert message.subject == "Appointment reminder"
    assert "Nov. 24, 2026" in message.body


# --- the policy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sms_template", "Hi {first_name}, see you {date}", "Unknown placeholder(s) {first_name}"),
        ("sms_template", "Your IOP group is {date} at {time}", "'iop'"),
        ("email_template", "Your diazepam taper visit is {date}", "'diazepam'"),
        ("sender_name", "Sunrise Recovery", "'recovery'"),
        ("sms_template", "{sender} " + "x" * 150 + " {date}", "keep it to 160"),
        ("sms_template", "See you {date", "does not parse"),
    ],
)
def test_the_policy_refuses_revealing_or_personal_templates(field, value, message):
    policy = ReminderPolicy.current()
    setattr(policy, field, value)
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert message in str(refused.value.message_dict[field])


def test_the_default_policy_is_valid_and_within_one_text():
    ReminderPolicy.current().full_clean()


def test_extra_revealing_words_come_from_settings(settings):
    settings.REMINDER_EXTRA_REVEALING_WORDS = ["Harbor House"]
    policy = ReminderPolicy.current()
    policy.sender_name = "Harbor House"
    with pytest.raises(ValidationError):
        policy.full_clean()


def test_reminder_rows_carry_no_text(texted, book):
    """What is stored and queued is ids and times; the text is rendered at send time."""
    booking = book(texted())
    field_names = {f.name for f in Reminder._meta.get_fields()}
    assert not {"body", "text", "to", "phone"} & field_names
    assert Reminder.objects.filter(booking=booking).exists()


def test_changing_the_channel_in_the_admin_replans_future_reminders(texted, book, rf, make_user):
    from django.contrib import admin as django_admin
    from django.forms.models import model_to_dict

    from patients.models import Patient

    patient = texted()
    booking = book(patient)
    request = rf.post("/admin/patients/patient/")
    request.user = make_user(Role.ADMISSIONS)
    model_admin = django_admin.site._registry[Patient]
    data = {k: v for k, v in model_to_dict(patient).items() if v is not None}
    data.update(reminder_channel="email", email="pat@example.org", phone=str(patient.phone))
    form = model_admin.get_form(request, patient, change=True)(data, instance=patient)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, True)
    assert rows(booking) == {
        (1440, "sms"): ("cancelled", utc(datetime(2026, 11, 23, 10, 0, tzinfo=NY))),
        (120, "sms"): ("cancelled", utc(datetime(2026, 11, 24, 8, 0, tzinfo=NY))),
        (1440, "email"): ("pending", utc(datetime(2026, 11, 23, 10, 0, tzinfo=NY))),
        (120, "email"): ("pending", utc(datetime(2026, 11, 24, 8, 0, tzinfo=NY))),
    }
