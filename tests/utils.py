"""Running the app in a fresh process, for what must be seen from the outside: start-up
checks, settings read from the environment, a dependency that is down."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

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
