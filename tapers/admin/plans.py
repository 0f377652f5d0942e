"""Tapers admin: taper plans, versions, steps, holds and withdrawal checks, read-only.

Plans change only through the API's services (approval records the exact version read, holds
shift steps): the admin shows them, audited like the API, to clinical staff on the patient's
care team (or break-the-glass). Admissions, billing and clinic administrators see none of it
(DESIGN.md, Roles), whatever model permissions their groups hold.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tapers.admin.base import ClinicalReadOnlyAdmin
from tapers.models import PlanHold, TaperPlan, TaperPlanVersion, TaperStep, WithdrawalCheck

VERSION_FIELDS = ("number", "digest", "created_by", "approved_by", "approved_at", "withdrawn_at", "change_note")
HOLD_FIELDS = ("held_on", "step", "reason", "withdrawal_check", "held_by", "resumed_on", "resumed_by", "days_shifted")


class TaperPlanVersionInline(admin.TabularInline):
    model = TaperPlanVersion
    extra = 0
    can_delete = False
    fields = VERSION_FIELDS
    readonly_fields = VERSION_FIELDS
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlanHoldInline(admin.TabularInline):
    model = PlanHold
    extra = 0
    can_delete = False
    fields = HOLD_FIELDS
    readonly_fields = HOLD_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TaperPlan)
class TaperPlanAdmin(ClinicalReadOnlyAdmin):
    list_display = ["public_id", "patient", "status", "hold_band", "current_version", "activated_on", "created_at"]
    list_filter = ["status", "hold_band"]
    # A version's str() names its plan: through current_version__plan, not a query per row.
    list_select_related = ["patient", "current_version__plan"]
    search_fields = ["=patient__mrn", "=public_id"]
    date_hierarchy = "created_at"
    inlines = [TaperPlanVersionInline, PlanHoldInline]


@admin.register(TaperPlanVersion)
class TaperPlanVersionAdmin(ClinicalReadOnlyAdmin):
    patient_path = "plan.patient"
    list_display = ["plan", "number", "digest", "created_by", "approved_by", "approved_at", "withdrawn_at"]
    list_select_related = ["plan", "plan__patient", "created_by", "approved_by"]
    search_fields = ["=plan__patient__mrn", "=digest"]
    exclude = ["proposed_steps"]
    readonly_fields = ["steps_as_proposed"]

    @admin.display(description="Steps as proposed")
    def steps_as_proposed(self, obj: TaperPlanVersion) -> str:
        lines = []
        for step in obj.proposed_steps:
            doses = "; ".join(
                f"{time}: " + ", ".join(f"{d['drug']} {d['mg']} mg ({d['made_from']})" for d in ds)
                for time, ds in step["doses"].items()
            )
            lines.append(
                f"{step['number']}. {step['starts_on']} [{step['rule']}] {doses or 'stopped'} "
                f"= {step['dze_low_mg']} mg DZE"
            )
        return "\n".join(lines)


@admin.register(TaperStep)
class TaperStepAdmin(ClinicalReadOnlyAdmin):
    patient_path = "plan.patient"
    list_display = ["plan", "version", "number", "status", "planned_on", "starts_on", "dze_low_mg", "rule", "manual"]
    list_filter = ["status", "rule", "manual"]
    list_select_related = ["plan__patient", "version__plan"]
    search_fields = ["=plan__patient__mrn"]


@admin.register(WithdrawalCheck)
class WithdrawalCheckAdmin(ClinicalReadOnlyAdmin):
    list_display = ["recorded_at", "patient", "total", "band", "hold", "consider_higher_level_of_care", "via"]
    list_filter = ["band", "hold", "consider_higher_level_of_care", "via"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn"]
    date_hierarchy = "recorded_at"
    exclude = ["link"]  # nothing about the link is of use here, and its hash should stay put
