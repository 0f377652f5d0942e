"""`plan_taper`: the switch to diazepam where the policy asks for it, then the reductions.

The switch substitutes one dose at a time, in stages where the ceiling needs them. Each
reduction then cuts one dose: the biggest cut within the policy's pace that the ceiling allows,
else the smallest cut the strengths make, until the target or the stop. The rules and their
measures are in `tapers.engine.rules`; what the strengths make is in `tapers.engine.forms`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from tapers.engine.forms import _UNITS_PER_MG, _fmt, _Forms, _mg_of_units, _units_of
from tapers.engine.rules import (
    CEILING_WINDOW,
    REC_6,
    REC_7,
    _as_percent,
    _Context,
    _cut,
    _dze_text,
    _in_effect,
    _mg,
    _pct,
    _totals,
    _with,
)
from tapers.engine.types import (
    TIMES_OF_DAY,
    Regimen,
    Step,
    Strengths,
    TaperError,
    TaperPlan,
    TaperPolicy,
    _Doses,
    _Dze,
)
from tapers.equivalence import diazepam_equivalent

DIAZEPAM = "diazepam"
# A plan longer than this is a policy or strength list gone wrong, not a taper.
MAX_STEPS = 400

LIQUID_LAST_STEPS = " Oral liquid for the last steps (clinic default: use_liquid_below_mg_diazepam)."
LIQUID_FALLBACK = " Oral liquid: the tablets make no step within the ceiling."
# clinical.md 2.2: smaller steps at low doses come only from secondary summaries of the Ashton
# Manual, and are UNVERIFIED against her text; the step size is the clinic's.
ASHTON_LOW = "smaller steps at low doses: secondary summaries of Ashton, unverified; clinic default"


def plan_taper(
    regimen: Regimen, *, strengths: Sequence[Strengths], start: date, policy: TaperPolicy | None = None
) -> TaperPlan:
    """Dated steps from `regimen` to the policy's target, the first starting on `start`."""
    policy = policy or TaperPolicy()
    ctx = _Context(policy, strengths)
    baseline = ctx.doses_of(regimen, where="The current regimen")
    planner = _Planner(ctx, baseline)
    # A regimen at or under the target has nothing to taper, and so is not switched either: a
    # switch alone is a prescriber's manual step (validate_steps).
    if ctx.dze(baseline)[0] > Fraction(policy.target_mg_diazepam):
        day = planner.substitute(start) if policy.switch_to_diazepam else start
        planner.reduce(day)
    return TaperPlan(regimen=regimen, baseline_equivalent=ctx.equivalent(baseline), policy=policy, steps=planner.steps)


# --- internals -------------------------------------------------------------------------------


_Candidate = tuple[tuple[Fraction, Fraction, int], tuple[str, str, int]]


@dataclass(frozen=True)
class _Cuts:
    # Best candidates as ((cut, slot DZE, -position), (time, drug, units)): the biggest cut within
    # the policy's pace, else the smallest over it; ties go to the biggest dose, then the earliest.
    within: _Candidate | None
    over: _Candidate | None
    blocked: Fraction | None  # the biggest cut within the policy's pace that the ceiling refused
    any_candidate: bool  # some makeable cut stays at or above the target

    @property
    def picked(self) -> _Candidate | None:
        return self.within or self.over


class _Planner:
    def __init__(self, ctx: _Context, baseline: _Doses) -> None:
        self.ctx = ctx
        self.baseline = baseline
        self.current = baseline
        ctx.on_liquid |= ctx.newly_on_liquid(baseline)  # a patient may already take the liquid
        self.history: list[tuple[date, _Doses]] = []
        self._steps: list[Step] = []

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps)

    def add(self, day: date, doses: _Doses, rule: str, reason: str, *, liquid_note: str = "") -> None:
        if len(self._steps) >= MAX_STEPS:
            raise TaperError(
                f"The plan would need over {MAX_STEPS} steps; check the strengths and the policy.", code="plan_too_long"
            )
        step = self.ctx.step(len(self._steps) + 1, day, doses, self.current, rule, reason, liquid_note=liquid_note)
        self._steps.append(step)
        self.history.append((day, doses))
        self.current = doses

    def then(self, day: date) -> _Doses:
        return _in_effect(self.history, self.baseline, day - CEILING_WINDOW)[1]

    def substitute(self, start: date) -> date:
        """Replace each non-diazepam dose with diazepam, one dose at a time; the first reduction day."""
        ctx = self.ctx
        policy = ctx.policy
        diazepam = ctx.forms_of(DIAZEPAM, "Switching to diazepam")
        order = [*policy.substitution_order, *(t for t in TIMES_OF_DAY if t not in policy.substitution_order)]
        interval = timedelta(days=policy.substitution_interval_days)
        day = start
        for time in order:
            for drug in sorted({d for t, d, _ in self.baseline if t == time and d != DIAZEPAM}):
                forms = ctx.forms[drug]
                original = _mg(self.current, time, drug)
                diazepam_before = _mg(self.current, time, DIAZEPAM)
                remaining = original
                while remaining > 0:
                    # Waiting for the last stage to leave the two-week window comes before the
                    # liquid: the patient stays on the forms they know.
                    can_wait = bool(self.history) and day - CEILING_WINDOW < self.history[-1][0]
                    args = (day, time, drug, forms, diazepam, original, diazepam_before, remaining)
                    choice = self._substitution(*args, fallback=not can_wait)
                    if choice is None and can_wait:
                        day += interval
                        continue
                    if choice is None:
                        raise TaperError(
                            f"The {time} {drug} cannot be switched to diazepam within the "
                            f"{_pct(policy.max_reduction_2_weeks_percent)} % ceiling with the diazepam strengths "
                            f"available ({diazepam.describe_all()}): rounding the diazepam down cuts too much. Add a "
                            "smaller diazepam strength or a diazepam liquid.",
                            code="no_step_within_ceiling",
                        )
                    remaining, doses, liquid_fallback = choice
                    whole = remaining == 0
                    part = "" if whole else f" {_fmt(original - remaining, '0.0001')} mg of"
                    range_note = ""
                    low, high = ctx.factor(drug)
                    if low != high:
                        range_note = (
                            f" The {policy.table} equivalent of {drug} is a range: diazepam at its lower figure,"
                            " so by the upper figure this is a cut"
                        )
                        range_note += "." if whole else ", split so each stage keeps within the ceiling."
                    self.add(
                        day,
                        doses,
                        "substitution",
                        f"Diazepam {_fmt(_mg(doses, time, DIAZEPAM) - diazepam_before, '0.0001')} mg for{part} the "
                        f"{time} {drug} ({_fmt(original, '0.0001')} mg), one dose at a time, a week or more apart "
                        f"(clinic default; {REC_7}; {policy.table} equivalents, rounded down to the diazepam "
                        f"strengths).{range_note}",
                        liquid_note=LIQUID_FALLBACK if liquid_fallback else "",
                    )
                    day += interval
        if not self.history:
            return start
        return self.history[-1][0] + timedelta(days=policy.interval_days)

    def _substitution(
        self,
        day: date,
        time: str,
        drug: str,
        forms: _Forms,
        diazepam: _Forms,
        original: Decimal,
        diazepam_before: Decimal,
        remaining: Decimal,
        *,
        fallback: bool,
    ) -> tuple[Decimal, _Doses, bool] | None:
        """The most of the dose that can be switched on `day` within the rules.

        (mg of the drug left, the new doses, whether only the liquid made it possible)
        """
        ctx = self.ctx
        then = self.then(day)
        allowed = ctx.liquid_allowed(self.current)
        now_low, now_high = ctx.dze(self.current)
        # As for cuts: the liquid where the tablets make no switch within the rules.
        for liquid in (True,) if allowed else (False, True) if fallback else (False,):
            for left_units in reversed(forms.below(_units_of(remaining, drug), liquid=liquid or drug in ctx.on_liquid)):
                left = _mg_of_units(left_units)
                switched = diazepam_equivalent(drug, original - left, table=ctx.policy.table).low_mg
                floored = switched.quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
                owed = _units_of(diazepam_before + floored, DIAZEPAM)
                # Earlier stages may have rounded the diazepam down (tablets), so what is owed for
                # all switched since the start can be more than this stage may add: it would raise
                # the lower end. Never more than keeps both ends at or under the current step's.
                without = ctx.dze(_with(_with(self.current, time, drug, left), time, DIAZEPAM, Decimal(0)))
                # In diazepam mg (1 DZE per mg); never negative, as `left` is under the current dose.
                room = min(now_low - without[0], now_high - without[1])
                wanted = min(owed, math.floor(room * _UNITS_PER_MG))
                new_diazepam = _mg_of_units(diazepam.floor(wanted, liquid=liquid or DIAZEPAM in ctx.on_liquid))
                doses = _with(_with(self.current, time, drug, left), time, DIAZEPAM, new_diazepam)
                if ctx.breach(doses, self.current, then) is None:
                    return left, doses, liquid and not allowed
        return None

    def _cuts(self, day: date, desired: Fraction, target: Fraction, *, liquid: bool) -> _Cuts:
        """Every single-dose cut the strengths make, judged against the policy's pace and the ceiling."""
        ctx = self.ctx
        low, high = ctx.dze(self.current)
        then_low, then_high = ctx.dze(self.then(day))
        within: _Candidate | None = None
        over: _Candidate | None = None
        blocked: Fraction | None = None
        any_candidate = False
        for position, (time, drug, mg) in enumerate(self.current):
            f_low, f_high = ctx.factor(drug)
            slot = Fraction(mg) * f_low
            mg_units = _units_of(mg, drug)
            # The most this dose may drop (in units): staying at or above the target, within the
            # ceiling at both ends of the range, and within the policy's pace.
            to_target = math.floor((low - target) / f_low * _UNITS_PER_MG)
            to_ceiling = min(
                math.floor((low - ctx.keep * then_low) / f_low * _UNITS_PER_MG),
                math.floor((high - ctx.keep * then_high) / f_high * _UNITS_PER_MG),
            )
            to_desired = math.floor(desired / f_low * _UNITS_PER_MG)
            best_within = first_over = None
            # A drug once on the liquid stays on it, whatever the dose.
            for units in ctx.forms[drug].below(mg_units, liquid=liquid or drug in ctx.on_liquid):
                dropped = mg_units - units  # grows as the doses below get smaller
                if dropped > to_target:
                    break
                any_candidate = True
                if dropped > to_ceiling:
                    if dropped <= to_desired:
                        cut = Fraction(dropped, _UNITS_PER_MG) * f_low
                        blocked = cut if blocked is None else max(blocked, cut)
                    break
                if dropped <= to_desired:
                    best_within = units
                else:
                    first_over = units
                    break
            if best_within is not None:
                key = (Fraction(mg_units - best_within, _UNITS_PER_MG) * f_low, slot, -position)
                if within is None or key > within[0]:
                    within = (key, (time, drug, best_within))
            if first_over is not None:
                key = (-Fraction(mg_units - first_over, _UNITS_PER_MG) * f_low, slot, -position)
                if over is None or key > over[0]:
                    over = (key, (time, drug, first_over))
        return _Cuts(within, over, blocked, any_candidate)

    def reduce(self, day: date) -> None:
        ctx = self.ctx
        policy = ctx.policy
        target = Fraction(policy.target_mg_diazepam)
        interval = timedelta(days=policy.interval_days)
        ceiling = _pct(policy.max_reduction_2_weeks_percent)
        while True:
            low, high = ctx.dze(self.current)
            if low <= target:
                return
            if target == 0 and high <= Fraction(policy.stop_from_mg_diazepam):
                self.add(
                    day,
                    (),
                    "stop",
                    f"Stop: at {_dze_text((low, high))} a day the last step is to zero (clinic "
                    f"default: stop from {_fmt(policy.stop_from_mg_diazepam)} mg diazepam-equivalent or less).",
                )
                return
            liquid = ctx.liquid_allowed(self.current)
            low_dose = low <= Fraction(policy.low_dose_threshold_mg_diazepam)
            desired = (
                Fraction(policy.low_dose_step_mg_diazepam)
                if low_dose
                else low * Fraction(policy.reduction_percent) / 100
            )
            search = self._cuts(day, desired, target, liquid=liquid)
            liquid_fallback = False
            if search.picked is None and search.any_candidate and not liquid:
                # The tablets make no cut within the ceiling: the liquid, where there is one,
                # is better than refusing the plan.
                search = self._cuts(day, desired, target, liquid=True)
                liquid_fallback = search.picked is not None
            picked = search.picked
            if picked is None:
                if not search.any_candidate:
                    return  # nothing the strengths make lies between the target and today's dose
                hints = ["add a smaller or scored strength or an oral liquid with a finer step"]
                if any(d != DIAZEPAM for _, d, _ in self.current):
                    hints.append("switch to diazepam (switch_to_diazepam)")
                if target == 0:
                    hints.append("stop from a higher dose (stop_from_mg_diazepam)")
                forms = "; ".join(f"{d}: {ctx.forms[d].describe_all()}" for d, _ in _totals(self.current))
                raise TaperError(
                    f"Cannot plan below {_dze_text((low, high))} diazepam-equivalent a day: every cut the strengths "
                    f"allow ({forms}) is over the {ceiling} % in 2 weeks ceiling ({REC_6}). To go on, "
                    f"{', '.join(hints)}, or set a maintenance target.",
                    code="no_step_within_ceiling",
                    extra={"dze_mg": _dze_text((low, high))},
                )
            time, drug, units = picked[1]
            chosen = _with(self.current, time, drug, _mg_of_units(units))
            rule, reason = self._explain(search, (low, high), ctx.dze(chosen), low_dose=low_dose)
            self.add(day, chosen, rule, reason, liquid_note=LIQUID_FALLBACK if liquid_fallback else LIQUID_LAST_STEPS)
            day += interval

    def _explain(self, search: _Cuts, before: _Dze, after: _Dze, *, low_dose: bool) -> tuple[str, str]:
        """The rule that shaped a cut, and a sentence citing it."""
        policy = self.ctx.policy
        share = _as_percent(_cut(before, after))
        ceiling = _pct(policy.max_reduction_2_weeks_percent)
        pace = f"{_fmt(policy.low_dose_step_mg_diazepam)} mg" if low_dose else f"{_pct(policy.reduction_percent)} %"
        within, blocked = search.within, search.blocked
        if within is None:
            return "rounding", (
                f"Cut {share} %: the smallest cut the strengths allow is more than the policy's {pace}, and within "
                f"the {ceiling} % ceiling ({REC_6})."
            )
        if blocked is not None and within[0][0] < blocked:
            return "ceiling", (
                f"Cut {share} %, less than the policy's {pace}: a bigger cut would be over {ceiling} % of the dose "
                f"two weeks earlier ({REC_6})."
            )
        target = Fraction(policy.target_mg_diazepam)
        if target > 0 and after[0] == target:
            return "maintenance", (
                f"Cut {share} % to the maintenance dose (2025 guideline algorithm: consider maintaining on a lower "
                "dose)."
            )
        if low_dose:
            return "low_dose", (
                f"Cut {share} %: at or below {_fmt(policy.low_dose_threshold_mg_diazepam)} mg diazepam-equivalent a "
                f"day, steps of {pace} ({ASHTON_LOW})."
            )
        return "reduction", f"Cut {share} % (policy {pace} of the current dose; {REC_6})."
