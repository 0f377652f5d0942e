"""The reminders benchmark's dispatcher side (bench/README.md, "Reminders"): the real
dispatcher over every due reminder in a fresh process, its memory, and what one claim
touches.

Used by bench/reminders.py, which also runs `dispatcher_child` in the subprocess.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import common
from bench import reminders_data as data
from bench.processes import ThrowawayRedis

TRACED_BATCHES = (2, 8)  # batches the dispatcher claims under tracemalloc, in two calls
RESULT_PREFIX = "RESULT "


# --- the dispatcher, in a fresh process per measurement --------------------------------------


class RssSampler(threading.Thread):
    """This process's resident set (VmRSS, KiB), read every 20 ms until stopped. ru_maxrss
    is the high-water mark since the process began, which importing Django may already
    have set; the samples show what the call itself did."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.first = self.peak = self.last = self.read()
        self.done = threading.Event()

    @staticmethod
    def read() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.last = self.read()
            self.peak = max(self.peak, self.last)

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.last = self.read()
        self.peak = max(self.peak, self.last)


def dispatcher_child(traced: bool) -> int:
    """Run in a subprocess (`--dispatcher-child`) on the database and broker the parent
    chose: claim and enqueue every due reminder with the real reminders_dispatch and the
    enqueue of scheduling.tasks.dispatch_reminders, and print what it cost."""
    import tracemalloc

    common.setup_django(os.environ["DATABASE_URL"])

    from unittest import mock

    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings

    from scheduling.services import reminders
    from scheduling.services.reminders import reminders_dispatch
    from scheduling.tasks import send_reminders

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scheduling_reminder WHERE status = 'pending' AND due_at <= now()")
        (due,) = cursor.fetchone()
    send_reminders.app.connection_for_write().ensure_connection(max_retries=3)  # the broker answers

    # Per batch: its rows, from the claim's start to its first enqueue (the claim and its
    # commit), and the time in enqueueing its chunks; tasks: the chunks enqueued.
    batches: list[dict[str, float]] = []
    claim = reminders.reminders_claim
    tasks = [0]

    def timed_claim(**kwargs: Any) -> list[int]:
        batches.append({"rows": 0, "claim_s": 0.0, "enqueue_s": 0.0, "start": time.perf_counter()})
        return claim(**kwargs)

    def enqueue(chunk: list[int]) -> None:
        # What dispatch_reminders passes (scheduling/tasks.py): one send task per chunk.
        batch, started = batches[-1], time.perf_counter()
        if not batch["rows"]:
            batch["claim_s"] = started - batch["start"]
        send_reminders.delay(chunk)
        batch["enqueue_s"] += time.perf_counter() - started
        batch["rows"] += len(chunk)
        tasks[0] += 1

    patched = mock.patch.object(reminders, "reminders_claim", timed_claim)
    patched.start()

    limit = settings.REMINDER_DISPATCH_BATCH * settings.REMINDER_DISPATCH_MAX_BATCHES
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler = RssSampler()
    sampler.start()
    claimed, runs = 0, 0
    peaks: list[dict[str, int]] = []
    started = time.perf_counter()
    if traced:
        # tracemalloc makes each enqueue about 7 times slower, so the whole backlog would
        # take minutes: one batch untraced first (Celery and kombu import and cache what
        # they need on the first send), then calls of TRACED_BATCHES batches, each with
        # its own peak. Memory that grew with the rows claimed would show as a larger
        # peak for the larger call.
        with override_settings(REMINDER_DISPATCH_MAX_BATCHES=1):
            claimed, runs = reminders_dispatch(enqueue=enqueue), 1
        tracemalloc.start()
        for count in TRACED_BATCHES:
            tracemalloc.reset_peak()
            held = tracemalloc.get_traced_memory()[0]
            with override_settings(REMINDER_DISPATCH_MAX_BATCHES=count):
                rows = reminders_dispatch(enqueue=enqueue)
            current, peak = tracemalloc.get_traced_memory()
            # peak_bytes: the most the call held at once beyond what was held when it began
            peaks.append(
                {"rows": rows, "peak_bytes": peak - held, "held_before_bytes": held, "held_after_bytes": current}
            )
            claimed, runs = claimed + rows, runs + 1
        tracemalloc.stop()
    else:
        while True:  # one dispatcher run claims at most `limit`; beat would run it again
            rows = reminders_dispatch(enqueue=enqueue)
            claimed, runs = claimed + rows, runs + 1
            if rows < limit:
                break
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler.stop()
    patched.stop()
    batches = [batch for batch in batches if batch["rows"]]  # the last claim of a run finds none

    import redis

    queued = redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("celery")
    claims = [b["claim_s"] for b in batches]
    result = {
        "traced": traced,
        "due_before": due,
        "claimed": claimed,
        "dispatcher_runs": runs,
        "tasks_enqueued": tasks[0],
        "enqueued_in_broker": queued,
        "batches": len(batches),
        "batch_size": settings.REMINDER_DISPATCH_BATCH,
        "send_chunk": settings.REMINDER_SEND_CHUNK,
        "seconds": round(elapsed, 3),
        "rows_per_second": round(claimed / elapsed, 1),
        "claim_seconds": round(sum(claims), 3),
        "enqueue_seconds": round(sum(b["enqueue_s"] for b in batches), 3),
        "claim_ms_per_batch": {
            "first": round(claims[0] * 1000, 1) if claims else None,
            "median": round(statistics.median(claims) * 1000, 1) if claims else None,
            "last": round(claims[-1] * 1000, 1) if claims else None,
            "max": round(max(claims) * 1000, 1) if claims else None,
        },
        "max_rss_kib_before": rss_before,
        "max_rss_kib_after": rss_after,
        # the resident set sampled every 20 ms: when the call began, its highest, when it ended
        "rss_kib_during": {"start": sampler.first, "peak": sampler.peak, "end": sampler.last},
        # each traced call: the rows it claimed, and the most memory it held at once
        "tracemalloc": peaks,
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def measure_dispatcher(size: data.Size, redis: ThrowawayRedis, *, traced: bool) -> dict[str, Any]:
    """Dispatch in a fresh subprocess, with an empty broker; then put the claimed rows back."""
    redis.empty()
    url = data.size_url(size)
    env = {**common.app_environment(url), "REDIS_URL": redis.url}
    command = [sys.executable, str(common.ROOT / "bench" / "reminders.py"), "--dispatcher-child"]
    if traced:
        command.append("--traced")
    done = subprocess.run(command, cwd=common.ROOT, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        raise SystemExit(f"The dispatcher subprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    chunks = -(-result["claimed"] // result["send_chunk"])  # at least; more when a batch ends in a short chunk
    if result["enqueued_in_broker"] != result["tasks_enqueued"] or result["tasks_enqueued"] < chunks:
        raise SystemExit(
            f"{result['claimed']} reminders claimed, {result['tasks_enqueued']} send tasks enqueued, "
            f"{result['enqueued_in_broker']} in the broker."
        )
    data.release_claims()
    return result


def claim_plan(tries: int = 3) -> list[str]:
    """What one claim of a batch does and touches: EXPLAIN (ANALYZE, BUFFERS) of the
    dispatcher's own statement, in a transaction rolled back (the last of `tries`, the cache
    warm)."""
    from django.db import connection, transaction

    from scheduling.services.reminders import reminders_claim

    captured: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    plan: list[str] = []
    for _ in range(tries):
        with transaction.atomic():
            with connection.execute_wrapper(capture):
                reminders_claim()
            sql, params = captured[-1]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql, params)
                plan = [row[0].strip() for row in cursor.fetchall()]
            transaction.set_rollback(True)
    return plan
