"""Tapers tasks: coordination. Ids only cross the queue, never patient data."""

from celery import Task, shared_task
from django.conf import settings

from tapers.services.coordination import TRANSIENT_SEND_ERRORS, communication_deliver


# A passing failure of the email server retries with a doubling wait (no jitter, no cap below the
# last wait: the schedule COORDINATION_EMAIL_RETRY_BASE_SECONDS * 2**n that staff are told about),
# up to COORDINATION_EMAIL_MAX_RETRIES; the last try marks the letter failed for staff to send again.
@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_SEND_ERRORS,
    retry_backoff=settings.COORDINATION_EMAIL_RETRY_BASE_SECONDS,
    retry_backoff_max=settings.COORDINATION_EMAIL_RETRY_BASE_SECONDS * 2**settings.COORDINATION_EMAIL_MAX_RETRIES,
    retry_jitter=False,
    max_retries=settings.COORDINATION_EMAIL_MAX_RETRIES,
    ignore_result=True,
)
def send_communication(self: Task, communication_id: int) -> str:
    """Send one queued letter by secure email. Safe to run twice: the row is locked and only a
    queued one is sent."""
    return communication_deliver(communication_id, last_try=self.request.retries >= (self.max_retries or 0))
