from celery import shared_task
from django.utils import timezone

from clinic.services import licence_expiry_notice_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def licence_expiry_notify() -> int:
    return licence_expiry_notice_send(today=timezone.localdate())
