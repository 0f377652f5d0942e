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
    REMINDER_DISPATCH_BATCH, one send task per chunk of REMINDER_SEND_CHUNK) while the
    worker consumes, and time them from the first enqueue to the last row marked sent."""
    from django.conf import settings
    from django.db.models import Max
    from django.test.utils import override_settings

    from scheduling.models import Reminder, ReminderStatus
    from scheduling.services.reminders import reminders_dispatch
    from scheduling.tasks import send_reminders

    claimed: list[int] = []
    tasks = [0]
    started: list[float] = []
    before: dict[str, float] = {}
    sessions = connections_opened()

    def enqueue(chunk: list[int]) -> None:
        if not started:
            before.update(cpu_snapshot(worker_pid))
            started.append(time.time())
        send_reminders.delay(chunk)  # what dispatch_reminders does
        claimed.extend(chunk)
        tasks[0] += 1

    batch = min(count, settings.REMINDER_DISPATCH_BATCH)
    with override_settings(REMINDER_DISPATCH_BATCH=batch, REMINDER_DISPATCH_MAX_BATCHES=-(-count // batch)):
        reminders_dispatch(enqueue=enqueue)
    rows = Reminder.objects.filter(pk__in=claimed)
    deadline = time.monotonic() + 1200
    while True:
        drained = wait_drained(client, timeout=1200)
        # An empty queue is not enough: kombu pops a message before it records it as
        # unacknowledged, so the last chunk can be in neither for a moment (one chunk is the
        # whole of the warm-up). Done when no row is still claimed (a row queued again for
        # later stays claimed until it goes).
        if not rows.filter(status=ReminderStatus.CLAIMED).exists():
            break
        if time.monotonic() > deadline:
            raise SystemExit("Timed out waiting for the claimed reminders to be sent.")
        time.sleep(0.02)
    after = cpu_snapshot(worker_pid)
    outcomes = Counter(rows.values_list("status", flat=True))
    last = rows.filter(status=ReminderStatus.SENT).aggregate(last=Max("updated_at"))["last"]
    sent = outcomes.get(ReminderStatus.SENT, 0)
    seconds = (last.timestamp() if last else drained) - started[0]
    return {
        "claimed": len(claimed),
        "send_tasks": tasks[0],
        "sent": sent,
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 3),
        "per_second": round(sent / seconds, 1),
        "cpu_cores": cpu_cores(before, after, drained - started[0]),
        # per reminder (a send), not per task: a task sends a chunk
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
    """Send `count` due reminders in this process, in chunks of REMINDER_SEND_CHUNK through
    reminders_send as the worker's task does (the file backend, as in the worker), timing the
    SQL they run; then as many more with close_old_connections around each chunk, as the
    worker does; then as many more under cProfile to see which steps take the time."""
    import cProfile
    import pstats

    from django.conf import settings
    from django.db import close_old_connections, connection, transaction

    from scheduling.services import reminders
    from scheduling.services.reminders import reminders_claim, reminders_send

    size = settings.REMINDER_SEND_CHUNK

    def claim(rows: int = count) -> list[list[int]]:
        with transaction.atomic():
            ids = reminders_claim(batch=rows)
        return [ids[first : first + size] for first in range(0, len(ids), size)]

    queries: list[float] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(time.perf_counter() - started)

    def send_all(chunks: list[list[int]], *, as_worker: bool) -> tuple[float, Counter[str]]:
        outcomes: Counter[str] = Counter()
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            for chunk in chunks:
                # What clinic/celery.py does around every task: the connection is kept, and
                # CONN_HEALTH_CHECKS costs a SELECT 1 before the task's first query.
                if as_worker:
                    close_old_connections()
                outcomes.update(outcome.status for outcome in reminders_send(chunk).values())
                if as_worker:
                    close_old_connections()
        return time.perf_counter() - started, outcomes

    reminders_send(claim(size)[0])  # warm: imports, the connection, translations
    statements: list[str] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(" ".join(sql.split())[:110])  # the SQL only: the values are parameters
        return execute(sql, params, many, context)

    one = claim(size)[0]
    with connection.execute_wrapper(keep):
        reminders_send(one)
    seconds, outcomes = send_all(claim(), as_worker=False)
    sql, query_count = sum(queries), len(queries)
    sends = outcomes.total()
    as_worker, more_outcomes = send_all(claim(), as_worker=True)
    outcomes += more_outcomes

    profiler = cProfile.Profile()
    more = claim()
    profiler.enable()
    for chunk in more:
        reminders_send(chunk)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    # (file, first line, name) -> cumulative seconds, for the steps of reminders_send.
    cumulative = {key: entry[3] for key, entry in stats.stats.items()}  # type: ignore[attr-defined]

    def share(function: Any) -> float:
        code = function.__code__
        found = [
            seconds
            for (file, line, _), seconds in cumulative.items()
            if (file, line) == (code.co_filename, code.co_firstlineno)
        ]
        return round(sum(found) / total, 3)

    def share_named(suffix: str, name: str) -> float:
        found = [seconds for (file, _, fn), seconds in cumulative.items() if file.endswith(suffix) and fn == name]
        return round(sum(found) / total, 3)

    shares = {
        "_lock: the chunk's rows, bookings, sessions, types and patients, locked": share(reminders._lock),
        "ReminderPolicy.current: get_or_create": share(reminders.ReminderPolicy.current.__func__),  # type: ignore[attr-defined]
        "_opted_out: the chunk's opt-outs": share(reminders._opted_out),
        "_sent_today: today's sends per patient": share(reminders._sent_today),
        "_journal_read: the journal of sends (Redis MGET)": share(reminders._journal_read),
        "_recheck: the planning rule, the window, the daily cap": share(reminders._recheck),
        "reminder_values: date and time in the patient's zone and language": share(reminders.reminder_values),
        "send_sms: the file backend": share(reminders.messaging.send_sms),
        "_journal_write: the send journaled (Redis SET)": share(reminders._journal_write),
        "_write: every outcome written, one UPDATE ... FROM (VALUES ...)": share(reminders._write),
        "commit": share_named("django/db/transaction.py", "__exit__"),
    }
    return {
        "chunk": size,
        "sends": sends,
        "outcomes": dict(outcomes),
        "ms_per_send": round(seconds / sends * 1000, 2),
        "queries_per_send": round(query_count / sends, 2),
        "sql_ms_per_send": round(sql / sends * 1000, 2),
        "python_ms_per_send": round((seconds - sql) / sends * 1000, 2),
        # with close_old_connections around each chunk, as in the worker
        "ms_per_send_as_worker": round(as_worker / sends * 1000, 2),
        "statements_of_one_chunk": statements,
        "profile_share_of_send": shares,
    }
