"""Reminders benchmark (bench/README.md, "Reminders"): the dispatcher's claim rate, time and
memory with 100,000 and with 1,000,000 bookings in the table (the same reminders due in
both), and end-to-end sends per second through one real Celery worker (prefork,
concurrency 2, the file SMS backend) as a ratio to a no-op task on the same broker and
worker, measured in the same run.

    python3 -m uv run python bench/reminders.py [--sample 5000] [--reset] [--check]

Generates its databases when they are missing (BENCH_REMINDERS_DATABASE_URL, default
clinic_bench_reminders, one database per size: clinic_bench_reminders_100k and _1m) and
reuses them afterwards. Starts its own redis-server on a free port for the broker, never
the shared one. Prints a table and writes bench/results/reminders.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench import reminders_data as data
from bench.processes import ThrowawayRedis
from bench.reminders_dispatcher import claim_plan, dispatcher_child, measure_dispatcher
from bench.reminders_sends import PROFILE_SENDS, WORKER_CONCURRENCY, measure_sends, profile_send

# The targets: sends at >= 50 % of the no-op task's throughput, and the
# dispatcher's memory flat between the sizes (here: the larger size's peak within 25 %,
# or 2 MiB, of the smaller's).
TARGET_RATIO = 0.5
MEMORY_TOLERANCE = 0.25
MEMORY_SLACK = 2 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--upcoming", type=int, default=data.DEFAULT_UPCOMING, help="bookings in the next 48 hours (both sizes)"
    )
    parser.add_argument("--total", type=int, default=1_000_000, help="bookings in the table of the larger size")
    parser.add_argument(
        "--sample", type=int, default=5000, help="due reminders sent through the worker (a multiple of the batch, 500)"
    )
    parser.add_argument(
        "--sends-at",
        choices=["smaller", "larger", "both"],
        default="smaller",
        help="the sizes at which to measure the sends (the dispatcher is measured at both)",
    )
    parser.add_argument("--reset", action="store_true", help="drop the bench databases and generate them again")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--dispatcher-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dispatcher_child:
        return dispatcher_child(args.traced)

    sizes = [data.Size(args.upcoming, args.upcoming), data.Size(args.upcoming, args.total)]
    urls = {size: data.size_url(size) for size in sizes}
    for size in sizes:
        data.check_size(size)
        common.check_database_name(urls[size])
    # Room for the sample, the warm-up and the in-process sends among the due.
    most = sizes[0].expected_due // 2
    if args.sample < 1 or args.sample > most or (args.sample > 500 and args.sample % 500):
        raise SystemExit(f"--sample must be a multiple of 500 up to {most:,}.")
    sends_at = {"both": sizes, "smaller": sizes[:1], "larger": sizes[1:]}[args.sends_at]

    common.RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = common.RESULTS / "redis"
    workdir.mkdir(exist_ok=True)
    redis = ThrowawayRedis(workdir)
    # This process enqueues to the throwaway broker, and sends a few reminders itself
    # (profile_send) through the file backend.
    os.environ["REDIS_URL"] = redis.url
    os.environ["SMS_BACKEND"] = "clinic.messaging.FileSmsBackend"
    os.environ["SMS_FILE_PATH"] = str(common.RESULTS / "reminders-sms-profile.jsonl")
    (common.RESULTS / "reminders-sms-profile.jsonl").unlink(missing_ok=True)
    common.setup_django(urls[sizes[0]])
    load_before = os.getloadavg()[0]
    started = time.monotonic()

    for size in sizes:
        data.prepare(size, reset=args.reset, out=sys.stdout)
    report: dict[str, Any] = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": config(args),
        "sizes": {},
    }
    redis.start()
    try:
        for size in sizes:
            data.use_database(urls[size])
            entry: dict[str, Any] = {"database": common.database_name(urls[size])}
            entry["counts"] = data.counts()
            progress(f"{entry['database']}: arming, then dispatching every due reminder")
            entry["due_after_arming"] = data.arm(size)
            entry["dispatcher"] = measure_dispatcher(size, redis, traced=False)
            entry["dispatcher"]["claim_plan"] = claim_plan()
            if entry["dispatcher"]["due_before"] != size.expected_due:
                raise SystemExit(f"{entry['dispatcher']['due_before']} due when dispatching, not {size.expected_due}.")
            progress(f"{entry['database']}: the dispatcher under tracemalloc")
            entry["dispatcher_traced"] = measure_dispatcher(size, redis, traced=True)
            if size in sends_at:
                progress(f"{entry['database']}: {args.sample:,} sends and no-op tasks through one worker")
                entry["worker"] = measure_sends(size, redis, args.sample)
                entry["send_in_process"] = profile_send(PROFILE_SENDS)
            report["sizes"][size.label] = entry
    finally:
        redis.stop()
    report["machine"]["load_average_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    report["seconds"] = round(time.monotonic() - started)
    judge(report, sizes)
    print_report(report)
    path = common.RESULTS / "reminders.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nWritten to {path.relative_to(common.ROOT)}")
    return 1 if args.check and not report["target_met"] else 0


STARTED = time.monotonic()


def progress(what: str) -> None:
    print(f"  {time.monotonic() - STARTED:5.0f}s  {what} ...", flush=True)


def config(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings

    return {
        "upcoming": args.upcoming,
        "total": args.total,
        "sample": args.sample,
        "worker": f"celery prefork, concurrency {WORKER_CONCURRENCY}, prefetch multiplier "
        f"{settings.CELERY_WORKER_PREFETCH_MULTIPLIER}, acks_late {settings.CELERY_TASK_ACKS_LATE}",
        "dispatch_batch": settings.REMINDER_DISPATCH_BATCH,
        "dispatch_max_batches": settings.REMINDER_DISPATCH_MAX_BATCHES,
        "send_chunk": settings.REMINDER_SEND_CHUNK,
        "policy": "window 00:00-23:59:59 in the patient's zone, 10 a day, offsets 24 h and 2 h",
        "sms_backend": "clinic.messaging.FileSmsBackend",
    }


def judge(report: dict[str, Any], sizes: list[data.Size]) -> None:
    """The issue's targets: sends at >= 50 % of the no-op throughput (at every size where
    they were measured: measure_sends's ratio), and the dispatcher's traced peak flat
    between the sizes."""
    ratios = {label: entry["worker"]["ratio"] for label, entry in report["sizes"].items() if "worker" in entry}
    small, large = (report["sizes"][size.label]["dispatcher_traced"]["tracemalloc"][-1]["peak_bytes"] for size in sizes)
    memory_flat = large <= max(small * (1 + MEMORY_TOLERANCE), small + MEMORY_SLACK)
    report["targets"] = {
        "sends_ratio": {
            "target": TARGET_RATIO,
            "measured": ratios,
            "met": all(r >= TARGET_RATIO for r in ratios.values()),
        },
        "dispatcher_memory_flat": {
            "tracemalloc_peak_bytes": {size.label: value for size, value in zip(sizes, (small, large), strict=True)},
            "rule": f"tracemalloc peak within {MEMORY_TOLERANCE:.0%} or 2 MiB of the smaller size's",
            "met": memory_flat,
        },
    }
    report["target_met"] = bool(ratios) and all(target["met"] for target in report["targets"].values())


def print_report(report: dict[str, Any]) -> None:
    mib = 1024 * 1024
    load = report["machine"]["load_average_1min"]
    print(
        f"\nReminders: {report['config']['upcoming']:,} bookings in the next 48 hours; "
        f"{report['machine']['cpus']} CPUs (load average {load['before']} before, {load['after']} after); "
        f"{report['seconds']} s"
    )
    print("\nThe dispatcher: reminders_dispatch over every due row, batches of 500, enqueueing to Redis:")
    header = (
        f"{'bookings':>10} {'reminders':>10} {'due':>7} {'claimed':>7} {'seconds':>8} {'rows/s':>7} "
        f"{'claiming s':>10} {'enqueueing s':>12} {'ms per claim: 1st/median/last':>30}"
    )
    print(header)
    print("-" * len(header))
    for entry in report["sizes"].values():
        counts, run = entry["counts"], entry["dispatcher"]
        batch = run["claim_ms_per_batch"]
        print(
            f"{counts['bookings']:>10,} {counts['reminders']:>10,} {run['due_before']:>7,} {run['claimed']:>7,} "
            f"{run['seconds']:>8.1f} {run['rows_per_second']:>7.0f} {run['claim_seconds']:>10.1f} "
            f"{run['enqueue_seconds']:>12.1f} {batch['first']:>17.1f}/{batch['median']:.1f}/{batch['last']:.1f}"
        )
    for entry in report["sizes"].values():
        buffers = next((row for row in entry["dispatcher"]["claim_plan"] if row.startswith("Buffers:")), "")
        print(f"{entry['counts']['bookings']:>10,}: one claim of 500 rows, {buffers}")
    traced_rows = [peak["rows"] for peak in next(iter(report["sizes"].values()))["dispatcher_traced"]["tracemalloc"]]
    rows = " then ".join(f"{n:,}" for n in traced_rows)
    print("\nIts memory, in a fresh process per measurement: the resident set during that run (sampled), and")
    print(f"tracemalloc's peak (above the start of the call) in another process, calls claiming {rows} rows:")
    header = (
        f"{'bookings':>10} {'RSS MiB start/peak/end':>23} {'ru_maxrss MiB before/after':>27} "
        f"{'tracemalloc peak MiB':>21}"
    )
    print(header)
    print("-" * len(header))
    for entry in report["sizes"].values():
        run, traced = entry["dispatcher"], entry["dispatcher_traced"]
        during = run["rss_kib_during"]
        rss = f"{during['start'] / 1024:.0f}/{during['peak'] / 1024:.0f}/{during['end'] / 1024:.0f}"
        maxrss = f"{run['max_rss_kib_before'] / 1024:.0f}/{run['max_rss_kib_after'] / 1024:.0f}"
        peaks = " / ".join(f"{peak['peak_bytes'] / mib:.2f}" for peak in traced["tracemalloc"])
        print(f"{entry['counts']['bookings']:>10,} {rss:>23} {maxrss:>27} {peaks:>21}")
    print(
        f"\nSends through one worker (prefork, concurrency 2, file backend; a send task per chunk of "
        f"{report['config']['send_chunk']}) and the no-op baseline (tasks/s):"
    )
    header = (
        f"{'bookings':>10} {'sample':>6} {'no-op filled':>12} {'again':>6} {'while enq.':>10} "
        f"{'sends/s':>8} {'ratio':>6} {'PG conn.':>8} {'CPU ms/task no-op | send':>25}  outcomes"
    )
    print(header)
    print("-" * len(header))
    for entry in report["sizes"].values():
        if "worker" not in entry:
            continue
        worker = entry["worker"]
        sends = worker["sends"]
        outcomes = " ".join(f"{k}x{v}" for k, v in sorted(sends["outcomes"].items()))
        noop = [worker[k]["per_second"] for k in ("noop_prefilled", "noop_prefilled_again", "noop_while_enqueueing")]
        noop_cpu, send_cpu = worker["noop_prefilled"]["cpu_ms_per_task"], sends["cpu_ms_per_task"]
        cpu = (
            f"{noop_cpu['worker']:.1f}+{noop_cpu['postgres']:.1f} | {send_cpu['worker']:.1f}+{send_cpu['postgres']:.1f}"
        )
        print(
            f"{entry['counts']['bookings']:>10,} {sends['claimed']:>6,} "
            f"{noop[0]:>12.0f} {noop[1]:>6.0f} {noop[2]:>10.0f} "
            f"{sends['per_second']:>8.1f} {worker['ratio']:>6.1%} {sends['postgres_connections_opened']:>8,} "
            f"{cpu:>25}  {outcomes}"
        )
    print(
        "(CPU ms per task: the worker's processes + PostgreSQL's, for the no-op with the queue filled, and per "
        "reminder sent; a send task sends a chunk)"
    )
    for entry in report["sizes"].values():
        if "send_in_process" not in entry:
            continue
        profile = entry["send_in_process"]
        print(
            f"\nSends in this process, in chunks of {profile['chunk']} ({entry['counts']['bookings']:,} bookings): "
            f"{profile['ms_per_send']} ms, {profile['queries_per_send']} queries a send\n  "
            f"({profile['sql_ms_per_send']} ms in SQL round trips, {profile['python_ms_per_send']} ms the rest, "
            f"commit included); share of the profiled chunks:"
        )
        for step, share in profile["profile_share_of_send"].items():
            print(f"  {share:6.1%}  {step}")
        print(
            f"  with close_old_connections before and after each chunk, as the worker does (a health check, "
            f"SELECT 1, before the first query): {profile['ms_per_send_as_worker']} ms; the statements of one chunk:"
        )
        for statement in profile["statements_of_one_chunk"]:
            print(f"    {statement}")
    targets = report["targets"]
    ratios = ", ".join(f"{label}: {ratio:.1%}" for label, ratio in targets["sends_ratio"]["measured"].items())
    memory = targets["dispatcher_memory_flat"]
    peaks = ", ".join(f"{label}: {peak / mib:.2f} MiB" for label, peak in memory["tracemalloc_peak_bytes"].items())
    print(f"\nTarget: sends at >= {TARGET_RATIO:.0%} of the no-op task's throughput: ", end="")
    print(f"{'met' if targets['sends_ratio']['met'] else 'NOT MET'} ({ratios})")
    print(f"Target: the dispatcher's memory flat between the sizes ({memory['rule']}): ", end="")
    print(f"{'met' if memory['met'] else 'NOT MET'} ({peaks})")
    print(f"Targets: {'MET' if report['target_met'] else 'NOT MET'}")


if __name__ == "__main__":
    raise SystemExit(main())
