"""Plans and their versions: draft, redraft, edit the steps, approve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict, Forbidden
from clinic.models import AuditAction
from clinic.roles import require_role
from patients.models import EpisodeOfCare, Patient
from tapers import ciwa
from tapers.models import HoldBand, PlanHold, PlanStatus, Prescriber, StepStatus, TaperPlan, TaperPlanVersion, TaperStep
from tapers.models.plans import IN_FORCE
from tapers.services.plans._shared import PRESCRIBING, _lock, _open_for_change
from tapers.services.plans.proposals import Proposal, _manual_proposal, plan_preview
from tapers.services.plans.steps import _advance, _schedule


def _check_hold_band(band: str) -> None:
    if band not in HoldBand.values:
        raise ApplicationError(
            f"{band!r} is not a hold band; use one of {', '.join(HoldBand.values)}.",
            extra={"fields": {"hold_band": ["Unknown band."]}},
        )
    try:
        thresholds(band)
    except ciwa.CiwaError as error:
        raise ApplicationError(str(error), extra={"fields": {"hold_band": [str(error)]}}) from error


def thresholds(hold_band: str | None = None) -> ciwa.HoldThresholds:
    """The hold thresholds from settings, with a plan's own hold band."""
    return ciwa.HoldThresholds(
        hold_band=ciwa.Band(hold_band or settings.TAPER_HOLD_BAND),
        escalate_band=ciwa.Band(settings.TAPER_ESCALATE_BAND),
        max_systolic=settings.TAPER_HOLD_MAX_SYSTOLIC,
        max_diastolic=settings.TAPER_HOLD_MAX_DIASTOLIC,
        max_pulse=settings.TAPER_HOLD_MAX_PULSE,
    )


def _check_start(start: date, today: date) -> None:
    if start < today:
        raise ApplicationError(
            "A plan cannot start in the past; choose today or a later date.",
            extra={"fields": {"start_date": ["In the past."]}},
        )


def _version_create(plan: TaperPlan, proposal: Proposal, *, note: str, by: Any) -> TaperPlanVersion:
    # The caller holds the plan's lock: numbers are handed out one at a time.
    TaperPlanVersion.objects.filter(plan=plan, approved_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )
    number = (plan.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = TaperPlanVersion.objects.create(
        plan=plan,
        number=number,
        inputs=proposal.inputs,
        proposed_steps=proposal.steps,
        digest=proposal.digest,
        change_note=note,
        created_by=by,
    )
    TaperStep.objects.bulk_create(
        TaperStep(
            plan=plan,
            version=version,
            number=s["number"],
            planned_on=s["starts_on"],
            starts_on=s["starts_on"],
            doses=s["doses"],
            totals_mg=s["totals_mg"],
            dze_low_mg=Decimal(s["dze_low_mg"]),
            dze_high_mg=Decimal(s["dze_high_mg"]),
            cut_percent=Decimal(s["cut_percent"]),
            rule=s["rule"],
            reason=s["reason"],
            manual=s["manual"],
        )
        for s in proposal.steps
    )
    return version


@transaction.atomic
def taper_plan_draft(
    *,
    patient: Patient,
    regimen: Sequence[Mapping[str, Any]],
    policy: Mapping[str, Any],
    start_date: date,
    by: Any,
    episode: EpisodeOfCare | None = None,
    hold_band: str | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> TaperPlan:
    """A new plan whose first version is the engine's proposal; it waits for a prescriber's approval."""
    require_role(by, PRESCRIBING, "draft taper plans")
    band = hold_band or settings.TAPER_HOLD_BAND
    _check_hold_band(band)
    if episode is not None and episode.patient_id != patient.pk:
        raise ApplicationError("That episode is not this patient's.", extra={"fields": {"episode": ["Not theirs."]}})
    _check_start(start_date, timezone.localdate())
    proposal = plan_preview(regimen=regimen, policy=policy, start=start_date)
    plan = TaperPlan.objects.create(patient=patient, episode=episode, hold_band=band, created_by=by)
    _version_create(plan, proposal, note=note, by=by)
    audit_objects([plan], AuditAction.CREATE, by=by, request=request)
    return plan


@transaction.atomic
def taper_plan_redraft(
    *,
    plan: TaperPlan,
    regimen: Sequence[Mapping[str, Any]],
    policy: Mapping[str, Any],
    start_date: date,
    by: Any,
    note: str = "",
    request: HttpRequest | None = None,
) -> TaperPlanVersion:
    """A new version from the engine. An approved version stays in force until this one is approved."""
    require_role(by, PRESCRIBING, "change taper plans")
    plan = _lock(plan)
    _open_for_change(plan)
    _check_start(start_date, timezone.localdate())
    version = _version_create(plan, plan_preview(regimen=regimen, policy=policy, start=start_date), note=note, by=by)
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return version


@transaction.atomic
def taper_plan_edit_steps(
    *,
    plan: TaperPlan,
    steps: Sequence[Mapping[str, Any]],
    by: Any,
    regimen: Sequence[Mapping[str, Any]] | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> TaperPlanVersion:
    """A new version with steps the prescriber entered or edited, checked against the rules
    (the ceiling, never an increase, makeable doses). Based on the open draft, else the version
    in force; its policy applies. The approved version stays in force until this one is approved."""
    require_role(by, PRESCRIBING, "change taper plans")
    plan = _lock(plan)
    _open_for_change(plan)
    base = _open_draft(plan) or plan.current_version
    if base is None:  # pragma: no cover - every plan is made with a version
        raise Conflict("The plan has no version to edit.")
    today = timezone.localdate()
    if steps and min(s["starts_on"] for s in steps) < today:
        raise ApplicationError(
            "A changed plan cannot have steps in the past; start its steps today or later.",
            extra={"fields": {"steps": ["A step starts in the past."]}},
        )
    version = _version_create(plan, _manual_proposal(base, regimen=regimen, steps=steps), note=note, by=by)
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return version


def _open_draft(plan: TaperPlan) -> TaperPlanVersion | None:
    return TaperPlanVersion.objects.filter(plan=plan, approved_at__isnull=True, withdrawn_at__isnull=True).first()


def approver_record(user: Any) -> Prescriber:
    """The prescriber record an approval is made as: the prescriber role AND an active
    prescriber record linked to the account (a licensed prescriber the clinic knows)."""
    require_role(user, PRESCRIBING, "approve taper plans (a clinician or nurse cannot)")
    prescriber = Prescriber.objects.filter(staff_id=user.pk, is_active=True).first()
    if prescriber is None:
        raise Forbidden(
            "Your account is not linked to an active prescriber record, so you cannot approve taper plans. "
            "Ask a clinic administrator to link it (Prescribers, 'staff')."
        )
    return prescriber


@transaction.atomic
def taper_plan_approve(
    *, plan: TaperPlan, digest: str, by: Any, note: str = "", request: HttpRequest | None = None
) -> TaperPlan:
    """Approve the version awaiting approval, which must be the one the approver read: the
    request carries its digest, and a different one (the plan changed meanwhile) is a 409."""
    prescriber = approver_record(by)
    # The patient first: two prescribers approving two plans of one patient at once must not
    # both find no other plan in force (the unique constraint would then answer with a 500).
    Patient.objects.select_for_update().filter(pk=plan.patient_id).first()
    plan = _lock(plan)
    _open_for_change(plan)
    draft = _open_draft(plan)
    if draft is None:
        raise Conflict("No version of this plan is waiting for approval.")
    if digest != draft.digest:
        raise Conflict(
            f"Version {draft.number} is the one waiting for approval and it is not the one you read (its digest "
            "differs). Read it again, then approve it.",
            extra={"version": draft.number},
        )
    if plan.status == PlanStatus.DRAFT and (
        TaperPlan.objects.filter(patient_id=plan.patient_id, status__in=IN_FORCE).exclude(pk=plan.pk).exists()
    ):
        # Also a unique constraint (taper_plan_one_in_force_per_patient) for two approvals at once.
        raise Conflict(
            "The patient already has a taper plan in force; stop or complete it before approving another.",
        )
    now = timezone.now()
    draft.approved_by = by
    draft.approved_as = prescriber
    draft.approved_at = now
    draft.approval_note = note
    draft.save(update_fields=["approved_by", "approved_as", "approved_at", "approval_note", "updated_at"])
    previous = plan.current_version
    if previous is not None:
        # The new version replaces every step of the old one that has not started.
        TaperStep.objects.filter(plan=plan, version=previous, status__in=[StepStatus.PLANNED, StepStatus.HELD]).update(
            status=StepStatus.SUPERSEDED, updated_at=now
        )
    plan.current_version = draft
    if plan.status == PlanStatus.DRAFT:
        plan.status = PlanStatus.APPROVED
    plan.save(update_fields=["current_version", "status", "updated_at"])
    if plan.status == PlanStatus.HELD:
        # The hold carries over to the new version's first step.
        first = _schedule(plan).filter(status=StepStatus.PLANNED).order_by("starts_on", "number").first()
        if first is not None:
            first.status = StepStatus.HELD
            first.save(update_fields=["status", "updated_at"])
            PlanHold.objects.filter(plan=plan, resumed_on__isnull=True).update(step=first, updated_at=now)
    elif plan.status == PlanStatus.ACTIVE:
        _advance(plan, timezone.localdate())
    audit_objects([plan], AuditAction.UPDATE, by=by, request=request)
    return plan
