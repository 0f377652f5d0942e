"""The engine's plain data: regimens, strengths, the taper policy, steps and plans, and `TaperError`.

Each `TaperPolicy` figure names its source beside it, or says "clinic default" where no
published figure stands behind it; the package docstring says how the rules use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from tapers.equivalence import DEFAULT_TABLE, GUIDELINE_LOW_DOSE_DZE_MG, DiazepamEquivalent

TIMES_OF_DAY = ("morning", "midday", "evening", "bedtime")


class TaperError(ValueError):
    """A regimen, strength list, policy or step list the engine refuses.

    `message` says what to change; `code` names the rule for the API's error body.
    """

    def __init__(self, message: str, *, code: str, extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


@dataclass(frozen=True)
class Dose:
    drug: str  # generic or brand name; normalised to the generic
    mg: Decimal
    time_of_day: str  # one of TIMES_OF_DAY


@dataclass(frozen=True)
class Regimen:
    doses: tuple[Dose, ...]


@dataclass(frozen=True)
class Tablet:
    mg: Decimal
    scored: bool = False  # a scored tablet may be halved; no quarters


@dataclass(frozen=True)
class Strengths:
    """What the pharmacy can dispense of one drug."""

    drug: str
    tablets: tuple[Tablet, ...]
    liquid_mg_per_ml: Decimal | None = None
    # Clinic default: the smallest volume measured with a 1 ml oral syringe.
    liquid_step_ml: Decimal = Decimal("0.1")


@dataclass(frozen=True)
class TaperPolicy:
    # Rec 6 / Key Takeaway 5: 5-10 % per step, read as a share of the current daily dose.
    reduction_percent: Decimal = Decimal(10)
    # Key Takeaway 5: every 2-4 weeks.
    interval_days: int = 14
    # Rec 6: not over 25 % every 2 weeks; a clinic may set it lower, never higher.
    max_reduction_2_weeks_percent: Decimal = Decimal(25)
    # Clinic default: the 2025 guideline Table 2 "low dose" band (<= 10 mg DZE); the guideline
    # ties no step size to it.
    low_dose_threshold_mg_diazepam: Decimal = GUIDELINE_LOW_DOSE_DZE_MG
    # Clinic default: at or below the threshold each step cuts this much DZE instead of a
    # percentage (10 % at the threshold is 1 mg). Secondary Ashton summaries say 0.5 mg
    # diazepam steps at low doses (clinical.md 2.2, UNVERIFIED).
    low_dose_step_mg_diazepam: Decimal = Decimal("0.5")
    # Rec 7: consider switching to a longer-acting benzodiazepine.
    switch_to_diazepam: bool = False
    # Clinic default: one dose is substituted a week, and 7 to 14 days are allowed (also a clinic
    # default). The Table 7 note (a switch "may be more successful if the doses are slowly
    # transitioned over 1-2 weeks rather than 1-2 days") is about the whole switch, not the gap
    # between doses: it sets no figure for this.
    substitution_interval_days: int = 7
    # Clinic default: the night dose first, where diazepam's sedation does least harm.
    substitution_order: tuple[str, ...] = ("bedtime", "evening", "midday", "morning")
    # Clinic default: liquid for the last steps, once the daily DZE is at or below this; None: never.
    use_liquid_below_mg_diazepam: Decimal | None = Decimal(5)
    # Clinic default: a taper to zero stops from at most this much DZE a day (both ends).
    stop_from_mg_diazepam: Decimal = Decimal("0.5")
    # 0 to stop, or a maintenance dose (Algorithm: "consider maintaining on lower dose"), in DZE.
    target_mg_diazepam: Decimal = Decimal(0)
    table: str = DEFAULT_TABLE


@dataclass(frozen=True)
class StepDose:
    drug: str
    time_of_day: str
    mg: Decimal
    made_from: str  # e.g. "1 x 10 mg + 1 x 1/2 5 mg tablet" or "2.5 ml of 1 mg/ml oral liquid"
    liquid: bool


@dataclass(frozen=True)
class Step:
    number: int
    starts_on: date
    doses: tuple[StepDose, ...]  # by time of day, then drug; an empty tuple is "stopped"
    totals_mg: tuple[tuple[str, Decimal], ...]  # (drug, mg a day), by drug
    diazepam_equivalent: DiazepamEquivalent  # a range where the table gives one
    cut_percent: Decimal  # against the previous step, at the end of the range where it is larger
    rule: str  # substitution, reduction, low_dose, ceiling, rounding, maintenance, stop, manual
    reason: str

    @property
    def regimen(self) -> Regimen:
        return Regimen(tuple(Dose(d.drug, d.mg, d.time_of_day) for d in self.doses))


@dataclass(frozen=True)
class StepDraft:
    """A step as a prescriber enters or edits it, for `validate_steps`."""

    starts_on: date
    regimen: Regimen


@dataclass(frozen=True)
class TaperPlan:
    regimen: Regimen
    baseline_equivalent: DiazepamEquivalent
    policy: TaperPolicy
    steps: tuple[Step, ...]  # empty when the regimen is already at the target


# (time of day, generic, mg > 0), sorted by time of day then drug.
_Doses = tuple[tuple[str, str, Decimal], ...]
_Dze = tuple[Fraction, Fraction]  # exact (lower, upper) DZE
