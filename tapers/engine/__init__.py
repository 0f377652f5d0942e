"""Taper engine: dated steps from a benzodiazepine regimen and a taper policy (pure, no Django).

`plan_taper` turns the current regimen (one or more benzodiazepines, a dose per time of day)
and a `TaperPolicy` into dated `Step`s: the dose per time of day and how to make it, the total
per drug, the diazepam equivalent, and the rule that shaped the step with its source.
`validate_steps` checks a list a prescriber entered or edited against the same rules, so the
API can refuse, say, a manual step over the ceiling. Both raise `TaperError` with a message a
prescriber can act on.

Sources (../shared/reference/clinical.md):
- 2025 Joint Clinical Practice Guideline on Benzodiazepine Tapering (ASAM et al.), section 2.1:
  Rec 6 ("dose reductions of 5% to 10%"; "typically not exceed 25% every 2 weeks"), Key
  Takeaway 5 ("5% to 10% every 2-4 weeks"), Rec 7 (transition to a longer-acting BZD), the
  pocket guide Table 7 note (section 1.2: a switch "may be more successful if the doses are
  slowly transitioned over 1-2 weeks rather than 1-2 days"), Table 2 (low dose <= 10 mg DZE).
- Ashton Manual (2002), section 2.2: substitution of diazepam, then slow reductions, smaller
  steps at low doses. Her step sizes are UNVERIFIED there (secondary summaries: 1 mg, then
  0.5 mg diazepam steps), so every step size here is a policy parameter.
- Equivalents: only through tapers.equivalence (the project's one table, Ashton by default).
Parameters marked "clinic default" have no published figure behind them.

How the rules are measured (the tests check exactly this):
- A regimen's daily dose in diazepam equivalents (DZE) is the sum over drugs of
  `diazepam_equivalent(drug, daily mg)`. Where the table gives a range the DZE is a range, and
  every rule must hold at both ends of it: once with every drug read at the lower diazepam
  figure, once with every drug at the upper one.
- Never increases: each step's DZE is at most the previous step's (the baseline's for step 1).
- Ceiling: on the day a step starts, its DZE is at least (100 - 25) % of the DZE in effect 14
  days before (the baseline regimen if that day is before step 1). Doses only fall, so the
  start day of each step is the worst day of its window. The one exemption is the last step of
  a taper to zero, from a DZE (upper end) of at most `stop_from_mg_diazepam`: stopping is always
  a 100 % cut.
- Makeable: every dose is a sum of whole tablets and halves of scored tablets of one drug, or a
  whole number of `liquid_step_ml` of its oral liquid. A plan uses the liquid only once the
  daily DZE (lower end) is at or below `use_liquid_below_mg_diazepam`; a manual step may use it
  at any dose.

Choices where the references leave a gap:
- "5% to 10%" is read as a share of the current daily dose, not of the starting dose: the cut
  then never gets larger relative to what the patient takes as the dose falls, and it is the
  same reading as the ceiling's ("25% every 2 weeks" of the dose then).
- Switching to diazepam substitutes the lower diazepam figure of a range and rounds the diazepam
  down to what the strengths make: never more diazepam than any reading of the table supports.
  Over-sedation is the graver risk of the two, above all with opioids (clinical.md 5.2), and
  the 2025 guideline has each change checked and, if need be, paused (Rec 9, Rec 11). Measured
  at the upper end that substitution is a cut, so the ceiling splits it into as many stages as
  it needs, each waiting for the two-week window where it must. Diazepam one stage rounded away
  is not made up at a later one: that would raise the lower end, so each stage adds at most what
  keeps both ends at or under the step before it.

The package: `types` (inputs, outputs, the policy, the error), `forms` (what tablets and liquid
make, and rounding to them), `rules` (the measures above, and `validate_steps`), `planner`
(`plan_taper`: the switch to diazepam, then the reductions).
"""

from tapers.engine.planner import plan_taper
from tapers.engine.rules import validate_steps
from tapers.engine.types import (
    TIMES_OF_DAY,
    Dose,
    Regimen,
    Step,
    StepDose,
    StepDraft,
    Strengths,
    Tablet,
    TaperError,
    TaperPlan,
    TaperPolicy,
)

__all__ = [
    "TIMES_OF_DAY",
    "Dose",
    "Regimen",
    "Step",
    "StepDose",
    "StepDraft",
    "Strengths",
    "Tablet",
    "TaperError",
    "TaperPlan",
    "TaperPolicy",
    "plan_taper",
    "validate_steps",
]
