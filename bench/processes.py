"""Processes the benchmarks and the reliability tests start and watch: a throwaway Redis, a
Celery worker in its own process group, a free port, and CPU time read from /proc.

No Django at module level (a benchmark imports this before it sets Django up, a test after)
and no pytest: bench/run.py, bench/reminders_sends.py and tests/reliability/ share it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# The machine's own Redis: other work (a `make run` worker, the test suite) uses it.
SHARED_REDIS_PORT = 6379


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.05) -> None:
    """Call `check` every `every` seconds until it is true; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout:g} s waiting for {what}.")
        time.sleep(every)


# --- Redis -------------------------------------------------------------------------------------


class ThrowawayRedis:
    """A redis-server of our own on a free port, with no persistence, started and stopped at
    will. The shared Redis on 6379 is never started, stopped or emptied."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        if self.port == SHARED_REDIS_PORT:
            raise RuntimeError(f"Refusing to run a throwaway Redis on the shared port {SHARED_REDIS_PORT}.")
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answers, timeout=10, what="the throwaway redis-server")

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

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def queued(self, queue: str = "celery") -> int:
        """Tasks waiting in the queue (not those a worker has taken and not acknowledged)."""
        return int(self.client().llen(queue))

    def empty(self) -> None:
        """Drop what is queued or unacknowledged (a dispatcher run with no worker leaves
        every task there). Our own server only."""
        if self.process is None or self.port == SHARED_REDIS_PORT:
            raise RuntimeError("Refusing to empty a Redis that was not started here.")
        self.client().delete("celery", "unacked", "unacked_index")


# --- a Celery worker ---------------------------------------------------------------------------


class CeleryWorker:
    """`celery -A <app> worker --pool prefork` in a process group of its own, so one signal
    reaches the main process and its pool children; its output goes to `log`."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        log: Path,
        cwd: Path,
        app: str = "clinic",
        concurrency: int = 2,
        loglevel: str = "WARNING",
        extra: Sequence[str] = (),
    ) -> None:
        self.env, self.log, self.cwd = env, log, cwd
        self.command = [sys.executable, "-m", "celery", "-A", app, "worker", "--pool", "prefork"]
        self.command += ["--concurrency", str(concurrency), *extra]
        self.command += ["--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", loglevel]
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("The worker was not started.")
        return self.process.pid

    def start(self) -> None:
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: the main process and its pool children die mid-task.
        Returns once none of them runs any more, so nothing they do can land afterwards."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            # The children outlive the wait above by a moment (they are reparented, then reaped).
            wait_for(lambda: not group_running(self.pid), timeout=10, what="the worker's pool processes to die")
        self._close_log()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (Celery's warm shutdown: running tasks finish), then SIGKILL after `timeout`."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --- /proc: processes and CPU time (Linux only, best effort) -----------------------------------


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    group: int
    state: str  # "R", "S", ... "Z" for a zombie (dead, not yet reaped)
    name: str
    cpu: float  # seconds, user + system
    children_cpu: float  # seconds used by its children that ended and were waited for


def process(pid: int) -> Process | None:
    """One process from /proc/<pid>/stat, or None when it is gone (or there is no /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces or parentheses itself: split around it.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return Process(
        pid=pid,
        parent=int(fields[1]),
        group=int(fields[2]),
        state=fields[0],
        name=name,
        cpu=(int(fields[11]) + int(fields[12])) / tick,
        children_cpu=(int(fields[13]) + int(fields[14])) / tick,
    )


def processes() -> list[Process]:
    """Every process on the machine (those that end while we look are left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found_process := process(int(entry.name))) is not None:
            found.append(found_process)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used so far (0 when it is gone)."""
    found = process(pid)
    return found.cpu if found else 0.0


def group_running(group: int) -> bool:
    """Whether any process of the process group is still alive (a zombie is not)."""
    return any(p.group == group and p.state != "Z" for p in processes())
