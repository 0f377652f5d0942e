"""Intake assessment and the level-of-care decision (DESIGN.md flow 1).

Recording an intake computes the proposal (patients.placement) from the answers and stores
it with them; the proposal never changes afterwards. A clinician then confirms the proposed
level or chooses another with a reason; admission can follow that decision.
"""

from __future__ import annotations

from datetime import date
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
from clinic.roles import CLINICAL_ROLES, require_role
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

# A reason someone can review later; "n/a" is not one.
OVERRIDE_MIN_REASON = 10
ILLICIT_OPIOIDS = frozenset({Substance.OPIOID_ILLICIT, Substance.FENTANYL})
CENTS = Decimal("0.01")
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
    used = {s.substance for s in substances}
    if used & ILLICIT_OPIOIDS:
        opioid_use = "illicit"
    elif Substance.OPIOID_PRESCRIBED in used:
        opioid_use = "prescribed"
    else:
        opioid_use = "none"
    return placement.Intake(
        benzodiazepines=[
            placement.BenzodiazepineUse(b.drug, b.daily_dose_mg, b.duration_months, b.days_per_week)
            for b in benzodiazepines
        ],
        alcohol_most_days=any(s.substance == Substance.ALCOHOL and s.frequency in NEAR_DAILY for s in substances),
        opioid_use=opioid_use,
        prior_withdrawal_seizure=intake.prior_withdrawal_seizure,
        prior_withdrawal_delirium=intake.prior_withdrawal_delirium,
        pregnant=intake.pregnancy == Pregnancy.PREGNANT,
        unstable_home=intake.home_stability != HomeStability.STABLE,
        no_support=intake.support == SupportLevel.NONE,
        cssrs=intake.cssrs_answers(),
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
    if assessed_on > timezone.localdate():
        raise ApplicationError(
            "An assessment cannot be dated in the future.", extra={"fields": {"assessed_on": ["In the future."]}}
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
    low, high = proposal.total_daily_dze_mg
    intake.total_daily_dze_low_mg, intake.total_daily_dze_high_mg = low.quantize(CENTS), high.quantize(CENTS)
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
    require_role(by, CLINICAL_ROLES, "decide a level of care")
    intake = IntakeAssessment.objects.select_for_update(of=("self",)).select_related("decided_level").get(pk=intake.pk)
    if intake.decision:
        raise Conflict(
            f"This assessment was already decided ({intake.decided_level.name if intake.decided_level else ''}); "
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
