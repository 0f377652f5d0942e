"""What bench/generate.py and bench/run.py share: the bench database, the environment the
app runs with, and the names of the synthetic clinic's people and places."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/clinic_bench"

# The synthetic clinic (bench/README.md, "The data").
LOCATION_NAME = "Bench Clinic"
ZONE = "America/New_York"
PATIENTS = 2000
TRACKS = 40
PATIENTS_PER_TRACK = PATIENTS // TRACKS  # 50: every patient is enrolled in exactly one track
CLINICIANS = 60  # clinician i < TRACKS leads track i; clinicians TRACKS.. co-lead the first tracks
WEEKS = 52  # 26 weeks before this week's Monday, 26 from it
INDIVIDUAL_PER_WEEK = 13  # one-to-one sessions a clinician holds each week (afternoons)
# Every user the generator makes has this password; the bench database is throwaway.
PASSWORD = "bench-only-password-7f3c9a"  # noqa: S105 - a throwaway database's users
ADMISSIONS_USERNAME = "bench_admissions"


def clinician_username(index: int) -> str:
    return f"bench_clinician_{index:02d}"


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def check_database_name(url: str) -> None:
    """The bench drops and fills its database: refuse anything not named for it."""
    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r}: the bench database's name must contain 'bench'.")


def app_environment(url: str) -> dict[str, str]:
    """Production-like settings (DEBUG off) for both the in-process client and gunicorn:
    a random key, plain HTTP on loopback, the bench database."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def setup_django(url: str) -> dict[str, str]:
    """Point this process at the bench database and start Django; returns the environment."""
    import warnings

    import django

    # DEBUG off and no collectstatic: whitenoise says so once; the API serves no static files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    env = app_environment(url)
    os.environ.update(env)
    django.setup()
    return env
