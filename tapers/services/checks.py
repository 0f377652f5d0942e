"""Withdrawal checks (CIWA-B and vital signs), the patient's single-use check links, and the
care team's alert.

A check at or over the plan's hold band, or over a blood-pressure or pulse limit, holds the
plan's next step (tapers.services.plans.hold_plan) and, once the transaction commits, a Celery
task emails the care team. The email names no patient, drug or score: only that a check needs
review and a link to it by id (messages reveal nothing; DESIGN.md).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from smtplib import SMTPException
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict, NotFound
from clinic.links import staff_link
from clinic.models import AuditAction
from clinic.queueing import enqueue_on_commit
from clinic.roles import CLINICAL_ROLES, require_role
from patients.models import CareTeamMember, Patient
from tapers import ciwa
from tapers.models import CheckLink, CheckVia, PlanStatus, TaperPlan, WithdrawalCheck
from tapers.services.plans import hold_plan, thresholds

logger = logging.getLogger(__name__)

ALERT_SUBJECT = "A withdrawal check needs review"
# Plans a check can hold or a link can be made for: approved (not started), active or held.
LIVE = (PlanStatus.APPROVED, PlanStatus.ACTIVE, PlanStatus.HELD)


class Gone(ApplicationError):
    status_code = status.HTTP_410_GONE


def _scored(items: Mapping[str, Any] | Sequence[int]) -> ciwa.Score:
    try:
        return ciwa.score(items)
    except ciwa.CiwaError as error:
        raise ApplicationError(str(error), extra={"fields": {"items": error.fields}}) from error


@transaction.atomic
def withdrawal_check_record(
    *,
    patient: Patient,
    items: Mapping[str, Any] | Sequence[int],
    plan: TaperPlan | None = None,
    systolic: int | None = None,
    diastolic: int | None = None,
    pulse: int | None = None,
    temperature_f: Decimal | None = None,
    symptoms: str = "",
    recorded_at: datetime | None = None,
    by: Any = None,
    link: CheckLink | None = None,
    request: HttpRequest | None = None,
) -> WithdrawalCheck:
    """Score a CIWA-B, decide whether to hold the next step, hold it, and alert the care team.

    By staff (`by`: a nurse, clinician or prescriber) or by the patient through a check link
    (`link`, no user).
    """
    if link is None:
        require_role(by, CLINICAL_ROLES, "record withdrawal checks")
    if plan is not None and plan.patient_id != patient.pk:
        raise ApplicationError("That plan is not this patient's.", extra={"fields": {"plan": ["Not theirs."]}})
    now = timezone.now()
    if recorded_at is not None and recorded_at > now + timedelta(minutes=5):
        raise ApplicationError(
            "A check cannot be recorded in the future.", extra={"fields": {"recorded_at": ["In the future."]}}
        )
    score = _scored(items)
    if plan is not None:
        # Under the plan's lock: a check and a prescriber's resume or approval do not interleave.
        plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    try:
        decision = ciwa.hold_decision(
            score.total,
            systolic=systolic,
            diastolic=diastolic,
            pulse=pulse,
            thresholds=thresholds(plan.hold_band if plan is not None else None),
        )
    except ciwa.CiwaError as error:
        raise ApplicationError(str(error), extra={"fields": error.fields}) from error
    if (systolic is None) != (diastolic is None):
        raise ApplicationError(
            "Give both blood-pressure figures, or neither.",
            extra={"fields": {"systolic" if systolic is None else "diastolic": ["Required with the other figure."]}},
        )
    check = WithdrawalCheck.objects.create(
        patient=patient,
        plan=plan,
        items={item.key: value for item, value in zip(ciwa.ITEMS, score.items, strict=True)},
        total=score.total,
        band=score.band.value,
        systolic=systolic,
        diastolic=diastolic,
        pulse=pulse,
        temperature_f=temperature_f,
        symptoms=symptoms,
        via=CheckVia.PATIENT_LINK if link is not None else CheckVia.STAFF,
        recorded_by=None if link is not None else by,
        link=link,
        recorded_at=recorded_at or now,
        hold=decision.hold,
        consider_higher_level_of_care=decision.consider_higher_level_of_care,
        reasons=list(decision.reasons),
    )
    if decision.hold and plan is not None:
        hold_plan(plan, today=timezone.localdate(), check=check, by=None if link is not None else by)
    if decision.hold:
        from tapers.tasks.plans import alert_care_team

        # Ids only cross the queue; the task runs once the check (and the hold) are committed.
        enqueue_on_commit(alert_care_team, check.pk)
    audit_record(
        audit_target_for(check, patient_path="patient"),
        action=AuditAction.CREATE,
        actor=None if link is not None else by,
        request=request,
        via="patient_link" if link is not None else "api",
    )
    return check


def _alert_url(check: WithdrawalCheck) -> str:
    return staff_link(f"/api/v1/withdrawal-checks/{check.public_id}/")


def alert_body(check: WithdrawalCheck) -> str:
    """No patient name, drug or score: the reader follows the link, which checks who they are."""
    lines = [
        "A withdrawal check recorded for a patient on your care team needs review.",
        "",
        f"Open it: {_alert_url(check)}",
    ]
    if check.plan_id is not None and check.hold:
        lines.append("The next step of their taper plan is on hold until a prescriber resumes it.")
    if check.consider_higher_level_of_care:
        lines.append("The check also asks the team to consider a higher level of care.")
    return "\n".join(lines) + "\n"


# How long a held check's alert is still worth sending late.
ALERT_OWED_FOR = timedelta(days=1)


def withdrawal_checks_owed_alert(before: datetime) -> QuerySet[WithdrawalCheck, int]:
    """Ids of holding checks recorded before `before` whose care-team alert has not gone: its
    task was never enqueued (the broker was down) or never ran. Only a day's worth: an alert
    whose task kept failing is not sent again every few minutes for ever (the held check stays
    in the prescriber's review, and the failures are in the worker's log)."""
    return WithdrawalCheck.objects.filter(
        hold=True, alerted_at__isnull=True, created_at__lt=before, created_at__gte=before - ALERT_OWED_FOR
    ).values_list("pk", flat=True)


def _check_owing_alert(check_id: int) -> WithdrawalCheck | None:
    """The check, locked, while its care-team alert is still owed."""
    check = WithdrawalCheck.objects.select_for_update().filter(pk=check_id).first()
    return check if check is not None and check.alerted_at is None and check.hold else None


def withdrawal_check_alert_send(*, check_id: int) -> int:
    """Email the patient's care team about one check; the number of emails sent. Safe to run
    twice: a check already alerted, or gone, sends nothing.

    Each member's email goes on its own, under the check's row lock, and is committed to the
    check's `alerted_to` before the next: when the mail server fails for some (a refused
    mailbox, a dropped connection, an address Django refuses), or the worker dies part way,
    those reached stay reached. The check then stays unalerted and the first failure is
    raised, so the task's retry (or the owed-work requeue) emails only the rest. Two runs at
    once cannot send the same email; a worker killed between a send and its commit can."""
    with transaction.atomic():
        check = _check_owing_alert(check_id)
        if check is None:
            return 0
        # The care team on the day: a member who joins next week is not alerted yet.
        team = CareTeamMember.objects.current(timezone.localdate()).filter(
            patient_id=check.patient_id, member__is_active=True
        )
        pending = sorted(set(team.exclude(member__email="").values_list("member__email", flat=True)))
        subject = ALERT_SUBJECT + (" (consider a higher level of care)" if check.consider_higher_level_of_care else "")
        body = alert_body(check)
    failures: list[Exception] = []
    sent = 0
    if pending:
        with get_connection() as mail:  # one connection for all; opening it may fail outright
            for email in pending:
                with transaction.atomic():
                    check = _check_owing_alert(check_id)
                    if check is None or email in check.alerted_to:
                        continue
                    try:
                        mail.send_messages([EmailMessage(subject, body, to=[email])])
                    # ValueError: an address or header Django refuses (BadHeaderError).
                    except (OSError, SMTPException, ValueError) as error:
                        failures.append(error)
                        continue
                    check.alerted_to = [*check.alerted_to, email]
                    check.save(update_fields=["alerted_to", "updated_at"])
                sent += 1
    if not failures:
        with transaction.atomic():
            check = _check_owing_alert(check_id)
            if check is not None:
                check.alerted_at = timezone.now()
                check.save(update_fields=["alerted_at", "updated_at"])
    logger.info("withdrawal check %s: %s alert emails sent, %s failed", check_id, sent, len(failures))
    if failures:
        # One the task retries by itself if there is one (a refused address will not mend).
        raise next((error for error in failures if not isinstance(error, ValueError)), failures[0])
    return sent


# --- check links ------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewLink:
    link: CheckLink
    token: str  # shown once; only its hash is stored


@transaction.atomic
def check_link_create(*, plan: TaperPlan, by: Any, request: HttpRequest | None = None) -> NewLink:
    """A single-use link for the patient to record a check without logging in."""
    require_role(by, CLINICAL_ROLES, "make check links")
    plan = TaperPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status not in LIVE:
        raise Conflict(
            f"Check links are for approved, active or held plans; this one is {plan.status}.",
            extra={"status": plan.status},
        )
    token = secrets.token_urlsafe(32)
    link = CheckLink.objects.create(
        token_hash=token_hash(token),
        patient_id=plan.patient_id,
        plan=plan,
        expires_at=timezone.now() + timedelta(hours=settings.TAPER_CHECK_LINK_HOURS),
        created_by=by,
    )
    audit_record(audit_target_for(link, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request)
    return NewLink(link, token)


def _usable(link: CheckLink | None) -> CheckLink:
    if link is None:
        raise NotFound("This check link is not valid. Ask your care team for a new one.")
    if link.used_at is not None:
        raise Gone("This check link has already been used. Ask your care team for a new one.")
    if link.expires_at <= timezone.now():
        raise Gone("This check link has expired. Ask your care team for a new one.")
    if link.plan.status not in LIVE:
        raise Gone("This check link is no longer needed.")
    return link


def check_link_get(*, token: str) -> CheckLink:
    """The link a token names, if it can still be used (404 unknown, 410 used or expired)."""
    return _usable(CheckLink.objects.select_related("plan").filter(token_hash=token_hash(token)).first())


@transaction.atomic
def check_link_submit(
    *, token: str, items: Mapping[str, Any], request: HttpRequest | None = None, **vitals: Any
) -> WithdrawalCheck:
    """The patient's own check through a link: recorded once (the link is locked, then used)."""
    link = _usable(
        CheckLink.objects.select_for_update(of=("self",))
        .select_related("plan", "patient")
        .filter(token_hash=token_hash(token))
        .first()
    )
    check = withdrawal_check_record(
        patient=link.patient, plan=link.plan, items=items, link=link, request=request, **vitals
    )
    link.used_at = timezone.now()
    link.save(update_fields=["used_at", "updated_at"])
    return check
