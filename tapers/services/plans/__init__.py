"""Taper plans: draft from the engine, preview, edit steps, approve, activate, hold, resume,
stop, complete, and the daily step advance.

The software proposes; a licensed prescriber decides. Nothing here changes a dose the patient
takes without a recorded approval: every change is a new version, and only an approved version
becomes the schedule (`TaperPlan.current_version` and its `TaperStep` rows). Holds and resumes
move dates, never doses; they are recorded (`PlanHold`) with the days shifted.
"""

from tapers.engine import TIMES_OF_DAY
from tapers.services.plans.proposals import Proposal, digest_of, plan_preview
from tapers.services.plans.steps import (
    hold_plan,
    taper_plan_activate,
    taper_plan_advance,
    taper_plan_complete,
    taper_plan_hold,
    taper_plan_resume,
    taper_plan_stop,
    taper_plans_advance_all,
)
from tapers.services.plans.versions import (
    approver_record,
    taper_plan_approve,
    taper_plan_draft,
    taper_plan_edit_steps,
    taper_plan_redraft,
    thresholds,
)

__all__ = [
    "TIMES_OF_DAY",
    "Proposal",
    "approver_record",
    "digest_of",
    "hold_plan",
    "plan_preview",
    "taper_plan_activate",
    "taper_plan_advance",
    "taper_plan_approve",
    "taper_plan_complete",
    "taper_plan_draft",
    "taper_plan_edit_steps",
    "taper_plan_hold",
    "taper_plan_redraft",
    "taper_plan_resume",
    "taper_plan_stop",
    "taper_plans_advance_all",
    "thresholds",
]
