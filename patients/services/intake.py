"""Intake assessment and the level-of-care decision (DESIGN.md flow 1).

Recording an intake computes the proposal (patients.placement) from the answers and stores
it with them; the proposal never changes afterwards. A clinician then confirms the proposed
level or chooses another with a reason; admission can follow that decision.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import CLINICAL_ROLES, Role, require_role
from patients import placement
from patients.models import (
    HomeStability,
    IntakeAssessment,
    IntakeBenzodiazepine,
    IntakePrescriber,
    IntakeSubstance,
    Patient,
    PlacementDecision,
    Pregnancy,
    Substance,
    SupportLevel,
    UseFrequency,
)
from tapers.equivalence import EquivalenceError, generic_name

# Placement is a clinician's or prescriber's decision (DESIGN.md flow 1), not a nurse's.
DECIDERS = frozenset({Role.CLINICIAN, Role.PRESCRIBER})
# A reason someone can review later; "n/a" is not one.
OVERRIDE_MIN_REASON = 10
ILLICIT_OPIOIDS = frozenset({Substance.OPIOID_ILLICIT, Substance.FENTANYL})
# The placement rules ask about current use ("in the past month").
CURRENT_USE_DAYS = 30
NEAR_DAILY = frozenset({UseFrequency.DAILY, UseFrequency.MOST_DAYS})


def placement_thresholds() -> placement.Thresholds:
    """The clinic's thresholds (settings), defaulting to the 2025 guideline's figures."""
    return placement.Thresholds(
        high_dose_dze_mg=Decimal(str(settings.PLACEMENT_HIGH_DOSE_DZE_MG)),
        low_dose_dze_mg=Decimal(str(settings.PLACEMENT_LOW_DOSE_DZE_MG)),
        long_use_months=settings.PLACEMENT_LONG_USE_MONTHS,
        frequent_days_per_week=settings.PLACEMENT_FREQUENT_DAYS_PER_WEEK,
    )


def placement_intake(
    intake: IntakeAssessment, benzodiazepines: list[IntakeBenzodiazepine], substances: list[IntakeSubstance]
) -> placement.Intake:
    """The plain-data view of an assessment that the placement rules read."""
    # Current use: used in the last CURRENT_USE_DAYS before the assessment, or no date given.
    since = intake.assessed_on - timedelta(days=CURRENT_USE_DAYS)
    current = [s for s in substances if s.last_used_on is None or s.last_used_on >= since]
    used = {s.substance for s in current}
    return placement.Intake(
        benzodiazepines=[
            placement.BenzodiazepineUse(b.drug, b.daily_dose_mg, b.duration_months, b.days_per_week)
            for b in benzodiazepines
        ],
        alcohol_most_days=any(s.substance == Substance.ALCOHOL and s.frequency in NEAR_DAILY for s in current),
        opioid_prescribed=Substance.OPIOID_PRESCRIBED in used,
        opioid_illicit=bool(used & ILLICIT_OPIOIDS),
        prior_withdrawal_seizure=intake.prior_withdrawal_seizure,
        prior_withdrawal_delirium=intake.prior_withdrawal_delirium,
        pregnant=intake.pregnancy == Pregnancy.PREGNANT,
        unstable_home=intake.home_stability != HomeStability.STABLE,
        no_support=intake.support == SupportLevel.NONE,
        cssrs=intake.cssrs_answers(),
    )


def intake_check_date(assessed_on: date) -> None:
    """Not in the future, and back no further than BACKDATE_WINDOW_DAYS (an intake entered
    late, the same window as admissions and level changes)."""
    today = timezone.localdate()
    window = settings.BACKDATE_WINDOW_DAYS
    if assessed_on > today:
        raise ApplicationError(
            "An assessment cannot be dated in the future.", extra={"fields": {"assessed_on": ["In the future."]}}
        )
    if assessed_on < today - timedelta(days=window):
        raise ApplicationError(
            f"An assessment can be recorded up to {window} days after it took place.",
            extra={"fields": {"assessed_on": [f"More than {window} days ago."]}},
        )


def _rows(model: type[Any], rows: list[dict[str, Any]], field: str) -> list[Any]:
    built = []
    for index, row in enumerate(rows):
        obj = model(**row)
        try:
            obj.full_clean(exclude=["intake"])
        except ValidationError as error:
            messages = error.message_dict
            raise ApplicationError(
                f"Check {field} entry {index + 1}: " + "; ".join(m for ms in messages.values() for m in ms),
                extra={"fields": {field: {str(index): messages}}},
            ) from error
        built.append(obj)
    return built


@transaction.atomic
def intake_record(
    *,
    patient: Patient,
    assessed_on: date,
    benzodiazepines: list[dict[str, Any]],
    substances: list[dict[str, Any]],
    prescribers: list[dict[str, Any]],
    by: Any,
    request: HttpRequest | None = None,
    **answers: Any,
) -> IntakeAssessment:
    """Record an intake assessment and the level of care proposed from it."""
    require_role(by, CLINICAL_ROLES, "record intake assessments")
    intake_check_date(assessed_on)
    answers["co_occurring"] = sorted(set(answers.get("co_occurring", [])))
    for index, row in enumerate(substances):
        if row.get("last_used_on") and row["last_used_on"] > assessed_on:
            raise ApplicationError(
                "A last use cannot come after the assessment.",
                extra={"fields": {"substances": {str(index): {"last_used_on": ["After the assessment."]}}}},
            )
    benzos = []
    for index, row in enumerate(benzodiazepines):
        try:
            # Brand names are accepted and stored as the generic (Xanax -> alprazolam).
            row = {**row, "drug": generic_name(row["drug"])}
        except EquivalenceError as error:
            raise ApplicationError(
                str(error), extra={"fields": {"benzodiazepines": {str(index): {"drug": [str(error)]}}}}
            ) from error
        benzos.append(row)
    benzo_rows = _rows(IntakeBenzodiazepine, benzos, "benzodiazepines")
    substance_rows = _rows(IntakeSubstance, substances, "substances")
    prescriber_rows = _rows(IntakePrescriber, prescribers, "prescribers")

    intake = IntakeAssessment(patient=patient, assessed_on=assessed_on, assessed_by=by, **answers)
    proposal = placement.propose(
        placement_intake(intake, benzo_rows, substance_rows), thresholds=placement_thresholds()
    )
    intake.proposed_level = LevelOfCare.objects.get(code=proposal.level)
    intake.total_daily_dze_low_mg, intake.total_daily_dze_high_mg = proposal.total_daily_dze_mg
    intake.proposal_rules = list(proposal.rule_ids)
    intake.proposal_reasons = list(proposal.reasons)
    intake.full_clean()
    intake.save()
    for rows in (benzo_rows, substance_rows, prescriber_rows):
        for row in rows:
            row.intake = intake
        if rows:
            type(rows[0]).objects.bulk_create(rows)
    audit_record(audit_target_for(intake, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request)
    return intake


@transaction.atomic
def intake_decide(
    *, intake: IntakeAssessment, level: LevelOfCare, reason: str, by: Any, request: HttpRequest | None = None
) -> IntakeAssessment:
    """Confirm the proposed level, or choose another with a reason. Decided once: a new
    decision needs a new assessment, so the record shows what was known when."""
    require_role(by, DECIDERS, "decide a level of care")
    # Lock the row alone: a join under FOR UPDATE can read the other side's pre-commit
    # state when two decisions race, and the loser's message would name no level.
    intake = IntakeAssessment.objects.select_for_update().get(pk=intake.pk)
    if intake.decision:
        decided = intake.decided_level
        raise Conflict(
            f"This assessment was already decided ({decided.name if decided else ''}); "
            "record a new assessment to decide again.",
            extra={"decided_at": intake.decided_at.isoformat() if intake.decided_at else None},
        )
    if not level.is_active:
        raise ApplicationError(f"{level.name} is not in use.", extra={"fields": {"level": ["Inactive level."]}})
    reason = reason.strip()
    overridden = level.pk != intake.proposed_level_id
    if overridden and len(reason) < OVERRIDE_MIN_REASON:
        raise ApplicationError(
            f"Choosing another level than the proposed one needs a reason (at least {OVERRIDE_MIN_REASON} characters).",
            extra={"fields": {"reason": ["Required to override the proposal."]}},
        )
    intake.decision = PlacementDecision.OVERRIDDEN if overridden else PlacementDecision.CONFIRMED
    intake.decided_level = level
    intake.decision_reason = reason
    intake.decided_by = by
    intake.decided_at = timezone.now()
    intake.save(
        update_fields=["decision", "decided_level", "decision_reason", "decided_by", "decided_at", "updated_at"]
    )
    audit_record(
        audit_target_for(intake, patient_path="patient"),
        action=AuditAction.UPDATE,
        actor=by,
        request=request,
        reason=reason,
    )
    return intake
