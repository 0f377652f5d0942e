"""Reminders survive faults (issue: "nothing lost"): real Celery workers in their own
processes, a throwaway Redis, the test database, and a worker killed with SIGKILL."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from clinic.celery import app
from scheduling.models import Reminder
from scheduling.services.reminders import reminders_dispatch
from scheduling.tasks import send_reminder
from tests.reliability.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def dispatch_to(broker_url: str) -> int:
    """One dispatcher run, enqueueing on the given broker (the throwaway Redis)."""
    with app.connection_for_write(broker_url) as conn:

        def enqueue(ids: list[int]) -> None:
            for pk in ids:
                send_reminder.apply_async((pk,), connection=conn)  # type: ignore[call-arg]

        return reminders_dispatch(enqueue=enqueue)


def env_for(twilio_fake, settings) -> dict[str, str]:
    """A worker's settings for sending through the fake Twilio."""
    return {
        "SMS_BACKEND": "clinic.messaging.TwilioSmsBackend",
        "SMS_FROM_NUMBER": settings.SMS_FROM_NUMBER,
        "TWILIO_ACCOUNT_SID": twilio_fake.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_fake.auth_token,
        "TWILIO_API_BASE_URL": twilio_fake.base_url,
    }


def sent_keys(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["idempotency_key"] for line in path.read_text().splitlines() if line.strip())


def statuses(ids: list[int]) -> Counter[str]:
    return Counter(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))


def test_a_real_worker_sends_what_the_dispatcher_claims(due_reminders, workers, redis_server, worker_env):
    ids = due_reminders(20)
    workers()
    assert dispatch_to(redis_server.url) == 20
    wait_for(lambda: statuses(ids) == Counter({"sent": 20}), timeout=60, what="20 reminders sent")
    keys = sent_keys(Path(worker_env["SMS_FILE_PATH"]))
    assert len(keys) == 20
    assert set(keys.values()) == {1}


def test_a_worker_killed_mid_run_loses_nothing(due_reminders, workers, redis_server, worker_env, settings):
    """SIGKILL in the middle of 1,000 due reminders, then a new worker: every reminder goes
    out; a duplicate is possible only for a send in flight at the kill (README: the crash
    window), so at most one per pool process."""
    settings.REMINDER_CLAIM_LEASE_SECONDS = 8
    ids = due_reminders(1000)
    sms_file = Path(worker_env["SMS_FILE_PATH"])
    first = workers()
    assert dispatch_to(redis_server.url) == 1000
    wait_for(lambda: sum(sent_keys(sms_file).values()) >= 150, timeout=120, what="150 sends before the kill")
    first.kill()
    assert statuses(ids)["sent"] < 1000
    workers()
    deadline = time.monotonic() + 240
    while statuses(ids) != Counter({"sent": 1000}) and time.monotonic() < deadline:
        dispatch_to(redis_server.url)  # picks up the rows whose lease ran out
        time.sleep(2)
    assert statuses(ids) == Counter({"sent": 1000})
    keys = sent_keys(sms_file)
    assert len(keys) == 1000
    duplicates = sum(count - 1 for count in keys.values())
    assert duplicates <= 2  # --concurrency 2


def test_with_a_backend_that_honours_the_key_a_kill_duplicates_nothing(
    due_reminders, workers, redis_server, twilio_fake, settings
):
    settings.REMINDER_CLAIM_LEASE_SECONDS = 8
    ids = due_reminders(300)
    twilio_env = env_for(twilio_fake, settings)
    first = workers(**twilio_env)
    assert dispatch_to(redis_server.url) == 300
    wait_for(lambda: len(twilio_fake.messages) >= 60, timeout=120, what="60 sends before the kill")
    first.kill()
    workers(**twilio_env)
    deadline = time.monotonic() + 180
    while statuses(ids) != Counter({"sent": 300}) and time.monotonic() < deadline:
        dispatch_to(redis_server.url)
        time.sleep(2)
    assert statuses(ids) == Counter({"sent": 300})
    delivered = Counter(message.request.idempotency_token for message in twilio_fake.messages)
    assert len(delivered) == 300
    assert set(delivered.values()) == {1}


def test_the_worker_retries_a_transient_failure_until_it_goes(
    due_reminders, workers, redis_server, twilio_fake, settings
):
    """Twilio answers 503 to the first four sends: the task retries itself through the
    queue (Celery's retry, waits doubling from REMINDER_RETRY_BASE_SECONDS), with no
    dispatcher run in between, until every reminder is sent once."""
    ids = due_reminders(3)
    twilio_fake.fail_next(count=4, status=503)
    workers(**env_for(twilio_fake, settings), REMINDER_RETRY_BASE_SECONDS="1")
    assert dispatch_to(redis_server.url) == 3
    wait_for(lambda: statuses(ids) == {"sent": 3}, timeout=90, what="3 reminders sent after retries")
    assert sum(Reminder.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == 3 + 4
    assert len(twilio_fake.messages) == 3
    assert len(twilio_fake.requests) == 3 + 4


def test_with_redis_down_bookings_wait_and_go_out_when_it_is_back(due_reminders, workers, redis_server, settings):
    """The outbox is in PostgreSQL: a dispatcher run while the broker is down enqueues
    nothing and loses nothing; the rows go out once Redis answers again."""
    settings.REMINDER_CLAIM_LEASE_SECONDS = 3
    ids = due_reminders(10)  # writing them needs no broker
    redis_server.stop()
    assert dispatch_to(redis_server.url) == 10  # claimed; the enqueue fails quietly
    assert statuses(ids) == {"claimed": 10}
    redis_server.start()
    workers()
    time.sleep(3.5)  # the leases run out
    wait_for(
        lambda: dispatch_to(redis_server.url) >= 0 and statuses(ids) == {"sent": 10},
        timeout=60,
        what="the reminders sent after Redis came back",
    )


def test_the_send_task_is_acknowledged_late_and_rejected_when_its_worker_dies():
    assert send_reminder.acks_late is True
    assert send_reminder.reject_on_worker_lost is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
