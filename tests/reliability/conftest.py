"""Real parts for fault tests: a throwaway Redis on its own port (never the shared one) and
real Celery workers in their own processes, on the test database."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from clinic.roles import Role
from patients.models import Patient
from scheduling.models import Booking, Reminder, ReminderPolicy, Session, SessionType
from tests.clinic.factories import LocationFactory

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class RedisServer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.dir = tmp
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=10, what="the throwaway redis")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class Worker:
    """`celery -A clinic worker` in its own process group, on the test database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "clinic", "worker", "--concurrency", "2", "--pool", "prefork"),
                *("--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "INFO"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: the parent and its pool children die mid-task."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(redis_server: RedisServer, tmp_path: Path) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DEBUG": "true",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": redis_server.url,
            "SMS_BACKEND": "clinic.messaging.FileSmsBackend",
            "SMS_FILE_PATH": str(tmp_path / "sms.jsonl"),
            "REMINDER_CLAIM_LEASE_SECONDS": "8",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**overrides: str) -> Worker:
        worker = Worker({**worker_env, **overrides}, tmp_path / f"worker-{len(started)}.log")
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def due_reminders(make_user: Callable[..., Any]) -> Callable[[int], list[int]]:
    """`n` reminders due now, for n patients booked into one group session three hours
    ahead (rows made in bulk: the outbox's planning is tested elsewhere). The sending window
    is the whole day, so the real clock never defers them."""

    def make(n: int) -> list[int]:
        policy = ReminderPolicy.current()
        policy.window_start, policy.window_end = datetime.min.time(), datetime.max.time().replace(microsecond=0)
        policy.max_per_day = 5
        policy.save()
        by = make_user(Role.ADMISSIONS)
        now = timezone.now()
        start = now + timedelta(hours=3)
        session = Session.objects.create(
            session_type=SessionType.objects.get(code="group_therapy"),
            location=LocationFactory.create(),
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            capacity=n,
            modality="video",
        )
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
