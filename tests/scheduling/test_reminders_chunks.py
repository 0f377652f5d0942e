"""Reminders sent in chunks (REMINDER_SEND_CHUNK ids per task): the rows locked in one
statement, the policy, opt-outs and today's counts read once, every outcome written in one
update; each row re-checked exactly as a chunk of one is (tests/scheduling/test_reminders.py)."""

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic import messaging
from scheduling.models import OptOut, Reminder, ReminderPolicy, StaffTask
from scheduling.services import reminders as reminders_service
from scheduling.services.reminders import reminders_claim, reminders_dispatch, reminders_send
from scheduling.tasks import send_reminders

NY = ZoneInfo("America/New_York")
TOMORROW_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NY)
# 15:00 in New York: the 24 h reminders of appointments tomorrow from 10:00 to 15:00 are due.
AFTERNOON = "2026-11-23 20:00:00+00:00"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_sms")]


@pytest.fixture
def due(texted, book, clock):
    """`n` patients, each with one appointment tomorrow and its 24 h reminder claimed now."""

    def make(n):
        for index in range(n):
            book(texted(phone=f"+1617555{index:04d}"), starts_at=TOMORROW_10 + timedelta(hours=index))
        clock.move_to(AFTERNOON)
        ids = reminders_claim()
        assert len(ids) == n
        return ids

    return make


@contextmanager
def patient_row_held(patient_id: int) -> Iterator[None]:
    """Another transaction, on a connection of its own, holds the patient's row (as an opt-out
    being written does) until the block ends."""
    params = connection.get_connection_params()
    other = psycopg.connect(
        **{k: v for k, v in params.items() if k in {"dbname", "user", "host", "port", "password"}}, autocommit=False
    )
    try:
        other.execute("SELECT id FROM patients_patient WHERE id = %s FOR NO KEY UPDATE", [patient_id])
        yield
    finally:
        other.rollback()
        other.close()


def statuses(outcomes):
    return sorted(outcome.status for outcome in outcomes.values())


def test_a_chunk_runs_the_five_statements_of_one_send(due):
    ids = due(4)
    with CaptureQueriesContext(connection) as captured:
        assert statuses(reminders_send(ids)) == ["sent"] * 4
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [(sql.split()[0], re.findall(r'(?:FROM|UPDATE) "(\w+)"', sql)[0]) for sql in statements] == [
        ("SELECT", "scheduling_reminder"),  # the rows, their bookings and patients, locked
        ("SELECT", "scheduling_reminderpolicy"),
        ("SELECT", "scheduling_optout"),
        ("SELECT", "scheduling_reminder"),  # today's sends per patient
        ("UPDATE", "scheduling_reminder"),  # every outcome
    ]
    assert "SKIP LOCKED" in statements[0]
    assert len(messaging.outbox) == 4
    rows = Reminder.objects.filter(pk__in=ids)
    assert {(r.status, r.attempts, r.provider_message_id) for r in rows} == {
        ("sent", 1, f"locmem-{r.idempotency_key}") for r in rows
    }


def test_the_daily_cap_counts_the_chunks_own_sends(texted, book, clock):
    patient = texted()
    first = book(patient, starts_at=TOMORROW_10)
    second = book(patient, starts_at=TOMORROW_10 + timedelta(hours=2))
    clock.move_to(AFTERNOON)
    ids = reminders_claim()
    assert len(ids) == 2
    assert statuses(reminders_send(ids)) == ["sent", "skipped"]  # the cap is 1 a day
    assert Reminder.objects.get(booking=first, offset_minutes=1440).status == "sent"
    skipped = Reminder.objects.get(booking=second, offset_minutes=1440)
    assert (skipped.status, skipped.reason) == ("skipped", "Daily limit of 1 reminder(s) reached.")
    assert len(messaging.outbox) == 1


def test_each_row_is_rechecked_under_the_lock(due, scheduler):
    from scheduling.services.bookings import booking_cancel

    ids = due(3)
    cancelled, opted, sent = Reminder.objects.filter(pk__in=ids).order_by("pk")
    booking_cancel(booking=cancelled.booking, cancelled_by="patient", by=scheduler)
    OptOut.objects.create(patient=opted.patient, channel="sms", changed_at=AFTERNOON, changed_via="sms_reply")
    outcomes = reminders_send(ids)
    assert {pk: outcome.status for pk, outcome in outcomes.items()} == {
        cancelled.pk: "cancelled",
        opted.pk: "cancelled",
        sent.pk: "sent",
    }
    assert [m.idempotency_key for m in messaging.outbox] == [str(sent.idempotency_key)]
    assert Reminder.objects.get(pk=opted.pk).reason == "The patient opted out of this channel."


def test_unsubscribed_at_the_provider_stops_the_patients_other_rows_in_the_chunk(texted, book, clock, twilio_fake):
    policy = ReminderPolicy.current()
    policy.max_per_day = 5
    policy.save()
    stopped, other = texted(), texted(phone="+16175550102")
    book(stopped, starts_at=TOMORROW_10)
    book(other, starts_at=TOMORROW_10 + timedelta(hours=1))
    book(stopped, starts_at=TOMORROW_10 + timedelta(hours=2))
    clock.move_to(AFTERNOON)
    ids = reminders_claim()
    twilio_fake.fail_next(status=400, code=21610)  # the first row, the stopped patient's
    outcomes = reminders_send(ids)
    assert [outcomes[pk].status for pk in sorted(ids)] == ["failed", "sent", "cancelled"]
    assert Reminder.objects.get(pk=sorted(ids)[2]).reason == "The patient opted out of this channel."
    assert OptOut.objects.get(patient=stopped, channel="sms").changed_via == "provider"
    assert StaffTask.objects.get().reminder_id == sorted(ids)[0]
    assert [m.request.to for m in twilio_fake.messages] == ["+16175550102"]


@pytest.mark.django_db(transaction=True)
def test_a_row_another_transaction_holds_is_left_for_later_not_waited_for(due):
    """An opt-out being written holds the patient's row: the chunk skips that reminder
    (busy: the task queues it again), sends the rest, and the next try sends it."""
    ids = due(2)
    held = Reminder.objects.get(pk=ids[0])
    with patient_row_held(held.patient_id):
        outcomes = reminders_send(ids)
    assert (outcomes[held.pk].status, outcomes[ids[1]].status) == ("busy", "sent")
    assert outcomes[held.pk].retry_in == reminders_service.BUSY_RETRY_SECONDS
    assert Reminder.objects.get(pk=held.pk).status == "claimed"
    assert statuses(reminders_send([held.pk])) == ["sent"]
    assert statuses(reminders_send(ids)) == ["gone", "gone"]  # a duplicate task: nothing more
    assert len(messaging.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_a_row_held_past_its_lease_is_left_to_the_dispatcher_not_retried_forever(due, clock, settings):
    """A row another transaction still holds when its claim's lease has run out is not queued
    again ("lapsed"): the dispatcher claims it again, and sends it, once it is free."""
    ids = due(2)
    held = Reminder.objects.get(pk=ids[0])
    clock.shift(timedelta(seconds=settings.REMINDER_CLAIM_LEASE_SECONDS + 1))
    with patient_row_held(held.patient_id), mock.patch.object(send_reminders, "apply_async") as apply_async:
        send_reminders(ids)
        outcomes = reminders_send([held.pk])
    assert outcomes[held.pk].status == "lapsed"
    # The other row went out; the held one was not queued again for 2 s later.
    assert [call.args for call in apply_async.call_args_list] == []
    assert Reminder.objects.get(pk=held.pk).status == "claimed"
    assert reminders_claim() == [held.pk]
    assert statuses(reminders_send([held.pk])) == ["sent"]
    assert len(messaging.outbox) == 2


def test_a_send_the_crash_kept_from_the_database_is_recorded_not_sent_again(due, settings, tmp_path):
    """The worker died after the backend took the message, before the chunk committed: the
    journal in Redis says it went out, so when the lease brings the row back it is recorded
    as sent (the provider's id kept) and nothing goes to the patient twice, with a backend
    that does not deduplicate (the file backend)."""
    settings.SMS_BACKEND = "clinic.messaging.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    [pk] = due(1)

    def died_before_the_commit():
        with transaction.atomic():
            assert statuses(reminders_send([pk])) == ["sent"]
            raise RuntimeError("the worker died before the commit")

    with pytest.raises(RuntimeError):
        died_before_the_commit()
    row = Reminder.objects.get(pk=pk)
    assert (row.status, row.attempts, row.provider_message_id) == ("claimed", 0, "")
    assert statuses(reminders_send([pk])) == ["sent"]
    [line] = Path(settings.SMS_FILE_PATH).read_text().splitlines()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 1, json.loads(line)["id"])


def test_without_the_journal_sends_still_go(due, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    ids = due(2)
    with caplog.at_level(logging.WARNING, logger="scheduling.services.reminders"):
        assert statuses(reminders_send(ids)) == ["sent", "sent"]
    assert "could not read the journal of sent reminders for 2 rows" in caplog.text
    assert "could not journal sent reminder" in caplog.text


def test_a_chunk_out_of_time_leaves_the_rest_claimed_for_the_next_task(due, monkeypatch):
    ids = due(3)
    monkeypatch.setattr(reminders_service, "CHUNK_SECONDS", -1.0)  # out of time before the first send
    assert statuses(reminders_send(ids)) == ["busy"] * 3
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", "attempts")) == {("claimed", 0)}
    assert messaging.outbox == []


def test_the_task_queues_again_only_the_rows_to_try_later(due, twilio_fake, settings):
    settings.REMINDER_RETRY_BASE_SECONDS = 30
    ids = due(3)
    twilio_fake.fail_next(status=503)  # the first row's send
    with mock.patch.object(send_reminders, "apply_async") as apply_async:
        assert send_reminders(ids) == "retry=1 sent=2"
    apply_async.assert_called_once_with(([ids[0]],), countdown=30)
    row = Reminder.objects.get(pk=ids[0])
    assert (row.status, row.attempts) == ("claimed", 1)


def test_the_dispatcher_enqueues_one_task_per_chunk(due, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_SEND_CHUNK = 2
    ids = due(5)
    Reminder.objects.filter(pk__in=ids).update(status="pending", claimed_at=None)
    chunks: list[list[int]] = []
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_dispatch(enqueue=chunks.append) == 5
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert sorted(pk for chunk in chunks for pk in chunk) == sorted(ids)
