"""The Celery app. Periodic schedules live here, in code, each with the reason for its cadence."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Licences and accreditations lapse on a date; a daily look at 07:00 UTC gives the
    # clinic administrators the whole warning window, once a day, before the desk opens.
    "licence-expiry-notice": {
        "task": "clinic.tasks.licence_expiry_notify",
        "schedule": crontab(hour=7, minute=0),
    },
    # The rolling horizon moves a day at a time, so a nightly run keeps it full; 02:30 UTC
    # is night in every US zone, away from the desk's working hours.
    # Expired API tokens are refused when presented; a nightly sweep deletes the rest.
    "delete-expired-tokens": {
        "task": "clinic.tasks.delete_expired_tokens",
        "schedule": crontab(hour=3, minute=15),
    },
    # The reminder outbox's dispatcher: claims what is due and enqueues the sends.
    "dispatch-reminders": {
        "task": "scheduling.tasks.dispatch_reminders",
        "schedule": 60.0,
    },
    "generate-track-sessions": {
        "task": "scheduling.tasks.generate_track_sessions",
        "schedule": crontab(hour=2, minute=30),
    },
}
