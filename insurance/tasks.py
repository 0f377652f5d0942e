"""Insurance tasks. Ids only cross the queue, never patient data."""

from celery import Task, shared_task
from django.conf import settings

from insurance.clearinghouse import ClearinghouseError
from insurance.services.authorizations import authorizations_usage_refresh_all, billing_alerts_refresh
from insurance.services.eligibility import eligibility_check_give_up
from insurance.services.eligibility import eligibility_check_send as send


# A clearinghouse that is down or busy retries with a doubling wait, up to
# CLEARINGHOUSE_MAX_RETRIES; after the last the check fails and staff check another way.
@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.CLEARINGHOUSE_MAX_RETRIES,
    ignore_result=True,
)
def eligibility_check_send(self: Task, check_id: int) -> None:
    """Send one check's 270. Safe to run twice: only a check still awaiting is sent, and the
    payer only answers a question, so asking twice changes nothing."""
    try:
        send(check_id)
    except ClearinghouseError as error:
        if self.request.retries >= (self.max_retries or 0):
            eligibility_check_give_up(check_id, f"{error} (gave up after {self.request.retries + 1} tries)")
            return
        raise self.retry(countdown=settings.CLEARINGHOUSE_RETRY_BASE_SECONDS * 2**self.request.retries) from error


@shared_task(acks_late=True, ignore_result=True)
def refresh_authorization_usage() -> int:
    """Recount units used and scheduled on open authorizations (attendance and bookings move)."""
    return authorizations_usage_refresh_all()


@shared_task(acks_late=True, ignore_result=True)
def refresh_billing_alerts() -> int:
    """Raise and clear the billing work queue's alerts. Idempotent: one open alert per thing."""
    return len(billing_alerts_refresh())
