"""The project's Celery app with Celery's CELERY_DB_REUSE_MAX set: the worker of the
reminders benchmark's what-if run (`bench/reminders.py --what-if-db-reuse`).

Celery's Django fixup closes every database connection before and after each task, whatever
CONN_MAX_AGE says (celery/celery#9824 reverted honouring it), so each send opens a new
PostgreSQL connection; CELERY_DB_REUSE_MAX lets a worker process keep one for that many
tasks. The project does not set it; this module sets it for the bench only, from
BENCH_CELERY_DB_REUSE_MAX, to measure what it would change.
"""

from __future__ import annotations

import os

from clinic.celery import app

app.conf.CELERY_DB_REUSE_MAX = int(os.environ.get("BENCH_CELERY_DB_REUSE_MAX", "1000"))

__all__ = ["app"]
