from collections import Counter, defaultdict

from celery import shared_task

from scheduling.services.reminders import reminders_dispatch, reminders_send
from scheduling.services.tracks import tracks_generate_all


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def generate_track_sessions() -> int:
    """Keep every active track's sessions generated to the horizon. Idempotent: a second
    run (or a redelivery after a worker died) makes nothing twice."""
    return tracks_generate_all()


@shared_task(ignore_result=True)
def dispatch_reminders() -> int:
    """Every minute from beat: claim the due reminders in batches and enqueue one send task
    per chunk of REMINDER_SEND_CHUNK ids once the claim has committed. Ids only cross the queue."""
    return reminders_dispatch(enqueue=send_reminders.delay)


def _send(reminder_ids: list[int]) -> str:
    """Send a chunk, then queue again, by themselves, the rows that must be tried later: a
    transient failure after its backoff (its attempts and lease are on the row, so retries
    stay per reminder), a row another transaction held, or one the chunk had no time for."""
    outcomes = reminders_send(reminder_ids)
    later: defaultdict[float, list[int]] = defaultdict(list)
    for pk, outcome in outcomes.items():
        if outcome.status in ("retry", "busy"):
            later[outcome.retry_in].append(pk)
    for wait, ids in sorted(later.items()):
        # After the chunk committed. If the broker refuses, the rows stay claimed and the
        # dispatcher claims them again when their lease runs out.
        send_reminders.apply_async((ids,), countdown=wait)
    return " ".join(f"{status}={n}" for status, n in sorted(Counter(o.status for o in outcomes.values()).items()))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_reminders(reminder_ids: list[int]) -> str:
    """Send a chunk of claimed reminders (scheduling.services.reminders.reminders_send).
    Acknowledged late and rejected on worker loss, so a chunk whose worker died runs again;
    the rows it had sent are in the journal and are not sent twice."""
    return _send(reminder_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_reminder(reminder_id: int) -> str:
    """One reminder: the chunk of one. Kept for the messages an older dispatcher queued (and
    their retries) when this version is deployed; new ones go through send_reminders."""
    return _send([reminder_id])
