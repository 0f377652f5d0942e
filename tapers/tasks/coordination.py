"""Tapers tasks: coordination. Ids only cross the queue, never patient data."""

from celery import Task, shared_task
from django.conf import settings

from tapers.services.coordination import communication_deliver


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, ignore_result=True)
def send_communication(self: Task, communication_id: int) -> str:
    """Send one queued letter by secure email. Safe to run twice: the row is locked and only a
    queued one is sent. A passing failure of the email server retries with a doubling wait, up
    to COORDINATION_EMAIL_MAX_RETRIES; then the letter fails for staff to send again."""
    retries = self.request.retries
    outcome = communication_deliver(communication_id, last_try=retries >= settings.COORDINATION_EMAIL_MAX_RETRIES)
    if outcome == "retry":
        raise self.retry(countdown=settings.COORDINATION_EMAIL_RETRY_BASE_SECONDS * 2**retries)
    return outcome
