"""The reminders benchmark's worker side (bench/README.md, "Reminders"): its own Redis, a
real Celery worker, the no-op baseline, the sends, and one send timed in process.

Used by bench/reminders.py.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common
from bench import reminders_data as data
from bench.processes import CeleryWorker, ThrowawayRedis, cpu_seconds, processes

WORKER_CONCURRENCY = 2
PROFILE_SENDS = 200  # reminders sent in process to count queries and time the parts of a send


# --- the worker and CPU accounting ----------------------------------------------------------


@contextmanager
def celery_worker(env: dict[str, str], log: Path) -> Iterator[CeleryWorker]:
    """`celery -A clinic worker --concurrency 2 --pool prefork` with the no-op task
    included, in its own process group; stopped (SIGTERM, then SIGKILL) on the way out."""
    worker = CeleryWorker(
        env=env,
        log=log,
        cwd=common.ROOT,
        concurrency=WORKER_CONCURRENCY,
        extra=("--include", "bench.noop_tasks"),
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def cpu_snapshot(worker_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the worker (its main process and pool children), by
    PostgreSQL (every backend on the machine: other work shows here too; backends that
    ended count through the postmaster's children's time) and by this process (the
    enqueueing side)."""
    running = processes()
    worker = sum(p.cpu for p in running if worker_pid in (p.pid, p.parent))
    postgres = sum(p.cpu + p.children_cpu for p in running if p.name.startswith("postgres"))
    return {"worker": worker, "postgres": postgres, "bench": cpu_seconds(os.getpid())}


def connections_opened() -> int:
    """Sessions PostgreSQL has started on the current database, ever (pg_stat_database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        (sessions,) = cursor.fetchone()
    return int(sessions)


def cpu_cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    return {group: round((after[group] - before[group]) / seconds, 2) for group in before}


def cpu_ms_per_task(before: dict[str, float], after: dict[str, float], tasks: int) -> dict[str, float]:
    """CPU milliseconds per task in each group: steadier than tasks per second on a busy
    machine, and it says where the time goes."""
    return {group: round((after[group] - before[group]) / tasks * 1000, 2) for group in before}


# --- sends through a real worker -------------------------------------------------------------


def wait_drained(client: Any, *, timeout: float) -> float:
    """The moment (time.time()) the queue is empty and no task is unacknowledged: with late
    acknowledgement (CELERY_TASK_ACKS_LATE), every task has then finished."""
    deadline = time.monotonic() + timeout
    while True:
        pipe = client.pipeline()
        pipe.llen("celery")
        pipe.hlen("unacked")
        queued, unacked = pipe.execute()
        if queued == 0 and unacked == 0:
            return time.time()
        if time.monotonic() > deadline:
            raise SystemExit(f"Timed out after {timeout:g} s: {queued} tasks queued, {unacked} unacknowledged.")
        time.sleep(0.01)


def consume(on: bool) -> None:
    """Stop or resume the worker's consuming from the queue (Celery remote control; the
    reply of our one worker ends the wait)."""
    from clinic.celery import app

    if on:
        replies = app.control.add_consumer("celery", reply=True, timeout=10, limit=1)
    else:
        replies = app.control.cancel_consumer("celery", reply=True, timeout=10, limit=1)
    if not replies:
        raise SystemExit("The worker did not answer a remote-control command.")


def run_noop(count: int, client: Any, worker_pid: int, *, prefill: bool) -> dict[str, Any]:
    """`count` no-op tasks. prefill: queued while the worker does not consume, timed from
    the moment it resumes (the worker alone); otherwise timed from the first enqueue while
    the worker consumes (enqueueing and working at once, as for the sends)."""
    from bench.noop_tasks import noop

    sessions = connections_opened()
    if prefill:
        consume(False)
        for n in range(count):
            noop.delay(n)
        before, started = cpu_snapshot(worker_pid), time.time()
        consume(True)
    else:
        before, started = cpu_snapshot(worker_pid), time.time()
        for n in range(count):
            noop.delay(n)
    ended = wait_drained(client, timeout=600)
    after = cpu_snapshot(worker_pid)
    seconds = ended - started
    return {
        "tasks": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "cpu_cores": cpu_cores(before, after, seconds),
        "cpu_ms_per_task": cpu_ms_per_task(before, after, count),
        "postgres_connections_opened": connections_opened() - sessions,
    }


def run_sends(count: int, client: Any, worker_pid: int) -> dict[str, Any]:
    """Claim and enqueue `count` due reminders with the real dispatcher (batches of
    REMINDER_DISPATCH_BATCH) while the worker consumes, and time them from the first
    enqueue to the last row marked sent."""
    from django.conf import settings
    from django.db.models import Max
    from django.test.utils import override_settings

    from scheduling.models import Reminder, ReminderStatus
    from scheduling.services.reminders import reminders_dispatch
    from scheduling.tasks import send_reminder

    claimed: list[int] = []
    started: list[float] = []
    before: dict[str, float] = {}
    sessions = connections_opened()

    def enqueue(ids: list[int]) -> None:
        if not started:
            before.update(cpu_snapshot(worker_pid))
            started.append(time.time())
        [send_reminder.delay(pk) for pk in ids]
        claimed.extend(ids)

    batch = min(count, settings.REMINDER_DISPATCH_BATCH)
    with override_settings(REMINDER_DISPATCH_BATCH=batch, REMINDER_DISPATCH_MAX_BATCHES=-(-count // batch)):
        reminders_dispatch(enqueue=enqueue)
    drained = wait_drained(client, timeout=1200)
    after = cpu_snapshot(worker_pid)
    rows = Reminder.objects.filter(pk__in=claimed)
    outcomes = Counter(rows.values_list("status", flat=True))
    last = rows.filter(status=ReminderStatus.SENT).aggregate(last=Max("updated_at"))["last"]
    sent = outcomes.get(ReminderStatus.SENT, 0)
    seconds = (last.timestamp() if last else drained) - started[0]
    return {
        "claimed": len(claimed),
        "sent": sent,
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 3),
        "per_second": round(sent / seconds, 1),
        "cpu_cores": cpu_cores(before, after, drained - started[0]),
        "cpu_ms_per_task": cpu_ms_per_task(before, after, len(claimed)),
        "postgres_connections_opened": connections_opened() - sessions,
    }


def measure_sends(size: data.Size, redis: ThrowawayRedis, sample: int) -> dict[str, Any]:
    """One worker on the size's database: warm it up, then the no-op baseline (queue
    filled first), the no-op enqueued while it works, the sends, and the first again; the
    sends' ratio to the no-op is to the mean of its two runs with the queue filled first."""
    redis.empty()
    url = data.size_url(size)
    sms_file = common.RESULTS / f"reminders-sms-{size.label}.jsonl"
    sms_file.unlink(missing_ok=True)
    env = common.app_environment(url)
    env.update(
        {
            "REDIS_URL": redis.url,
            "SMS_BACKEND": "clinic.messaging.FileSmsBackend",
            "SMS_FILE_PATH": str(sms_file),
            "LOG_LEVEL": "WARNING",
        }
    )
    client = redis.client()
    with celery_worker(env, common.RESULTS / f"reminders-worker-{size.label}.log") as worker:
        from bench.noop_tasks import noop

        # Warm-up: both pool processes import, connect to PostgreSQL and send once.
        for n in range(8 * WORKER_CONCURRENCY):
            noop.delay(n)
        wait_drained(client, timeout=120)
        warm = run_sends(20 * WORKER_CONCURRENCY, client, worker.pid)
        results: dict[str, Any] = {
            "noop_prefilled": run_noop(sample, client, worker.pid, prefill=True),
            "noop_while_enqueueing": run_noop(sample, client, worker.pid, prefill=False),
            "sends": run_sends(sample, client, worker.pid),
            "noop_prefilled_again": run_noop(sample, client, worker.pid, prefill=True),
        }
    lines = sum(1 for _ in sms_file.open()) if sms_file.exists() else 0
    expected = warm["sent"] + results["sends"]["sent"]
    if lines != expected:
        raise SystemExit(f"The file backend wrote {lines} messages for {expected} reminders marked sent.")
    results["file_backend_lines"] = lines
    baseline = (results["noop_prefilled"]["per_second"] + results["noop_prefilled_again"]["per_second"]) / 2
    results["noop_per_second"] = round(baseline, 1)
    results["ratio"] = round(results["sends"]["per_second"] / baseline, 3)
    return results


# --- one send, in process: where its time goes -----------------------------------------------


def profile_send(count: int) -> dict[str, Any]:
    """Send `count` due reminders in this process (the file backend, as in the worker),
    timing each send and the SQL it runs, then profile as many more with cProfile to see
    which steps take the time."""
    import cProfile
    import pstats

    from django.db import close_old_connections, connection, transaction

    from scheduling.services import reminders
    from scheduling.services.reminders import reminder_send, reminders_claim

    def claim(rows: int = count) -> list[int]:
        with transaction.atomic():
            return reminders_claim(batch=rows)

    queries: list[float] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(time.perf_counter() - started)

    def send_all(ids: list[int], *, as_worker: bool) -> tuple[float, Counter[str]]:
        outcomes: Counter[str] = Counter()
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            for pk in ids:
                # What clinic/celery.py does around every task: the connection is kept, and
                # CONN_HEALTH_CHECKS costs a SELECT 1 before the task's first query.
                if as_worker:
                    close_old_connections()
                outcomes[reminder_send(pk).status] += 1
                if as_worker:
                    close_old_connections()
        return time.perf_counter() - started, outcomes

    reminder_send(claim(1)[0])  # warm: imports, the connection, translations
    statements: list[str] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(" ".join(sql.split())[:110])  # the SQL only: the values are parameters
        return execute(sql, params, many, context)

    one = claim(1)[0]
    with connection.execute_wrapper(keep):
        reminder_send(one)
    seconds, outcomes = send_all(claim(), as_worker=False)
    sql, query_count = sum(queries), len(queries)
    sends = outcomes.total()
    as_worker, more_outcomes = send_all(claim(), as_worker=True)
    outcomes += more_outcomes

    profiler = cProfile.Profile()
    more = claim()
    profiler.enable()
    for pk in more:
        reminder_send(pk)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    # (file, first line, name) -> cumulative seconds, for the steps of reminder_send.
    cumulative = {key: entry[3] for key, entry in stats.stats.items()}  # type: ignore[attr-defined]

    def share(function: Any) -> float:
        code = function.__code__
        found = [
            seconds
            for (file, line, _), seconds in cumulative.items()
            if (file, line) == (code.co_filename, code.co_firstlineno)
        ]
        return round(sum(found) / total, 3)

    commit = sum(
        seconds
        for (file, _, name), seconds in cumulative.items()
        if file.endswith("django/db/transaction.py") and name == "__exit__"
    )
    shares = {
        "_lock: the row, its booking, session, type and patient, locked": share(reminders._lock),
        "ReminderPolicy.current: get_or_create": share(reminders.ReminderPolicy.current.__func__),  # type: ignore[attr-defined]
        "_why_not: the opt-out query and the planning rule": share(reminders._why_not),
        "_over_daily_cap: today's sends counted": share(reminders._over_daily_cap),
        "reminder_values: date and time in the patient's zone and language": share(reminders.reminder_values),
        "send_sms: the file backend": share(reminders.messaging.send_sms),
        "_finish: the row saved": share(reminders._finish),
        "commit": round(commit / total, 3),
    }
    return {
        "sends": sends,
        "outcomes": dict(outcomes),
        "ms_per_send": round(seconds / sends * 1000, 2),
        "queries_per_send": round(query_count / sends, 2),
        "sql_ms_per_send": round(sql / sends * 1000, 2),
        "python_ms_per_send": round((seconds - sql) / sends * 1000, 2),
        # with close_old_connections around each send, as in the worker
        "ms_per_send_as_worker": round(as_worker / sends * 1000, 2),
        "statements_of_one_send": statements,
        "profile_share_of_send": shares,
    }
