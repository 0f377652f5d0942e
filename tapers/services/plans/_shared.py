"""What the plan services share: who prescribes, the plan states they check, the lock and the audit."""

from __future__ import annotations

from clinic.errors import Conflict
from clinic.roles import Role
from tapers.models import PlanStatus, TaperPlan

PRESCRIBING = frozenset({Role.PRESCRIBER})
OVER = (PlanStatus.COMPLETED, PlanStatus.STOPPED)
HOLDABLE = (PlanStatus.ACTIVE, PlanStatus.APPROVED)


def _lock(plan: TaperPlan) -> TaperPlan:
    # Two prescribers (or a prescriber and a patient's check) may act on one plan at once.
    return TaperPlan.objects.select_for_update().get(pk=plan.pk)


def _open_for_change(plan: TaperPlan) -> None:
    if plan.status in OVER:
        raise Conflict(f"The plan is {plan.status}; start a new plan instead.", extra={"status": plan.status})
