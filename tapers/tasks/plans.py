"""Tapers tasks: taper plans and withdrawal checks. Thin: ids in, a service call, safe to run twice."""

from smtplib import SMTPException

from celery import shared_task

from tapers.services.checks import withdrawal_check_alert_send
from tapers.services.plans import taper_plans_advance_all


@shared_task(
    acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=5, ignore_result=True
)
def alert_care_team(check_id: int) -> int:
    """Email the care team that a withdrawal check needs review (no patient data in the email or
    here: the check's id only). A check already alerted, or gone, sends nothing."""
    return withdrawal_check_alert_send(check_id=check_id)


@shared_task(acks_late=True, ignore_result=True)
def advance_taper_steps() -> int:
    """Daily: each active plan's latest step that has come due becomes its current step.
    Idempotent (a plan already up to date is left alone); the plan API also advances on read."""
    return taper_plans_advance_all()
