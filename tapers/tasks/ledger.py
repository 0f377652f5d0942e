"""Tapers tasks: ledger. Thin entry points; the work is in tapers.services.ledger."""

from celery import shared_task
from django.utils import timezone

from tapers.services.ledger import pdmp_recheck_reminders_send, risk_flags_refresh


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def pdmp_recheck_remind() -> int:
    """Remind prescribers of the PDMP rechecks due today or earlier. No arguments (nothing about a
    patient travels through the broker); safe to run twice: a reminded check is not reminded again."""
    return pdmp_recheck_reminders_send(today=timezone.localdate())


@shared_task(acks_late=True)
def risk_flags_refresh_all() -> int:
    """Clear the flags that time alone has cleared (see the service). Safe to run twice."""
    return risk_flags_refresh()
