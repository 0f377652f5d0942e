"""The schedule a plan's patient follows: activate, the daily step advance, hold, resume, stop,
complete. Holds and resumes move dates, never doses."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, require_role
from tapers.models import PlanHold, PlanStatus, StepStatus, TaperPlan, TaperPlanVersion, TaperStep
from tapers.services.plans._shared import HOLDABLE, PRESCRIBING, _lock, _open_for_change


def _schedule(plan: TaperPlan) -> QuerySet[TaperStep]:
    """The steps the patient follows: approved versions', less those a later version replaced."""
    return TaperStep.objects.filter(plan=plan, version__approved_at__isnull=False).exclude(status=StepStatus.SUPERSEDED)


def _advance(plan: TaperPlan, today: date) -> bool:
    """Make the latest step due the current one (earlier ones done). Only an active plan moves."""
    if plan.status != PlanStatus.ACTIVE:
        return False
    open_steps = list(
        _schedule(plan).filter(status__in=[StepStatus.PLANNED, StepStatus.CURRENT]).order_by("starts_on", "number")
    )
    due = [s for s in open_steps if s.starts_on <= today]
    if not due or due[-1].status == StepStatus.CURRENT:
        return False
    newest = due[-1]
    now = timezone.now()
    # Done first: one current step per plan is a unique constraint.
    TaperStep.objects.filter(
        pk__in=[s.pk for s in open_steps if s.status == StepStatus.CURRENT or s in due[:-1]]
    ).update(status=StepStatus.DONE, updated_at=now)
    TaperStep.objects.filter(pk=newest.pk).update(status=StepStatus.CURRENT, updated_at=now)
    return True


def taper_plan_advance(*, plan: TaperPlan, today: date | None = None) -> bool:
    """Bring an active plan's current step up to date (idempotent; safe to call on read)."""
    today = today or timezone.localdate()
    if plan.status != PlanStatus.ACTIVE:
        return False
    with transaction.atomic():
        return _advance(_lock(plan), today)


def taper_plans_advance_all(*, today: date | None = None) -> int:
    """Every active plan whose next step is due: the daily task. Returns how many moved."""
    today = today or timezone.localdate()
    due_plans = (
        TaperStep.objects.filter(
            plan__status=PlanStatus.ACTIVE,
            status=StepStatus.PLANNED,
            starts_on__lte=today,
            version__approved_at__isnull=False,
        )
        .values_list("plan_id", flat=True)
        .distinct()
    )
    moved = 0
    for plan_id in due_plans.iterator():
        with transaction.atomic():
            plan = TaperPlan.objects.select_for_update().filter(pk=plan_id).first()
            if plan is not None and _advance(plan, today):
                moved += 1
    return moved


@transaction.atomic
def taper_plan_activate(*, plan: TaperPlan, by: Any, request: HttpRequest | None = None) -> TaperPlan:
    """Start an approved plan: its first step becomes current on its date."""
    require_role(by, PRESCRIBING, "start taper plans")
    plan = _lock(plan)
    if plan.status != PlanStatus.APPROVED:
        raise Conflict(
            f"Only an approved plan that has not started can be started; this one is {plan.status}.",
            extra={"status": plan.status},
        )
    today = timezone.localdate()
    first = _schedule(plan).order_by("starts_on", "number").first()
    if first is None:
        raise Conflict("The approved version has no steps: the regimen is already at the target.")
    if first.starts_on < today:
        raise Conflict(
            f"The first step was due on {first.starts_on.isoformat()}, before today. Make a new version that starts "
            "today or later, and have it approved.",
            extra={"starts_on": first.starts_on.isoformat()},
        )
    plan.status = PlanStatus.ACTIVE
    plan.activated_on = today
    plan.save(update_fields=["status", "activated_on", "updated_at"])
    _advance(plan, today)
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return plan


def hold_plan(plan: TaperPlan, *, today: date, reason: str = "", check: Any = None, by: Any = None) -> PlanHold | None:
    """Hold the next planned step of a locked plan that is active, or approved and not started
    yet (its first step: it is not started until a prescriber resumes). None otherwise: a held
    plan stays held under its first hold, and a draft is not being followed."""
    if plan.status not in HOLDABLE:
        return None
    _advance(plan, today)
    step = _schedule(plan).filter(status=StepStatus.PLANNED).order_by("starts_on", "number").first()
    if step is not None:
        step.status = StepStatus.HELD
        step.save(update_fields=["status", "updated_at"])
    hold = PlanHold.objects.create(
        plan=plan, step=step, withdrawal_check=check, reason=reason, held_on=today, held_by=by
    )
    plan.status = PlanStatus.HELD
    plan.save(update_fields=["status", "updated_at"])
    return hold


@transaction.atomic
def taper_plan_hold(*, plan: TaperPlan, reason: str, by: Any, request: HttpRequest | None = None) -> PlanHold:
    """Hold the next step by hand (any clinical role on the care team: holding never raises a dose)."""
    require_role(by, CLINICAL_ROLES, "hold taper plans")
    if not reason.strip():
        raise ApplicationError("Say why the plan is held.", extra={"fields": {"reason": ["Required."]}})
    plan = _lock(plan)
    if plan.status not in HOLDABLE:
        raise Conflict(
            f"Only an active or approved plan can be held; this one is {plan.status}.", extra={"status": plan.status}
        )
    hold = hold_plan(plan, today=timezone.localdate(), reason=reason.strip(), by=by)
    if hold is None:  # pragma: no cover - the plan is active under the lock
        raise Conflict("The plan could not be held.")
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return hold


@transaction.atomic
def taper_plan_resume(*, plan: TaperPlan, by: Any, note: str = "", request: HttpRequest | None = None) -> PlanHold:
    """Resume a held plan: the held step and every later planned step move later by exactly
    the days the plan was held (recorded on the hold). Doses are unchanged."""
    require_role(by, PRESCRIBING, "resume taper plans")
    plan = _lock(plan)
    if plan.status != PlanStatus.HELD:
        raise Conflict(f"Only a held plan can be resumed; this one is {plan.status}.", extra={"status": plan.status})
    hold = PlanHold.objects.select_for_update().get(plan=plan, resumed_on__isnull=True)
    today = timezone.localdate()
    days = (today - hold.held_on).days
    later = _schedule(plan).filter(status__in=[StepStatus.PLANNED, StepStatus.HELD])
    if days:
        later.update(starts_on=F("starts_on") + timedelta(days=days), updated_at=timezone.now())
    later.filter(status=StepStatus.HELD).update(status=StepStatus.PLANNED)
    hold.resumed_on = today
    hold.resumed_by = by
    hold.days_shifted = days
    hold.resume_note = note
    hold.save(update_fields=["resumed_on", "resumed_by", "days_shifted", "resume_note", "updated_at"])
    # Back to where it was held: following the plan, or approved and waiting to be started.
    plan.status = PlanStatus.ACTIVE if plan.activated_on is not None else PlanStatus.APPROVED
    plan.save(update_fields=["status", "updated_at"])
    _advance(plan, today)
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return hold


@transaction.atomic
def taper_plan_stop(*, plan: TaperPlan, reason: str, by: Any, request: HttpRequest | None = None) -> TaperPlan:
    """Stop a plan before its end (a prescriber's decision, with the reason). A draft waiting
    for approval is withdrawn: nothing of a stopped plan can be approved afterwards."""
    require_role(by, PRESCRIBING, "stop taper plans")
    if not reason.strip():
        raise ApplicationError("Say why the plan is stopped.", extra={"fields": {"reason": ["Required."]}})
    plan = _lock(plan)
    _open_for_change(plan)
    TaperPlanVersion.objects.filter(plan=plan, approved_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )
    plan.status = PlanStatus.STOPPED
    plan.ended_on = timezone.localdate()
    plan.end_reason = reason.strip()
    plan.save(update_fields=["status", "ended_on", "end_reason", "updated_at"])
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return plan


@transaction.atomic
def taper_plan_complete(*, plan: TaperPlan, by: Any, note: str = "", request: HttpRequest | None = None) -> TaperPlan:
    """Complete an active plan whose last step has started."""
    require_role(by, PRESCRIBING, "complete taper plans")
    plan = _lock(plan)
    if plan.status != PlanStatus.ACTIVE:
        raise Conflict(
            f"Only an active plan can be completed; this one is {plan.status}.", extra={"status": plan.status}
        )
    today = timezone.localdate()
    _advance(plan, today)
    waiting = _schedule(plan).filter(status=StepStatus.PLANNED).order_by("starts_on").first()
    if waiting is not None:
        raise Conflict(
            f"Step {waiting.number} is still planned for {waiting.starts_on.isoformat()}; complete the plan once its "
            "last step has started, or stop it.",
            extra={"step": waiting.number},
        )
    _schedule(plan).filter(status=StepStatus.CURRENT).update(status=StepStatus.DONE, updated_at=timezone.now())
    plan.status = PlanStatus.COMPLETED
    plan.ended_on = today
    plan.end_reason = note
    plan.save(update_fields=["status", "ended_on", "end_reason", "updated_at"])
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return plan
