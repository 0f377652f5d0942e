"""The Celery app. Periodic schedules live here, in code, each with the reason for its cadence."""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Database connections in the worker, as in the web process: kept for DATABASE_CONN_MAX_AGE
# and health-checked before reuse. Celery's Django fixup otherwise closes every connection
# before and after each task whatever CONN_MAX_AGE says, so each task opened a new PostgreSQL
# connection (bench/README.md, reminders: 1.5-2.7x the sends per second once kept). With
# CELERY_DB_REUSE_MAX set the fixup keeps them (closing them every that many tasks), and
# close_old_connections around each task applies the max age and the health check the way
# Django's request signals do, so a connection PostgreSQL dropped is replaced, not used.
app.conf.CELERY_DB_REUSE_MAX = 1000


def _close_old_connections(**kwargs: Any) -> None:
    close_old_connections()


task_prerun.connect(_close_old_connections, weak=False)
task_postrun.connect(_close_old_connections, weak=False)

app.conf.beat_schedule = {
    # Licences and accreditations lapse on a date; a daily look at 07:00 UTC gives the
    # clinic administrators the whole warning window, once a day, before the desk opens.
    "licence-expiry-notice": {
        "task": "clinic.tasks.licence_expiry_notify",
        "schedule": crontab(hour=7, minute=0),
    },
    # Work a request recorded while Redis was down (a held check's alert, a queued letter, an
    # eligibility check) goes out within minutes of Redis coming back; rows owed less than
    # REQUEUE_AFTER_MINUTES are left to their first enqueue.
    "requeue-owed-work": {
        "task": "clinic.tasks.requeue_owed_work",
        "schedule": 300.0,
    },
    # Expired API tokens are refused when presented; a nightly sweep deletes the rest.
    "delete-expired-tokens": {
        "task": "clinic.tasks.delete_expired_tokens",
        "schedule": crontab(hour=3, minute=15),
    },
    # The reminder outbox's dispatcher: claims what is due and enqueues the sends, one task per
    # chunk of REMINDER_SEND_CHUNK. Every minute, so a reminder goes within a minute of its time;
    # a run that finds nothing due is one indexed query.
    "dispatch-reminders": {
        "task": "scheduling.tasks.dispatch_reminders",
        "schedule": 60.0,
    },
    # The rolling horizon moves a day at a time, so a nightly run keeps it full; 02:30 UTC
    # is night in every US zone, away from the desk's working hours.
    "generate-track-sessions": {
        "task": "scheduling.tasks.generate_track_sessions",
        "schedule": crontab(hour=2, minute=30),
    },
    # PDMP rechecks fall due by the day (2025 Joint Guideline Rec 1: at least every 3 months);
    # one run a day at 12:00 UTC (07:00-08:00 on the US East Coast) reaches prescribers in the
    # morning; a check already reminded is skipped, so a rerun sends nothing twice.
    "pdmp-recheck-reminders": {
        "task": "tapers.tasks.ledger.pdmp_recheck_remind",
        "schedule": crontab(hour=12, minute=0),
    },
    # Ledger risk flags look back a window that moves a day at a time (LEDGER_RISK_LOOKBACK_DAYS),
    # so once a night (04:00 UTC, night in every US zone) the open ones are re-evaluated and
    # those no longer raised clear; a ledger change re-evaluates its patient at once anyway.
    "ledger-risk-flags-refresh": {
        "task": "tapers.tasks.ledger.risk_flags_refresh_all",
        "schedule": crontab(hour=4, minute=0),
    },
    # Taper steps come due by date in the clinic's zone (TIME_ZONE): a run just after midnight
    # there makes each active plan's current step right before anyone reads it (reading a plan
    # or its steps also advances it, so a missed run costs nothing).
    "advance-taper-steps": {
        "task": "tapers.tasks.plans.advance_taper_steps",
        "schedule": crontab(hour=5, minute=10),  # 00:10 EST / 01:10 EDT
    },
    # Units used move when attendance is recorded and scheduled ones when bookings change; the
    # authorization list is sorted by run-out, so its stored counts are kept within 30 minutes
    # (opening one authorization recounts it at once).
    "refresh-authorization-usage": {
        "task": "insurance.tasks.refresh_authorization_usage",
        "schedule": crontab(minute="*/30"),
    },
    # Reviews and run-outs come due by the day: once a morning, 11:00 UTC (06:00-07:00 on the
    # US East Coast), billing gets the day's new alerts before the desk opens.
    "billing-alerts": {
        "task": "insurance.tasks.refresh_billing_alerts",
        "schedule": crontab(hour=11, minute=0),
    },
}
