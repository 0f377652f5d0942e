from celery import Task, shared_task

from scheduling.services.reminders import reminder_send, reminders_dispatch
from scheduling.services.tracks import tracks_generate_all


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def generate_track_sessions() -> int:
    """Keep every active track's sessions generated to the horizon. Idempotent: a second
    run (or a redelivery after a worker died) makes nothing twice."""
    return tracks_generate_all()


@shared_task(ignore_result=True)
def dispatch_reminders() -> int:
    """Every minute from beat: claim the due reminders in batches and enqueue one send per
    row once the claim has committed. Ids only cross the queue."""
    return reminders_dispatch(enqueue=lambda ids: [send_reminder.delay(pk) for pk in ids])


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, ignore_result=True)
def send_reminder(self: Task, reminder_id: int) -> str:
    """Send one claimed reminder. Retries are bounded by the row (REMINDER_MAX_ATTEMPTS),
    which also holds its own lease, so a lost task is claimed again by the dispatcher."""
    outcome = reminder_send(reminder_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
