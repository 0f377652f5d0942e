"""Running the app in a fresh process, for what must be seen from the outside: start-up
checks, settings read from the environment, a dependency that is down; and racing calls
on real concurrent connections."""

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url(**overrides: str) -> str:
    db = {**settings.DATABASES["default"], **overrides}
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` with the test environment, minus SECRET_KEY and DEBUG, plus `env`."""
    base = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def race(*calls: Callable[[], object]) -> list[str]:
    """Run the calls at the same moment on their own database connections; the sorted
    outcomes: "ok", or the name of the exception each raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
            outcomes.append("ok")
        except Exception as exc:
            print(f"race: {type(exc).__name__}: {exc}")  # shown by pytest when the test fails
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)
