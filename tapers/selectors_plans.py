"""Reads for taper plans, their versions and steps, and withdrawal checks (N+1-safe)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from tapers.models import PlanHold, StepStatus, TaperPlan, TaperPlanVersion, TaperStep, WithdrawalCheck


def taper_plan_list() -> QuerySet[TaperPlan]:
    """Plans with what the plan page shows: the version in force, the one waiting for
    approval, and the holds with the checks that caused them. A constant number of queries
    whatever the page size."""
    return TaperPlan.objects.select_related(
        "patient", "episode", "created_by", "current_version__approved_by", "current_version__created_by"
    ).prefetch_related(
        Prefetch(
            "versions",
            queryset=TaperPlanVersion.objects.filter(
                approved_at__isnull=True, withdrawn_at__isnull=True
            ).select_related("created_by"),
            to_attr="pending_versions",
        ),
        Prefetch(
            "holds",
            queryset=PlanHold.objects.select_related("withdrawal_check", "step", "held_by", "resumed_by"),
            to_attr="all_holds",
        ),
    )


def taper_plan_versions(plan: TaperPlan) -> QuerySet[TaperPlanVersion]:
    return plan.versions.select_related("created_by", "approved_by").order_by("number")


def taper_plan_steps(plan: TaperPlan, *, version: TaperPlanVersion | None = None) -> QuerySet[TaperStep]:
    """One version's steps; by default the schedule the patient follows (the approved versions'
    steps not replaced by a later one), or the draft's when nothing is approved yet."""
    steps = TaperStep.objects.select_related("version")
    if version is not None:
        return steps.filter(version=version).order_by("number")
    if plan.current_version_id is None:
        draft = plan.versions.filter(approved_at__isnull=True, withdrawn_at__isnull=True).first()
        return steps.filter(version=draft).order_by("number")
    return (
        steps.filter(plan=plan, version__approved_at__isnull=False)
        .exclude(status=StepStatus.SUPERSEDED)
        .order_by("starts_on", "number")
    )


def withdrawal_check_list() -> QuerySet[WithdrawalCheck]:
    return WithdrawalCheck.objects.select_related("patient", "plan", "recorded_by")
