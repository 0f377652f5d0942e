"""Reminders survive faults (issue: "nothing lost"): real Celery workers in their own
processes, a throwaway Redis, the test database, a worker killed with SIGKILL, Redis stopped
while bookings are made, and PostgreSQL dropping the worker's connections."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench.processes import wait_for
from scheduling.models import Booking, Reminder
from scheduling.tasks import send_reminder, send_reminders
from tests.reliability.conftest import (
    WORKER_CONCURRENCY,
    dispatch,
    dispatch_until_sent,
    keys_of,
    sent_keys,
    statuses,
)
from tests.utils import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def env_for(twilio_fake, settings) -> dict[str, str]:
    """A worker's settings for sending through the fake Twilio."""
    return {
        "SMS_BACKEND": "clinic.messaging.TwilioSmsBackend",
        "SMS_FROM_NUMBER": settings.SMS_FROM_NUMBER,
        "TWILIO_ACCOUNT_SID": twilio_fake.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_fake.auth_token,
        "TWILIO_API_BASE_URL": twilio_fake.base_url,
    }


def test_a_real_worker_sends_what_the_dispatcher_claims(due_reminders, workers, redis_server, worker_env):
    workers()
    ids = due_reminders(20)
    assert dispatch(redis_server) == 20
    wait_for(lambda: statuses(ids) == {"sent": 20}, timeout=60, what="20 reminders sent")
    assert sent_keys(Path(worker_env["SMS_FILE_PATH"])) == Counter(dict.fromkeys(keys_of(ids), 1))


def test_a_worker_killed_mid_run_loses_nothing(due_reminders, workers, redis_server, worker_env, settings):
    """SIGKILL in the middle of 1,000 due reminders, then a new worker: every reminder goes
    out. A chunk commits once, so the kill leaves the rows of the chunks in progress claimed,
    those already sent among them; the journal of sends in Redis keeps them from going
    again. A duplicate is possible only for a send in flight at the kill (README: the crash
    window): taken by the backend but not yet journaled, at most one per pool process."""
    # Longer than claiming and enqueueing them all takes on a busy machine (a run would claim
    # its own first batch again), not longer than the next worker takes to send the rest.
    settings.REMINDER_CLAIM_LEASE_SECONDS = 10
    first = workers()  # starting (4-5 s here) while the rows are made
    ids = due_reminders(1000)
    sms_file = Path(worker_env["SMS_FILE_PATH"])
    assert dispatch(redis_server) == 1000
    wait_for(lambda: sum(sent_keys(sms_file).values()) >= 150, timeout=60, what="150 sends before the kill")
    first.kill()  # returns once none of its processes runs: nothing below can change under us
    claimed = keys_of(ids, status="claimed")
    assert 0 < len(claimed) < 1000
    in_flight = claimed & set(sent_keys(sms_file))  # sent, the chunk not committed
    assert len(in_flight) <= WORKER_CONCURRENCY * settings.REMINDER_SEND_CHUNK

    workers()
    dispatch_until_sent(ids, redis_server, timeout=90)
    keys = sent_keys(sms_file)
    assert set(keys) == keys_of(ids)  # none lost
    duplicated = {key for key, count in keys.items() if count > 1}
    assert duplicated <= in_flight
    assert sum(keys[key] - 1 for key in duplicated) <= WORKER_CONCURRENCY


def test_with_a_backend_that_honours_the_key_a_kill_duplicates_nothing(
    due_reminders, workers, redis_server, twilio_fake, settings
):
    """The crash window hit on purpose: the fake provider takes a message from each pool
    process and holds its answer, and the worker is killed then. Those rows stay claimed
    (with the rest of their chunks), the next worker sends them again with the same key, and
    the provider keeps one message per reminder: more requests than messages, and every
    patient texted once. The chunks' sends that had been answered are in the journal and
    are not requested again: only the held ones are."""
    settings.REMINDER_CLAIM_LEASE_SECONDS = 10  # as above
    twilio_env = env_for(twilio_fake, settings)
    first = workers(**twilio_env)
    ids = due_reminders(100)
    assert dispatch(redis_server) == 100
    wait_for(lambda: len(twilio_fake.messages) >= 20, timeout=60, what="20 sends before the kill")
    twilio_fake.hold_after_accept_next(60, count=WORKER_CONCURRENCY)
    wait_for(lambda: len(twilio_fake.held) == WORKER_CONCURRENCY, timeout=30, what="a send held in each pool process")
    first.kill()
    held = {request.idempotency_token for request in twilio_fake.held}
    assert held <= {message.request.idempotency_token for message in twilio_fake.messages}  # the provider has them
    assert held <= keys_of(ids, status="claimed")  # our rows do not know

    workers(**twilio_env)
    dispatch_until_sent(ids, redis_server, timeout=90)
    messages = twilio_fake.messages
    assert len(messages) == 100
    assert {message.request.idempotency_token for message in messages} == keys_of(ids)
    assert set(Counter(message.request.to for message in messages).values()) == {1}  # 100 phones, one text each
    assert len(twilio_fake.requests) > len(messages)
    requested = Counter(request.idempotency_token for request in twilio_fake.requests)
    assert {token for token, count in requested.items() if count > 1} == held  # resent: exactly the held ones


def test_the_worker_retries_a_transient_failure_until_it_goes(
    due_reminders, workers, redis_server, twilio_fake, settings
):
    """Twilio answers 503 to the first four sends: the chunk task queues the rows that
    failed again by themselves (waits doubling from REMINDER_RETRY_BASE_SECONDS, counted on
    each row), with no dispatcher run in between, until every reminder is sent once."""
    workers(**env_for(twilio_fake, settings), REMINDER_RETRY_BASE_SECONDS="1")
    ids = due_reminders(3)
    twilio_fake.fail_next(count=4, status=503)
    assert dispatch(redis_server) == 3
    wait_for(lambda: statuses(ids) == {"sent": 3}, timeout=60, what="3 reminders sent after retries")
    assert sum(Reminder.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == 3 + 4
    assert len(twilio_fake.messages) == 3
    assert len(twilio_fake.requests) == 3 + 4


def test_with_redis_down_bookings_wait_and_go_out_when_it_is_back(
    book_texted, workers, redis_server, worker_env, settings, caplog
):
    """Booking needs no broker (the outbox is in PostgreSQL): bookings made while Redis is
    stopped succeed with their reminders planned; a dispatcher run then claims them but
    cannot enqueue (nothing lost, only late); once Redis answers again the worker, running
    all along, reconnects, and the rows go out when their lease runs out."""
    settings.REMINDER_CLAIM_LEASE_SECONDS = 3
    workers()
    redis_server.stop()
    published: list[Any] = []

    def record(**kwargs: Any) -> None:
        published.append(kwargs.get("headers", {}).get("task"))

    before_task_publish.connect(record, weak=False)
    try:
        bookings = book_texted(10)
    finally:
        before_task_publish.disconnect(record)
    assert published == []  # booking enqueued nothing, on any broker
    assert Booking.objects.filter(pk__in=[b.pk for b in bookings], status="booked").count() == 10
    ids = list(Reminder.objects.filter(booking__in=bookings).values_list("pk", flat=True))
    assert len(ids) == 10
    assert statuses(ids) == {"pending": 10}

    Reminder.objects.filter(pk__in=ids).update(due_at=timezone.now() - timedelta(seconds=1))
    with caplog.at_level(logging.ERROR, logger="scheduling.services.reminders"):
        assert dispatch(redis_server) == 10
    assert "could not enqueue 10 reminder sends" in caplog.text  # it met the stopped Redis
    assert statuses(ids) == {"claimed": 10}

    redis_server.start()
    dispatch_until_sent(ids, redis_server, timeout=60)
    assert sent_keys(Path(worker_env["SMS_FILE_PATH"])) == Counter(dict.fromkeys(keys_of(ids), 1))


def test_a_worker_keeps_its_database_connections_and_survives_postgresql_dropping_them(
    due_reminders, workers, redis_server, tmp_path
):
    """clinic/celery.py: the worker keeps its connections across tasks (Celery's Django
    fixup otherwise closes them after each), health-checked before each task. A batch of
    sends runs on the connections the warm-up opened; then PostgreSQL terminates them, and
    the next batch goes out on new ones with no task failing."""
    name = f"reliability-worker-{redis_server.port}"

    def backends() -> dict[int, Any]:
        """The worker's PostgreSQL sessions: pid -> when it started."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE application_name = %s", [name])
            return dict(cursor.fetchall())

    def make_due(batch: list[int]) -> None:
        Reminder.objects.filter(pk__in=batch).update(due_at=timezone.now())

    workers(DATABASE_URL=f"{database_url()}?application_name={name}")
    ids = due_reminders(90)
    warm, first, second = ids[:10], ids[10:50], ids[50:]
    Reminder.objects.filter(pk__in=first + second).update(due_at=timezone.now() + timedelta(days=1))
    assert dispatch(redis_server) == 10
    wait_for(lambda: statuses(warm) == {"sent": 10}, timeout=60, what="the warm-up sends")
    kept = backends()
    assert kept  # still connected after its tasks, not closed after each

    seen = set(kept)

    def first_sent() -> bool:
        seen.update(backends())
        return statuses(first) == {"sent": 40}

    make_due(first)
    assert dispatch(redis_server) == 40
    wait_for(first_sent, timeout=60, what="the first batch sent", every=0.02)
    assert len(seen) <= WORKER_CONCURRENCY  # one per pool process, not one per send
    assert set(kept) <= set(backends())  # the same sessions served the whole batch

    with connection.cursor() as cursor:
        # Only this test database's other sessions, which are the worker's; never the server's others.
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        terminated = [done for (done,) in cursor.fetchall()]
    assert terminated
    assert all(terminated)
    wait_for(lambda: not backends(), timeout=10, what="PostgreSQL to end the worker's sessions")

    make_due(second)
    assert dispatch(redis_server) == 40
    # One dispatch only: a task that failed on a dead connection would leave its row claimed.
    wait_for(lambda: statuses(second) == {"sent": 40}, timeout=30, what="the second batch sent")
    assert not set(backends()) & seen  # new sessions replaced the dead ones
    log = "\n".join(path.read_text() for path in sorted(tmp_path.glob("worker-*.log")))
    assert "raised unexpected" not in log
    assert "OperationalError" not in log


def test_the_send_tasks_are_acknowledged_late_and_rejected_when_their_worker_dies():
    for task in (send_reminders, send_reminder):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
