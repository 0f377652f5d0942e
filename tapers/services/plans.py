"""Taper plans: draft from the engine, preview, edit steps, approve, activate, hold, resume,
stop, complete, and the daily step advance.

The software proposes; a licensed prescriber decides. Nothing here changes a dose the patient
takes without a recorded approval: every change is a new version, and only an approved version
becomes the schedule (`TaperPlan.current_version` and its `TaperStep` rows). Holds and resumes
move dates, never doses; they are recorded (`PlanHold`) with the days shifted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict, Forbidden
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, Role, require_role
from patients.models import EpisodeOfCare, Patient
from tapers import ciwa, equivalence
from tapers.engine import (
    TIMES_OF_DAY,
    Dose,
    Regimen,
    Step,
    StepDraft,
    Strengths,
    Tablet,
    TaperError,
    TaperPolicy,
    plan_taper,
    validate_steps,
)
from tapers.models import (
    DosageForm,
    HoldBand,
    MedicationStrength,
    PlanHold,
    PlanStatus,
    Prescriber,
    StepStatus,
    TaperPlan,
    TaperPlanVersion,
    TaperStep,
)
from tapers.models.plans import IN_FORCE

PRESCRIBING = frozenset({Role.PRESCRIBER})
# Forms dispensed as whole units the engine can count; an extended-release tablet must not be
# split or crushed, so it is never used to make a taper dose.
UNIT_FORMS = (DosageForm.TABLET, DosageForm.CAPSULE, DosageForm.ORALLY_DISINTEGRATING)
OVER = (PlanStatus.COMPLETED, PlanStatus.STOPPED)
HOLDABLE = (PlanStatus.ACTIVE, PlanStatus.APPROVED)


# --- inputs: the regimen, the policy, the strengths -----------------------------------------


# Engine refusals that are about one input field; the others (no step within the ceiling with
# these strengths, a plan too long) are about the whole request.
_FIELD_OF_CODE = {
    "unmakeable_dose": "regimen",
    "bad_regimen": "regimen",
    "unknown_drug": "regimen",
    "missing_strengths": "regimen",
    "bad_policy": "policy",
}


def _refuse(error: TaperError, field: str | None = None) -> ApplicationError:
    """The engine's refusal as a 400 naming the rule (`extra.code`) and, where it is one
    field's fault, that field."""
    extra: dict[str, Any] = {"code": error.code, **error.extra}
    where = field or _FIELD_OF_CODE.get(error.code)
    if where:
        extra["fields"] = {where: [error.message]}
    return ApplicationError(error.message, extra=extra)


def regimen_from(doses: Iterable[Mapping[str, Any]]) -> Regimen:
    """A regimen from [{"drug", "mg", "time_of_day"}] (checked further by the engine)."""
    return Regimen(tuple(Dose(str(d["drug"]), Decimal(str(d["mg"])), str(d["time_of_day"])) for d in doses))


# TaperPolicy fields the API may override, with their types.
_POLICY_TYPES = {f.name: f.type for f in fields(TaperPolicy)}


def policy_from(overrides: Mapping[str, Any]) -> TaperPolicy:
    """The default policy with `overrides`; the engine refuses out-of-range values (bad_policy)."""
    values: dict[str, Any] = {}
    for name, value in overrides.items():
        kind = str(_POLICY_TYPES.get(name, ""))
        if not kind:
            raise ApplicationError(
                f"{name!r} is not a taper policy setting.", extra={"fields": {"policy": [f"Unknown setting {name!r}."]}}
            )
        try:
            if value is None and "None" in kind:
                values[name] = None
            elif value is None:
                raise ValueError("cannot be null")
            elif "Decimal" in kind:
                values[name] = Decimal(str(value))
            elif kind == "int":
                values[name] = int(value)
            elif kind == "bool":
                values[name] = bool(value)
            elif "tuple" in kind:
                values[name] = tuple(str(v) for v in value)
            else:
                values[name] = str(value)
        except (InvalidOperation, TypeError, ValueError) as error:
            raise ApplicationError(
                f"The policy setting {name} has the wrong type.", extra={"fields": {"policy": [f"{name}: {error}"]}}
            ) from error
    return TaperPolicy(**values)


def strengths_from_catalogue(drugs: Iterable[str]) -> list[Strengths]:
    """What the pharmacy can dispense of each drug: the catalogue's active strengths.

    Tablets (scored ones may be halved), capsules and orally disintegrating tablets count as
    whole units; the lowest-concentration active oral liquid is the liquid (the finest steps).
    A drug with no active strength is left out, and the engine says which one it needed.
    """
    names = set()
    for drug in drugs:
        try:
            names.add(equivalence.generic_name(drug))
        except equivalence.EquivalenceError:
            continue  # the engine names the unknown drug
    rows = MedicationStrength.objects.filter(
        medication__generic_name__in=names, medication__is_active=True, is_active=True
    ).select_related("medication")
    by_drug: dict[str, tuple[list[Tablet], list[Decimal]]] = {}
    for row in rows:
        tablets, liquids = by_drug.setdefault(row.medication.generic_name, ([], []))
        if row.form == DosageForm.ORAL_LIQUID:
            liquids.append(row.strength_mg)
        elif row.form in UNIT_FORMS:
            tablets.append(Tablet(row.strength_mg.normalize(), scored=row.scored and row.form == DosageForm.TABLET))
    return [
        Strengths(
            drug,
            tuple(sorted(set(tablets), key=lambda t: (t.mg, t.scored))),
            min(liquids).normalize() if liquids else None,
        )
        for drug, (tablets, liquids) in sorted(by_drug.items())
        if tablets or liquids
    ]


# --- canonical JSON and the digest ------------------------------------------------------------


def _num(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _cents(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def regimen_json(regimen: Regimen) -> list[dict[str, str]]:
    return [{"drug": d.drug, "mg": _num(d.mg), "time_of_day": d.time_of_day} for d in regimen.doses]


def policy_json(policy: TaperPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(TaperPolicy):
        value = getattr(policy, f.name)
        if isinstance(value, Decimal):
            value = _num(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def strengths_json(strengths: Sequence[Strengths]) -> list[dict[str, Any]]:
    return [
        {
            "drug": s.drug,
            "tablets": [{"mg": _num(t.mg), "scored": t.scored} for t in s.tablets],
            "liquid_mg_per_ml": _num(s.liquid_mg_per_ml) if s.liquid_mg_per_ml is not None else None,
            "liquid_step_ml": _num(s.liquid_step_ml),
        }
        for s in strengths
    ]


def step_json(step: Step, *, number: int | None = None, manual: bool = False) -> dict[str, Any]:
    doses: dict[str, list[dict[str, Any]]] = {}
    for dose in step.doses:
        doses.setdefault(dose.time_of_day, []).append(
            {"drug": dose.drug, "mg": _num(dose.mg), "made_from": dose.made_from, "liquid": dose.liquid}
        )
    dze = step.diazepam_equivalent.to_cents()
    return {
        "number": number if number is not None else step.number,
        "starts_on": step.starts_on.isoformat(),
        "doses": doses,
        "totals_mg": {drug: _num(mg) for drug, mg in step.totals_mg},
        "dze_low_mg": _cents(dze.low_mg),
        "dze_high_mg": _cents(dze.high_mg),
        "cut_percent": _num(step.cut_percent) if step.cut_percent else "0",
        "rule": step.rule,
        "reason": step.reason,
        "manual": manual,
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(inputs: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> str:
    """sha256 of the canonical JSON of inputs and steps: what an approver signs."""
    return hashlib.sha256(canonical_json({"inputs": inputs, "steps": steps}).encode()).hexdigest()


@dataclass(frozen=True)
class Proposal:
    inputs: dict[str, Any]
    steps: list[dict[str, Any]]
    digest: str
    baseline_dze_low_mg: str
    baseline_dze_high_mg: str


def _proposal(inputs: dict[str, Any], steps: list[dict[str, Any]], regimen: Regimen, policy: TaperPolicy) -> Proposal:
    baseline = equivalence.total_diazepam_equivalent(_totals(regimen), table=policy.table).to_cents()
    return Proposal(inputs, steps, digest_of(inputs, steps), _cents(baseline.low_mg), _cents(baseline.high_mg))


def _totals(regimen: Regimen) -> list[tuple[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    for dose in regimen.doses:
        drug = equivalence.generic_name(dose.drug)
        totals[drug] = totals.get(drug, Decimal(0)) + dose.mg
    return sorted(totals.items())


def plan_preview(*, regimen: Sequence[Mapping[str, Any]], policy: Mapping[str, Any], start: date) -> Proposal:
    """What the engine proposes for this regimen, policy and start date; nothing is saved."""
    taper_policy = policy_from(policy)
    engine_regimen = regimen_from(regimen)
    drugs = [d.drug for d in engine_regimen.doses] + (["diazepam"] if taper_policy.switch_to_diazepam else [])
    strengths = strengths_from_catalogue(drugs)
    try:
        plan = plan_taper(engine_regimen, strengths=strengths, start=start, policy=taper_policy)
        inputs = {
            "mode": "engine",
            "regimen": regimen_json(engine_regimen),
            "policy": policy_json(taper_policy),
            "strengths": strengths_json(strengths),
            "start": start.isoformat(),
        }
        return _proposal(inputs, [step_json(s) for s in plan.steps], engine_regimen, taper_policy)
    except TaperError as error:
        raise _refuse(error) from error
    except equivalence.EquivalenceError as error:
        raise ApplicationError(
            str(error), extra={"code": "unknown_drug", "fields": {"regimen": [str(error)]}}
        ) from error


def _manual_proposal(
    base: TaperPlanVersion, *, regimen: Sequence[Mapping[str, Any]] | None, steps: Sequence[Mapping[str, Any]]
) -> Proposal:
    """Steps a prescriber entered or edited, checked by the engine against the base version's policy."""
    taper_policy = policy_from(base.inputs["policy"])
    engine_regimen = regimen_from(regimen if regimen is not None else base.inputs["regimen"])
    drafts = [StepDraft(starts_on=s["starts_on"], regimen=regimen_from(s["doses"])) for s in steps]
    drugs = {d.drug for d in engine_regimen.doses} | {d.drug for s in drafts for d in s.regimen.doses}
    strengths = strengths_from_catalogue(drugs)
    if not drafts:
        raise ApplicationError("Give at least one step.", extra={"fields": {"steps": ["At least one step."]}})
    try:
        checked = validate_steps(engine_regimen, drafts, strengths=strengths, policy=taper_policy)
    except TaperError as error:
        raise _refuse(error, "steps") from error
    except equivalence.EquivalenceError as error:
        raise ApplicationError(str(error), extra={"code": "unknown_drug", "fields": {"steps": [str(error)]}}) from error
    # A step the prescriber left as the engine proposed keeps the engine's rule and reason.
    proposed = {_step_key(s): s for s in base.proposed_steps}
    out = []
    for step in checked:
        as_json = step_json(step, manual=True)
        before = proposed.get(_step_key(as_json))
        if before is not None and before["cut_percent"] == as_json["cut_percent"]:
            as_json = {**before, "number": step.number, "cut_percent": as_json["cut_percent"]}
        out.append(as_json)
    inputs = {
        "mode": "manual",
        "based_on_version": base.number,
        "regimen": regimen_json(engine_regimen),
        "policy": base.inputs["policy"],
        "strengths": strengths_json(strengths),
        "start": out[0]["starts_on"],
    }
    return _proposal(inputs, out, engine_regimen, taper_policy)


def _step_key(step: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    doses = tuple(
        sorted((time, d["drug"], str(Decimal(d["mg"]).normalize())) for time, ds in step["doses"].items() for d in ds)
    )
    return step["starts_on"], doses


# --- plans and versions -----------------------------------------------------------------------


def _audit(obj: Any, action: AuditAction, by: Any, request: HttpRequest | None, path: str = "patient") -> None:
    audit_record(audit_target_for(obj, patient_path=path), action=action, actor=by, request=request)


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


def _lock(plan: TaperPlan) -> TaperPlan:
    # Two prescribers (or a prescriber and a patient's check) may act on one plan at once.
    return TaperPlan.objects.select_for_update().get(pk=plan.pk)


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
    _audit(plan, AuditAction.CREATE, by, request)
    return plan


def _open_for_change(plan: TaperPlan) -> None:
    if plan.status in OVER:
        raise Conflict(f"The plan is {plan.status}; start a new plan instead.", extra={"status": plan.status})


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
    _audit(plan, AuditAction.UPDATE, by, request)
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
    _audit(plan, AuditAction.UPDATE, by, request)
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
    _audit(plan, AuditAction.UPDATE, by, request)
    return plan


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
    _audit(plan, AuditAction.UPDATE, by, request)
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
    _audit(plan, AuditAction.UPDATE, by, request)
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
    _audit(plan, AuditAction.UPDATE, by, request)
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
    _audit(plan, AuditAction.UPDATE, by, request)
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
    _audit(plan, AuditAction.UPDATE, by, request)
    return plan


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
