"""The engine's proposal as data: the regimen, policy and strengths from their inputs, the steps
as canonical JSON and the digest a prescriber approves, and the preview."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from clinic.errors import ApplicationError
from tapers import equivalence
from tapers.engine import (
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
from tapers.models import DosageForm, MedicationStrength, TaperPlanVersion

# Forms dispensed as whole units the engine can count; an extended-release tablet must not be
# split or crushed, so it is never used to make a taper dose.
UNIT_FORMS = (DosageForm.TABLET, DosageForm.CAPSULE, DosageForm.ORALLY_DISINTEGRATING)

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
