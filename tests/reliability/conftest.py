"""Real parts for fault tests: a throwaway Redis on its own port (never the shared one) and
real Celery workers in their own processes, on the test database.

This process's own Celery app keeps the broker it read from REDIS_URL when the settings
loaded (pytest-env: the shared Redis, database 15). So nothing here enqueues through it:
`dispatch` runs the real dispatcher with an enqueue that publishes to the throwaway Redis
by its URL, and a stopped throwaway Redis is the broker that enqueue meets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from django.utils import timezone
from psycopg import sql

from bench.processes import CeleryWorker, ThrowawayRedis, free_port, processes, wait_for
from clinic.celery import app
from clinic.models import LevelOfCare
from clinic.roles import Role
from patients.models import Patient
from patients.services.episodes import episode_admit
from scheduling.models import Booking, Reminder, ReminderPolicy, Session, SessionType
from scheduling.services.bookings import booking_create
from scheduling.services.reminders import reminders_dispatch
from scheduling.tasks import send_reminders
from tests.clinic.factories import LocationFactory

# The insurance and scheduling clinic (an IOP track, an insured patient), for test_tasks_twice.py:
# fixtures from other directories' conftests are not seen here otherwise. Not their `clock`, which
# is autouse there: time frozen here would expire the tokens a live server checks with the real one.
from tests.insurance.conftest import (  # noqa: F401  (fixtures, re-exported for pytest)
    admitted,
    billing,
    location,
    make_coverage,
    make_track,
    payer,
    room,
    staff_of,
    therapist,
)
from tests.insurance.test_authorizations import iop_patient  # noqa: F401  (a fixture)
from tests.patients.factories import PatientFactory
from tests.utils import ROOT, database_url

# Pool processes of every worker started here: the most sends in flight at once, so the
# most duplicates a crash can leave with a backend that does not deduplicate (README).
WORKER_CONCURRENCY = 2


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def worker_env(redis_server: ThrowawayRedis, tmp_path: Path, bytecode_cache: Path) -> dict[str, str]:
    """The worker's environment: the test run's (pytest-env's SECRET_KEY among it), with
    DEBUG off as in production whatever this run was started with."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", ""):
        # No bytecode next to the sources here, so each worker compiled some 900 modules as it
        # started (4 of its 5-6 s on two busy cores): they keep it in this run's temporary
        # directory instead, and only the first compiles.
        env["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DEBUG": "false",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_server.url,
            "SMS_BACKEND": "clinic.messaging.FileSmsBackend",
            "SMS_FILE_PATH": str(tmp_path / "sms.jsonl"),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    """Start a worker (`--concurrency WORKER_CONCURRENCY`) with the environment overridden
    by keyword; each is stopped at the end of the test."""
    started: list[CeleryWorker] = []

    def start(**overrides: str) -> CeleryWorker:
        worker = CeleryWorker(
            env={**worker_env, **overrides},
            log=tmp_path / f"worker-{len(started)}.log",
            cwd=ROOT,
            concurrency=WORKER_CONCURRENCY,
            loglevel="INFO",
        )
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        # Nothing is asserted after the test: SIGKILL saves Celery's warm shutdown (1-2 s).
        worker.kill()


# --- the dispatcher, and what came of it --------------------------------------------------------


def dispatch(redis: ThrowawayRedis) -> int:
    """One run of the real dispatcher, its chunks of sends enqueued on the throwaway Redis
    (one producer for the run: a connection per message takes three times as long)."""
    with app.connection_for_write(redis.url) as conn:
        producer = app.amqp.Producer(conn, auto_declare=False)

        def enqueue(chunk: list[int]) -> None:
            send_reminders.apply_async((chunk,), producer=producer)

        return reminders_dispatch(enqueue=enqueue)


def statuses(ids: list[int]) -> Counter[str]:
    return Counter(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))


def dispatch_until_sent(ids: list[int], redis: ThrowawayRedis, *, timeout: float) -> None:
    """Run the dispatcher whenever the queue is empty, as beat would every minute, until
    every row is sent. A run claims again the rows whose lease ran out (their task died with
    a worker or never reached the broker); waiting for an empty queue keeps it from
    re-enqueueing rows whose first task is still waiting there."""

    def all_sent() -> bool:
        if statuses(ids) == {"sent": len(ids)}:
            return True
        if redis.queued() == 0:
            dispatch(redis)
        return False

    try:
        wait_for(all_sent, timeout=timeout, what=f"{len(ids)} reminders sent", every=0.2)
    except TimeoutError:
        raise AssertionError(f"Not all sent after {timeout:g} s: {dict(statuses(ids))}") from None


def sent_keys(path: Path) -> Counter[str]:
    """Idempotency keys in the file backend's output, with how often each went out."""
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["idempotency_key"] for line in path.read_text().splitlines() if line.strip())


def keys_of(ids: list[int], **filters: Any) -> set[str]:
    rows = Reminder.objects.filter(pk__in=ids, **filters)
    return {str(key) for key in rows.values_list("idempotency_key", flat=True)}


# --- reminders to send -------------------------------------------------------------------------


def _send_all_day() -> None:
    """The sending window the whole day, so the real clock never defers a reminder."""
    policy = ReminderPolicy.current()
    policy.window_start, policy.window_end = datetime.min.time(), datetime.max.time().replace(microsecond=0)
    policy.max_per_day = 5
    policy.save()


def _group_session(*, starts_at: datetime, capacity: int) -> Session:
    return Session.objects.create(
        session_type=SessionType.objects.get(code="group_therapy"),
        location=LocationFactory.create(),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        capacity=capacity,
        modality="video",
    )


@pytest.fixture
def due_reminders(make_user: Callable[..., Any]) -> Callable[[int], list[int]]:
    """`n` reminders due now, for n patients booked into one group session three hours
    ahead (rows made in bulk: the outbox's planning is tested elsewhere, and below with
    real bookings)."""

    def make(n: int) -> list[int]:
        _send_all_day()
        by = make_user(Role.ADMISSIONS)
        now = timezone.now()
        session = _group_session(starts_at=now + timedelta(hours=3), capacity=n)
        patients = Patient.objects.bulk_create(
            Patient(
                mrn=f"RL{i:06d}",
                legal_first_name="Given",
                legal_last_name=f"Family{i}",
                date_of_birth=date(1980, 1, 1),
                time_zone=ZoneInfo("America/New_York"),
                phone=f"+1617555{i:04d}",
                reminder_channel="sms",
            )
            for i in range(n)
        )
        bookings = Booking.objects.bulk_create(
            Booking(session=session, patient=p, starts_at=session.starts_at, ends_at=session.ends_at, booked_by=by)
            for p in patients
        )
        rows = Reminder.objects.bulk_create(
            Reminder(booking=b, patient=b.patient, channel="sms", offset_minutes=180, due_at=now) for b in bookings
        )
        return [row.pk for row in rows]

    return make


@pytest.fixture
def book_texted(make_user: Callable[..., Any]) -> Callable[[int], list[Booking]]:
    """Book `n` admitted patients who asked for text reminders into a group session through
    the booking service (booking_create plans the reminders). The session starts 2 hours
    and 20 seconds ahead, so of the default offsets (24 h, 2 h) only the 2-hour reminder is
    planned, due 20 seconds from now: near enough that the send's own re-check of the time
    does not defer it once the test moves its due time to the past."""

    def make(n: int) -> list[Booking]:
        _send_all_day()
        desk, clinician = make_user(Role.ADMISSIONS), make_user(Role.CLINICIAN)
        iop, today = LevelOfCare.objects.get(code="iop"), timezone.localdate()
        patients = [PatientFactory.create(phone=f"+1617555{9000 + i:04d}", reminder_channel="sms") for i in range(n)]
        for patient in patients:
            episode_admit(patient=patient, level=iop, admitted_on=today, reason="", by=clinician)
        session = _group_session(starts_at=timezone.now() + timedelta(hours=2, seconds=20), capacity=n)
        return [booking_create(session=session, patient=patient, by=desk) for patient in patients]

    return make


# --- a PostgreSQL cluster of our own, and the web process -------------------------------------

# The machine's own PostgreSQL: the test database and other work live there. Never stopped here.
SHARED_POSTGRES_PORT = 5432


def _postgres_bin() -> Path:
    """The newest Debian PostgreSQL server binaries (initdb, pg_ctl)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("No PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql).")
    return found[-1].parent


class ThrowawayPostgres:
    """An initdb'd cluster in a temporary directory, on a free port, with trust auth for
    loopback only, started, restarted and stopped at will. PostgreSQL refuses to run as
    root, so as root the cluster belongs to the `postgres` user."""

    def __init__(self) -> None:
        self.port = free_port()
        if self.port == SHARED_POSTGRES_PORT:
            raise RuntimeError(f"Refusing to run a throwaway PostgreSQL on the shared port {SHARED_POSTGRES_PORT}.")
        self.bin = _postgres_bin()
        self.user = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp_path: its root is private to this user, and the server runs as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix="clinic-faults-pg-"))
        if self.user:
            shutil.chown(self.dir, user=self.user)
        self.data = self.dir / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            args, user=self.user, cwd=self.dir, capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        # The server's options live in the cluster, so `pg_ctl restart` keeps them.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                # Test data only: no need to survive a power cut, and it starts and stops faster.
                "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
            )

    def pg_ctl(self, action: str) -> None:
        """start, stop or restart (fast shutdown: open sessions are terminated), waiting for it."""
        args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-m", "fast"]
        if action != "stop":
            args += ["-l", str(self.dir / "server.log")]
        self._run(*args, action)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop"],
                user=self.user, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        server.init()
        server.pg_ctl("start")
        yield server
    finally:
        server.remove()


def copy_test_database(to: ThrowawayPostgres, dbname: str) -> str:
    """The test database as it is now (migrated schema, committed rows) in a new database of
    the throwaway cluster, by pg_dump | pg_restore (a migrate there takes ten times as long);
    its URL."""
    with psycopg.connect(to.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)))
    dump = subprocess.run(
        ["pg_dump", "--dbname", database_url(), "--format=custom", "--no-owner", "--no-privileges"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", to.url(dbname)],
        input=dump.stdout, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return to.url(dbname)


class WebServer:
    """`gunicorn clinic.wsgi` with one sync worker (so one PostgreSQL connection, kept across
    requests for DATABASE_CONN_MAX_AGE as in production), in its own process group."""

    def __init__(self, *, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "clinic.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", "1", "--timeout", "60", "--graceful-timeout", "2", "--access-logfile", "-"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self.answers, timeout=60, what="gunicorn to answer /healthz")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def workers(self) -> set[int]:
        """The pids of gunicorn's worker processes: a worker that died and was replaced shows here."""
        if self.process is None:
            return set()
        return {p.pid for p in processes() if p.parent == self.process.pid}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def web(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WebServer]]:
    """Start the web process with the workers' environment overridden by keyword; stopped
    at the end of the test."""
    started: list[WebServer] = []

    def start(**overrides: str) -> WebServer:
        server = WebServer(env={**worker_env, **overrides}, log=tmp_path / f"web-{len(started)}.log")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()
