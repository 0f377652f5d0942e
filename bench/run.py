"""Scheduling benchmark (bench/README.md): the clinician week view, the patient list and
booking creation against gunicorn on loopback, as ratios to GET /healthz measured in the
same run, with the SQL queries each request makes.

    python3 -m uv run python bench/run.py [--clients 8] [--duration 15] [--workers 2] [--check]

Needs the clinic made by bench/generate.py in BENCH_DATABASE_URL (default clinic_bench).
Prints a table and writes bench/results/scheduling.json.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.processes import cpu_seconds, free_port, processes

# The target: these run at >= 25 % of /healthz throughput, with a constant query count.
TARGET_RATIO = 0.25
TARGETED = ("week_view", "patients_desk")
BOOKING_DAYS = 10  # weekdays of drop-in sessions made for the booking target (2,000 places a day)

# A request: method, path, JSON body or None, token.
Request = tuple[str, str, dict[str, Any] | None, str | None]


@dataclass
class Target:
    name: str
    title: str
    # (client index, sequence number within that client) -> the request to make
    make: Callable[[int, int], Request]
    ok: frozenset[int] = frozenset({200})


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


# --- the server -------------------------------------------------------------------------


def http_request(
    port: int, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=_headers(token, body))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _headers(token: str | None, body: dict[str, Any] | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def _no_control_socket() -> list[str]:
    """Newer gunicorn opens a control socket at a fixed path in $HOME, which another server
    on the machine may be using: turn it off where the option exists."""
    usage = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=False)
    return ["--no-control-socket"] if "--no-control-socket" in usage.stdout else []


@contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[int, int]]:
    """gunicorn serving clinic.wsgi on a free loopback port: yields (port, master pid)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "clinic.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--worker-class", "sync"]
    command += _no_control_socket()
    with log.open("w") as log_file:
        process = subprocess.Popen(command, cwd=common.ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"gunicorn exited with {process.returncode}; see {log}")
                try:
                    if http_request(port, "GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not answer /healthz within 60 s; see {log}")
                time.sleep(0.2)
            yield port, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def token_for(port: int, username: str) -> str:
    status, body = http_request(
        port, "POST", "/api/v1/auth/token/", {"username": username, "password": common.PASSWORD}
    )
    if status != 200:
        raise SystemExit(f"Could not log in as {username}: {status} {body[:200]!r}")
    return str(json.loads(body)["token"])


# --- CPU accounting (from /proc; Linux only, best effort) --------------------------------


def cpu_snapshot(master: int) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by each gunicorn worker, each PostgreSQL process and this
    process (the client), by group and process id."""
    if not Path("/proc/self/stat").exists():
        return {}
    running = processes()
    groups = {
        "gunicorn": [p for p in running if p.parent == master],
        "postgres": [p for p in running if p.name.startswith("postgres")],
    }
    snapshot = {group: {p.pid: p.cpu for p in found} for group, found in groups.items()}
    snapshot["client"] = {os.getpid(): cpu_seconds(os.getpid())}
    return snapshot


def cpu_cores(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], seconds: float
) -> dict[str, float]:
    """Cores used by each group between two snapshots (processes that ended in between are not counted)."""
    return {
        group: sum(used - before.get(group, {}).get(pid, 0.0) for pid, used in pids.items()) / seconds
        for group, pids in after.items()
    }


# --- load ---------------------------------------------------------------------------------


def run_load(port: int, master: int, target: Target, *, clients: int, warmup: float, duration: float) -> LoadResult:
    """`clients` threads, each with its own connection, requesting back to back for
    warmup + duration seconds; the requests that complete inside the measured window count."""
    start = time.perf_counter() + 0.2
    measure_from, measure_to = start + warmup, start + warmup + duration
    per_client: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        records = per_client[index]
        try:
            while time.perf_counter() < start:
                time.sleep(0.001)
            for sequence in itertools.count():
                began = time.perf_counter()
                if began >= measure_to:
                    break
                method, path, body, token = target.make(index, sequence)
                payload = json.dumps(body).encode() if body is not None else None
                conn.request(method, path, body=payload, headers=_headers(token, body))
                response = conn.getresponse()
                response.read()
                ended = time.perf_counter()
                if response.will_close:
                    conn.close()
                if measure_from <= ended <= measure_to:
                    records.append((ended - began, response.status))
        except BaseException as error:
            errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    before = cpu_snapshot(master)
    time.sleep(max(0.0, measure_to - time.perf_counter()))
    after = cpu_snapshot(master)
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{target.name}: a client failed: {errors[0]!r}")
    records = [record for records in per_client for record in records]
    return LoadResult(
        requests=len(records),
        seconds=duration,
        latencies=[latency for latency, _ in records],
        statuses=Counter(status for _, status in records),
        cpu=cpu_cores(before, after, duration),
    )


# --- queries per request (in process) ------------------------------------------------------


def explain(sql: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a SELECT, as PostgreSQL prints it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(line for (line,) in cursor.fetchall())


def count_queries(request: Request) -> tuple[int, int, list[dict[str, Any]], Any]:
    """Status, number of SQL queries, the queries (slowest first), and the decoded body of one
    request made through Django's test client on the same database."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    method, path, body, token = request
    client = Client(HTTP_AUTHORIZATION=f"Token {token}") if token else Client()
    with CaptureQueriesContext(connection) as captured:
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data=body, content_type="application/json")
    queries: list[dict[str, Any]] = [
        {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:400], "full_sql": q["sql"]}
        for q in captured.captured_queries
    ]
    queries.sort(key=lambda q: -float(q["ms"]))
    decoded = json.loads(response.content) if response.get("Content-Type", "").startswith("application/json") else None
    return response.status_code, len(captured.captured_queries), queries, decoded


def query_profile(variants: list[tuple[str, Callable[[], Request]]]) -> dict[str, Any]:
    """Query counts of one target at several sizes (range, page size); each request is made
    twice and the second counted, so one-off work (the token's refresh) is not."""
    rows: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = []
    for label, make in variants:
        count_queries(make())
        status, count, queries, body = count_queries(make())
        returned = len(body["results"]) if isinstance(body, dict) and "results" in body else None
        slowest = [{"ms": q["ms"], "sql": q["sql"]} for q in queries[:3]]
        rows.append({"variant": label, "status": status, "queries": count, "rows": returned, "slowest": slowest})
    counts = {row["queries"] for row in rows}
    # The plan of the slowest read of the largest variant: where the database time goes.
    selects = [q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    plan = explain(selects[0]["full_sql"]) if selects else None
    return {"constant": len(counts) == 1, "variants": rows, "slowest_select_plan": plan}


def patient_page(size: int, token: str) -> Callable[[], Request]:
    return lambda: ("GET", f"/api/v1/patients/?page_size={size}", None, token)


# --- the bench data -------------------------------------------------------------------------


@dataclass
class Clinic:
    week_start: datetime
    week_end: datetime
    staff_ids: list[str]  # clinician i's staff (profile) id
    booking_pairs: list[tuple[str, str]]  # (session id, patient id), each bookable once


def load_clinic() -> Clinic:
    """Read the generated clinic, and make fresh drop-in sessions for the booking target
    (removing those of earlier runs with their bookings)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from clinic.models import Location, StaffProfile
    from patients.models import Patient
    from scheduling.models import Booking, GroupTrack, Reminder, Session, SessionStaff, SessionType

    location = Location.objects.filter(name=common.LOCATION_NAME).first()
    if location is None:
        raise SystemExit("No bench clinic in the database; run bench/generate.py first.")
    zone = ZoneInfo(common.ZONE)
    today = timezone.now().astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    week_start = datetime.combine(monday, datetime.min.time(), tzinfo=zone)
    week_end = datetime.combine(monday + timedelta(weeks=1), datetime.min.time(), tzinfo=zone)

    users = get_user_model().objects.filter(username__startswith="bench_clinician_").order_by("username")
    profiles = {p.user_id: str(p.public_id) for p in StaffProfile.objects.filter(user__in=users)}
    staff_ids = [profiles[user.pk] for user in users]

    tracks = list(GroupTrack.objects.filter(location=location).select_related("room").prefetch_related("facilitators"))
    tracks.sort(key=lambda track: track.room.name if track.room else "")
    group_therapy = SessionType.objects.get(code="group_therapy")
    # From next Monday, so the measured week's view is the same in every run.
    days: list[date] = []
    day = monday + timedelta(days=6)
    while len(days) < BOOKING_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    with transaction.atomic():
        drop_ins = Session.objects.filter(location=location, track__isnull=True, session_type=group_therapy)
        # A booking made by the last run got its reminders (which protect it) when it was made.
        Reminder.objects.filter(booking__session__in=drop_ins).delete()
        Booking.objects.filter(session__in=drop_ins).delete()
        drop_ins.delete()
        # The copy the scheduling services keep on a session, when this version of the model has it.
        fields = {field.attname for field in Session._meta.concrete_fields}
        copies = {"room_is_exclusive": True} if "room_is_exclusive" in fields else {}
        planned = []
        for day in days:
            start = datetime.combine(day, datetime.min.time().replace(hour=17, minute=30), tzinfo=zone)
            for track in tracks:
                session = Session(
                    session_type=group_therapy,
                    location=location,
                    room=track.room,
                    starts_at=start,
                    ends_at=start + timedelta(hours=1),
                    capacity=common.PATIENTS_PER_TRACK,
                    topic="peer_support",
                    **copies,
                )
                planned.append((session, list(track.facilitators.all())[:1]))
        sessions = Session.objects.bulk_create(session for session, _ in planned)
        SessionStaff.objects.bulk_create(
            SessionStaff(session=session, user=user, starts_at=session.starts_at, ends_at=session.ends_at)
            for session, leads in planned
            for user in leads
        )
    enrolled = Patient.objects.filter(track_enrollments__track__location=location).order_by("pk")
    patients = [str(public_id) for public_id in enrolled.values_list("public_id", flat=True)]
    per_day = len(tracks)
    pairs = []
    for slot in range(len(days)):
        day_sessions = sessions[slot * per_day : (slot + 1) * per_day]
        for n, patient in enumerate(patients):
            pairs.append((str(day_sessions[n % per_day].public_id), patient))
    return Clinic(week_start, week_end, staff_ids, pairs)


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (threads)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is not met")
    args = parser.parse_args(argv)

    url = common.database_url()
    common.check_database_name(url)
    env = common.setup_django(url)
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]

    from django.db import connection

    clinic = load_clinic()
    pairs = iter(itertools.cycle(clinic.booking_pairs))
    pair_lock = threading.Lock()

    def next_pair() -> tuple[str, str]:
        with pair_lock:
            return next(pairs)

    print(f"Bench database {common.database_name(url)}: {data_counts()}")
    with gunicorn(env, args.workers, common.RESULTS / "gunicorn.log") as (port, master):
        desk = token_for(port, common.ADMISSIONS_USERNAME)
        clinician_tokens = [token_for(port, common.clinician_username(n)) for n in range(min(args.clients, 8))]

        def week(staff: int, start: datetime, end: datetime) -> str:
            query = {"staff": clinic.staff_ids[staff], "start": start.isoformat(), "end": end.isoformat()}
            return f"/api/v1/sessions/?{urllib.parse.urlencode(query)}"

        def week_view(client: int, sequence: int) -> Request:
            # Each client is a clinician (a group lead) looking at their own week.
            n = client % len(clinician_tokens)
            return "GET", week(n, clinic.week_start, clinic.week_end), None, clinician_tokens[n]

        def book(client: int, sequence: int) -> Request:
            session, patient = next_pair()
            return "POST", "/api/v1/bookings/", {"session": session, "patient": patient}, desk

        targets = {
            "healthz": Target("healthz", "GET /healthz (baseline)", lambda c, s: ("GET", "/healthz", None, None)),
            # The least an authenticated API request costs (token, user and roles, DRF, one
            # small serializer): the ceiling for any endpoint, shown for scale, not a target.
            "auth_me": Target(
                "auth_me",
                "GET /api/v1/auth/me/ (authenticated floor)",
                lambda c, s: ("GET", "/api/v1/auth/me/", None, clinician_tokens[c % len(clinician_tokens)]),
            ),
            "week_view": Target("week_view", "Clinician week view", week_view),
            "patients_desk": Target(
                "patients_desk",
                "Patient list, admissions (page 1)",
                lambda c, s: ("GET", "/api/v1/patients/", None, desk),
            ),
            "patients_clinician": Target(
                "patients_clinician",
                "Patient list, clinician (page 1)",
                lambda c, s: ("GET", "/api/v1/patients/", None, clinician_tokens[c % len(clinician_tokens)]),
            ),
            "booking_create": Target("booking_create", "Booking creation", book, frozenset({201})),
        }

        # Queries per request, in process, at several sizes.
        tok = clinician_tokens[0]
        day_end = clinic.week_start + timedelta(days=1)
        month_end = clinic.week_start + timedelta(weeks=4)
        profiles = {
            "healthz": query_profile([("-", lambda: ("GET", "/healthz", None, None))]),
            "auth_me": query_profile([("-", lambda: ("GET", "/api/v1/auth/me/", None, tok))]),
            "week_view": query_profile(
                [
                    ("1 day", lambda: ("GET", week(0, clinic.week_start, day_end), None, tok)),
                    ("1 week", lambda: ("GET", week(0, clinic.week_start, clinic.week_end), None, tok)),
                    ("4 weeks", lambda: ("GET", week(0, clinic.week_start, month_end), None, tok)),
                ]
            ),
            "patients_desk": query_profile([(f"page_size={n}", patient_page(n, desk)) for n in (10, 50, 200)]),
            "patients_clinician": query_profile([(f"page_size={n}", patient_page(n, tok)) for n in (10, 50)]),
            "booking_create": query_profile([("booking 1", lambda: book(0, 0)), ("booking 2", lambda: book(0, 1))]),
        }
        connection.close()

        results: dict[str, LoadResult] = {}
        order = ["healthz", "auth_me", "week_view", "patients_desk", "patients_clinician", "booking_create"]
        order.append("healthz_after")
        for name in order:
            target = targets[name.removesuffix("_after")]
            print(f"  loading {name} ({args.clients} clients, {args.warmup:g}+{args.duration:g} s) ...", flush=True)
            results[name] = run_load(
                port, master, target, clients=args.clients, warmup=args.warmup, duration=args.duration
            )

    baseline = (results["healthz"].rate + results["healthz_after"].rate) / 2
    report = build_report(args, targets, profiles, results, baseline)
    # Other work on the machine skews every number: say how busy it was.
    report["machine"]["load_average_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    print_report(report)
    path = common.RESULTS / "scheduling.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nWritten to {path.relative_to(common.ROOT)}")
    return 1 if args.check and not report["target_met"] else 0


def data_counts() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM patients_patient), (SELECT count(*) FROM scheduling_grouptrack), "
            "(SELECT count(*) FROM scheduling_session), (SELECT count(*) FROM scheduling_booking)"
        )
        patients, tracks, sessions, bookings = cursor.fetchone()
    return f"{patients:,} patients, {tracks} tracks, {sessions:,} sessions, {bookings:,} bookings"


def build_report(
    args: argparse.Namespace,
    targets: dict[str, Target],
    profiles: dict[str, Any],
    results: dict[str, LoadResult],
    baseline: float,
) -> dict[str, Any]:
    rows = []
    for name, result in results.items():
        key = name.removesuffix("_after")
        target = targets[key]
        profile = profiles[key]
        counts = sorted({v["queries"] for v in profile["variants"]})
        unexpected = {status: n for status, n in result.statuses.items() if status not in target.ok}
        rows.append(
            {
                "target": name,
                "title": target.title + (" (again, at the end)" if name.endswith("_after") else ""),
                "queries": counts[0] if len(counts) == 1 else counts,
                "queries_constant": profile["constant"],
                "requests": result.requests,
                "requests_per_second": round(result.rate, 1),
                "ratio_to_healthz": round(result.rate / baseline, 3),
                "p50_ms": round(result.percentile(50), 1),
                "p95_ms": round(result.percentile(95), 1),
                "statuses": dict(result.statuses),
                "unexpected_statuses": unexpected,
                "cpu_cores_used": {k: round(v, 2) for k, v in result.cpu.items()},
                # Less sensitive to other load on the machine than requests per second.
                "cpu_ms_per_request": {
                    k: round(result.cpu[k] / result.rate * 1000, 2) if result.rate else None
                    for k in ("gunicorn", "postgres")
                    if k in result.cpu
                },
            }
        )
    by_name = {row["target"]: row for row in rows}
    met = all(
        by_name[name]["ratio_to_healthz"] >= TARGET_RATIO and by_name[name]["queries_constant"] for name in TARGETED
    )
    return {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": {
            "clients": args.clients,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "workers": args.workers,
        },
        "data": data_counts(),
        "healthz_baseline_rps": round(baseline, 1),
        "target": f"{', '.join(TARGETED)} at >= {TARGET_RATIO:.0%} of /healthz throughput, constant query count",
        "target_met": met,
        "results": rows,
        "query_profiles": profiles,
    }


def print_report(report: dict[str, Any]) -> None:
    load = report["machine"]["load_average_1min"]
    print(
        f"\n{report['data']}; {report['config']['clients']} clients, gunicorn {report['config']['workers']} workers, "
        f"{report['machine']['cpus']} CPUs (load average {load['before']} before, {load['after']} after)"
    )
    header = f"{'target':<46} {'queries':>8} {'req/s':>8} {'% healthz':>9} {'p50 ms':>8} {'p95 ms':>8}  statuses"
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        queries = row["queries"] if isinstance(row["queries"], int) else "/".join(map(str, row["queries"]))
        statuses = " ".join(f"{k}x{v}" for k, v in sorted(row["statuses"].items()))
        print(
            f"{row['title']:<46} {queries!s:>8} {row['requests_per_second']:>8.1f} {row['ratio_to_healthz']:>9.1%} "
            f"{row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f}  {statuses}"
        )
    print("\nQueries per request at several sizes (constant = does not grow with the rows returned):")
    for name, profile in report["query_profiles"].items():
        variants = ", ".join(
            f"{v['variant']}: {v['queries']}" + (f" ({v['rows']} rows)" if v["rows"] is not None else "")
            for v in profile["variants"]
        )
        print(f"  {name:<20} {'constant' if profile['constant'] else 'GROWS':<9} {variants}")
    print("\nCPU in each measured window: cores used by gunicorn workers / PostgreSQL / this client;")
    print("CPU ms per request in gunicorn workers + PostgreSQL (steadier than req/s on a busy machine):")
    for row in report["results"]:
        cpu, per = row["cpu_cores_used"], row["cpu_ms_per_request"]
        if cpu and per.get("gunicorn") is not None:
            print(
                f"  {row['target']:<20} {cpu['gunicorn']:.2f} / {cpu['postgres']:.2f} / {cpu['client']:.2f} cores   "
                f"{per['gunicorn']:7.2f} + {per['postgres']:6.2f} ms"
            )
    verdict = "MET" if report["target_met"] else "NOT MET"
    print(f"\nTarget ({report['target']}): {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
