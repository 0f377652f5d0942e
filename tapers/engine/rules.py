"""The rules every step keeps, measured as the package docstring says, and `validate_steps`.

`_Context` holds the policy, the strengths and the equivalence table for one plan or one
validation: it reads a regimen into exact doses, measures the diazepam equivalent at both ends
of a range, says whether a step raises the dose or cuts past the 2-week ceiling, and builds the
annotated `Step`. The planner proposes steps through the same context, so a generated plan and
a prescriber's steps are held to one set of rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tapers.engine.forms import _fmt, _Forms, _mg_of_units, _units_of
from tapers.engine.types import (
    TIMES_OF_DAY,
    Regimen,
    Step,
    StepDose,
    StepDraft,
    Strengths,
    TaperError,
    TaperPolicy,
    _Doses,
    _Dze,
)
from tapers.equivalence import (
    TABLES,
    DiazepamEquivalent,
    EquivalenceError,
    diazepam_per_mg,
    generic_name,
    total_diazepam_equivalent,
)

# 2025 guideline Rec 6: "should typically not exceed 25% every 2 weeks": the look-back window.
CEILING_WINDOW = timedelta(days=14)

REC_6 = "2025 guideline Rec 6 and Key Takeaway 5: cuts of 5-10 % every 2-4 weeks, not over 25 % every 2 weeks"
REC_7 = (
    "2025 guideline Rec 7: switch to a longer-acting benzodiazepine; Table 7 note: transition over 1-2 weeks, "
    "not 1-2 days"
)


def validate_steps(
    regimen: Regimen, steps: Sequence[StepDraft], *, strengths: Sequence[Strengths], policy: TaperPolicy | None = None
) -> tuple[Step, ...]:
    """Check steps a prescriber entered against the rules; the annotated steps, or TaperError."""
    policy = policy or TaperPolicy()
    ctx = _Context(policy, strengths)
    baseline = ctx.doses_of(regimen, where="The current regimen")
    history: list[tuple[date, _Doses]] = []
    result: list[Step] = []
    previous = baseline
    for number, draft in enumerate(steps, start=1):
        where = f"Step {number} ({draft.starts_on.isoformat()})"
        if history and draft.starts_on <= history[-1][0]:
            raise TaperError(
                f"{where} starts on or before step {number - 1} ({history[-1][0].isoformat()}); "
                "steps must be in date order.",
                code="dates_out_of_order",
                extra={"step": number},
            )
        doses = ctx.doses_of(draft.regimen, where=where)
        then_day, then = _in_effect(history, baseline, draft.starts_on - CEILING_WINDOW)
        breach = ctx.breach(doses, previous, then)
        if breach is not None:
            code, why = breach
            raise TaperError(
                _breach_message(ctx, where, code, why, doses, previous, then, then_day),
                code=code,
                extra={"step": number},
            )
        result.append(
            ctx.step(
                number,
                draft.starts_on,
                doses,
                previous,
                "manual",
                "Entered by the prescriber; "
                f"checked against the {_pct(policy.max_reduction_2_weeks_percent)} % ceiling "
                f"({REC_6}).",
            )
        )
        history.append((draft.starts_on, doses))
        previous = doses
    return tuple(result)


# --- internals -------------------------------------------------------------------------------


def _pct(value: Decimal | Fraction) -> str:
    return _fmt(Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) else value, "0.1")


class _Context:
    """Policy, strengths and table for one plan or one validation."""

    def __init__(self, policy: TaperPolicy, strengths: Sequence[Strengths]) -> None:
        _check_policy(policy)
        self.policy = policy
        self.forms: dict[str, _Forms] = {}
        for item in strengths:
            drug = self.generic(item.drug)
            if drug in self.forms:
                raise TaperError(
                    f"The strengths list names {drug} twice; give one entry per drug.", code="bad_strengths"
                )
            self.forms[drug] = _Forms(item, drug)
        self.keep = 1 - Fraction(policy.max_reduction_2_weeks_percent) / 100
        self.on_liquid: set[str] = set()
        self._dze: dict[_Doses, _Dze] = {}

    def generic(self, name: str) -> str:
        try:
            drug = generic_name(name)
        except EquivalenceError as error:
            raise TaperError(str(error), code="unknown_drug") from error
        table = self.policy.table
        if drug not in TABLES[table]:
            raise TaperError(f"The {table} equivalence table gives no equivalent for {drug}.", code="unknown_drug")
        return drug

    def factor(self, drug: str) -> _Dze:
        """Diazepam mg per mg of `drug` by the policy's table, exact, at the lower and upper end of
        its range: a cut of exactly 25 % is never refused for a rounding error in the 28th digit."""
        return diazepam_per_mg(drug, table=self.policy.table)

    def dze(self, doses: _Doses) -> _Dze:
        if doses not in self._dze:
            low = high = Fraction(0)
            for _, drug, mg in doses:
                f_low, f_high = self.factor(drug)
                low += Fraction(mg) * f_low
                high += Fraction(mg) * f_high
            self._dze[doses] = (low, high)
        return self._dze[doses]

    def equivalent(self, doses: _Doses) -> DiazepamEquivalent:
        return total_diazepam_equivalent(_totals(doses), table=self.policy.table)

    def newly_on_liquid(self, doses: _Doses) -> set[str]:
        """The drugs these doses put on the liquid for the first time."""
        return {d for _, d, mg in doses if not self.forms[d].by_tablets(_units_of(mg, d))} - self.on_liquid

    def liquid_allowed(self, doses: _Doses) -> bool:
        threshold = self.policy.use_liquid_below_mg_diazepam
        return threshold is not None and self.dze(doses)[0] <= Fraction(threshold)

    def forms_of(self, drug: str, where: str) -> _Forms:
        if drug not in self.forms:
            raise TaperError(
                f"{where}: no strengths were given for {drug}; list the tablets (and any liquid) the "
                "pharmacy can dispense.",
                code="missing_strengths",
            )
        return self.forms[drug]

    def doses_of(self, regimen: Regimen, *, where: str) -> _Doses:
        # The patient may already take a liquid, and a prescriber may use it at any dose: the
        # liquid threshold only steers what a generated plan proposes.
        seen: dict[tuple[str, str], Decimal] = {}
        for dose in regimen.doses:
            drug = self.generic(dose.drug)
            if dose.time_of_day not in TIMES_OF_DAY:
                raise TaperError(
                    f"{where}: {dose.time_of_day!r} is not a time of day; use one of {', '.join(TIMES_OF_DAY)}.",
                    code="bad_regimen",
                )
            if dose.mg < 0:
                raise TaperError(f"{where}: the {drug} dose ({dose.time_of_day}) is negative.", code="bad_regimen")
            if (dose.time_of_day, drug) in seen:
                raise TaperError(
                    f"{where}: {drug} is listed twice for the {dose.time_of_day}; give one dose per drug and time.",
                    code="bad_regimen",
                )
            seen[(dose.time_of_day, drug)] = dose.mg
            if dose.mg == 0:
                continue
            forms = self.forms_of(drug, where)
            units = _units_of(dose.mg, f"{where}: the {drug} dose")
            if not forms.makeable(units, liquid=True):
                under, over = forms.nearest(units)
                options = " or ".join(f"{_fmt(_mg_of_units(u), '0.0001')} mg" for u in (under, over) if u)
                raise TaperError(
                    f"{where}: {drug} {_fmt(dose.mg, '0.0001')} mg ({dose.time_of_day}) cannot be made from the "
                    f"strengths available ({forms.describe_all()})."
                    + (f" The nearest that can: {options}." if options else ""),
                    code="unmakeable_dose",
                    extra={"drug": drug, "time_of_day": dose.time_of_day, "mg": str(dose.mg)},
                )
        return _sorted((time, drug, mg) for (time, drug), mg in seen.items() if mg > 0)

    def breach(self, new: _Doses, previous: _Doses, then: _Doses) -> tuple[str, Fraction] | None:
        """("dose_increase" | "over_ceiling", the offending share) or None if the step keeps the rules."""
        new_dze, prev_dze, then_dze = self.dze(new), self.dze(previous), self.dze(then)
        for new_end, prev_end in zip(new_dze, prev_dze, strict=True):
            if new_end > prev_end:
                return "dose_increase", new_end / prev_end - 1 if prev_end else Fraction(1)
        if not new and prev_dze[1] <= Fraction(self.policy.stop_from_mg_diazepam):
            return None  # stopping from a small enough dose: the ceiling's one exemption
        for new_end, then_end in zip(new_dze, then_dze, strict=True):
            if new_end < self.keep * then_end:
                return "over_ceiling", 1 - new_end / then_end
        return None

    def step(
        self, number: int, day: date, doses: _Doses, previous: _Doses, rule: str, reason: str, *, liquid_note: str = ""
    ) -> Step:
        """The annotated step; `liquid_note` ends the reason when these doses put a drug on the liquid."""
        # Once one dose of a drug needs the liquid, every later dose of it that the liquid makes
        # is given as liquid: one form of a drug is easier to dispense and to take right.
        newly_on_liquid = self.newly_on_liquid(doses)
        if newly_on_liquid:
            reason += liquid_note
        self.on_liquid |= newly_on_liquid
        on_liquid = self.on_liquid
        step_doses = []
        for time, drug, mg in doses:
            units = _units_of(mg, drug)
            forms = self.forms[drug]
            made_from, liquid = forms.describe(units, liquid_first=drug in on_liquid and forms.by_liquid(units))
            step_doses.append(StepDose(drug=drug, time_of_day=time, mg=mg, made_from=made_from, liquid=liquid))
        return Step(
            number=number,
            starts_on=day,
            doses=tuple(step_doses),
            totals_mg=_totals(doses),
            diazepam_equivalent=self.equivalent(doses),
            cut_percent=_as_percent(_cut(self.dze(previous), self.dze(doses))),
            rule=rule,
            reason=reason,
        )


def _check_policy(policy: TaperPolicy) -> None:
    def refuse(message: str) -> None:
        raise TaperError(message, code="bad_policy")

    if not Decimal(5) <= policy.reduction_percent <= Decimal(10):
        refuse(f"reduction_percent must be 5 to 10 ({REC_6}).")
    if not 14 <= policy.interval_days <= 28:
        refuse(f"interval_days must be 14 to 28 ({REC_6}).")
    if not Decimal(0) < policy.max_reduction_2_weeks_percent <= Decimal(25):
        refuse(f"max_reduction_2_weeks_percent must be above 0 and at most 25 ({REC_6}).")
    if policy.low_dose_threshold_mg_diazepam < 0 or policy.low_dose_step_mg_diazepam <= 0:
        refuse("The low-dose threshold must be 0 or more and the low-dose step above 0 mg.")
    if not 7 <= policy.substitution_interval_days <= 14:
        refuse("substitution_interval_days must be 7 to 14 (clinic default: one dose switched a week or two apart).")
    if set(policy.substitution_order) - set(TIMES_OF_DAY):
        refuse(f"substitution_order may name only {', '.join(TIMES_OF_DAY)}.")
    if policy.use_liquid_below_mg_diazepam is not None and policy.use_liquid_below_mg_diazepam < 0:
        refuse("use_liquid_below_mg_diazepam cannot be negative.")
    if policy.stop_from_mg_diazepam < 0 or policy.target_mg_diazepam < 0:
        refuse("stop_from_mg_diazepam and target_mg_diazepam cannot be negative.")
    if policy.table not in TABLES:
        refuse(f"Unknown equivalence table {policy.table!r}; use one of {', '.join(sorted(TABLES))}.")


def _sorted(doses: Iterable[tuple[str, str, Decimal]]) -> _Doses:
    return tuple(sorted(doses, key=lambda d: (TIMES_OF_DAY.index(d[0]), d[1])))


def _with(doses: _Doses, time: str, drug: str, mg: Decimal) -> _Doses:
    kept = [d for d in doses if (d[0], d[1]) != (time, drug)]
    return _sorted([*kept, (time, drug, mg)] if mg > 0 else kept)


def _mg(doses: _Doses, time: str, drug: str) -> Decimal:
    return next((mg for t, d, mg in doses if (t, d) == (time, drug)), Decimal(0))


def _totals(doses: _Doses) -> tuple[tuple[str, Decimal], ...]:
    totals: dict[str, Decimal] = {}
    for _, drug, mg in doses:
        totals[drug] = totals.get(drug, Decimal(0)) + mg
    return tuple(sorted(totals.items()))


def _cut(before: _Dze, after: _Dze) -> Fraction:
    """The larger share cut at either end of the range (negative for an increase)."""
    return max((1 - a / b) if b else Fraction(0) for a, b in zip(after, before, strict=True))


def _as_percent(share: Fraction) -> Decimal:
    return (Decimal(share.numerator) * 100 / Decimal(share.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _dze_text(dze: _Dze) -> str:
    low, high = (_fmt(Decimal(v.numerator) / Decimal(v.denominator)) for v in dze)
    return f"{low} mg" if low == high else f"{low}-{high} mg"


def _in_effect(history: Sequence[tuple[date, _Doses]], baseline: _Doses, day: date) -> tuple[date | None, _Doses]:
    for starts_on, doses in reversed(history):
        if starts_on <= day:
            return starts_on, doses
    return None, baseline


def _breach_message(
    ctx: _Context,
    where: str,
    code: str,
    share: Fraction,
    new: _Doses,
    previous: _Doses,
    then: _Doses,
    then_day: date | None,
) -> str:
    if code == "dose_increase":
        return (
            f"{where} raises the daily dose from {_dze_text(ctx.dze(previous))} to {_dze_text(ctx.dze(new))} "
            f"diazepam-equivalent ({ctx.policy.table} table); a taper step may only keep or lower it."
        )
    when = f"on {then_day.isoformat()}" if then_day else "before the taper"
    return (
        f"{where} cuts the daily dose to {_dze_text(ctx.dze(new))} diazepam-equivalent, {_as_percent(share)} % "
        f"below the {_dze_text(ctx.dze(then))} taken two weeks earlier ({when}); the ceiling is "
        f"{_pct(ctx.policy.max_reduction_2_weeks_percent)} % every 2 weeks ({REC_6}). Make the cut smaller or "
        "start the step later."
    )
