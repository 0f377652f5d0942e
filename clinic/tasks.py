from celery import shared_task
from django.utils import timezone
from knox.models import AuthToken

from clinic.queueing import requeue_owed_work as requeue
from clinic.services import licence_expiry_notice_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def licence_expiry_notify() -> int:
    return licence_expiry_notice_send(today=timezone.localdate())


@shared_task
def delete_expired_tokens() -> int:
    """API tokens past their expiry (authentication refuses them already; this keeps the
    table to live ones). Idempotent: a second run finds nothing."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


@shared_task(acks_late=True, ignore_result=True)
def requeue_owed_work() -> int:
    """Work recorded while the broker was down (a held check's alert, a queued letter, an
    eligibility check), enqueued again once it is back. Idempotent: the tasks it enqueues each
    do their work once."""
    return requeue(now=timezone.now())
