"""Scoring of the screening measures recorded at intake and during treatment (pure, no Django).

Each instrument lists its items, the answer range of each item, and the published
severity bands. Scoring refuses an answer set that is incomplete or out of range instead
of guessing.

Sources:
- PHQ-9: Kroenke K, Spitzer RL, Williams JBW. "The PHQ-9: validity of a brief depression
  severity measure." J Gen Intern Med 2001;16(9):606-613. Nine items scored 0-3, total
  0-27; 5, 10, 15 and 20 mark mild, moderate, moderately severe and severe depression.
  Item 9 asks about thoughts of self-harm: any answer above 0 needs a same-day safety
  assessment whatever the total.
- GAD-7: Spitzer RL, Kroenke K, Williams JBW, Lowe B. "A brief measure for assessing
  generalized anxiety disorder: the GAD-7." Arch Intern Med 2006;166(10):1092-1097. Seven
  items scored 0-3, total 0-21; 5, 10 and 15 mark mild, moderate and severe anxiety.
- AUDIT-C: Bush K, Kivlahan DR, McDonell MB, et al. Arch Intern Med 1998;158(16):1789-1795,
  and Bradley KA, DeBenedetti AF, Volk RJ, et al. "AUDIT-C as a brief screen for alcohol
  misuse in primary care." Alcohol Clin Exp Res 2007;31(7):1208-1217. Three items scored
  0-4, total 0-12; a screen is positive at 4 or more for men and 3 or more for women.
  The cut-off depends on sex, so it is a parameter of scoring, not a fixed band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class MeasureError(ValueError):
    """An answer set that cannot be scored; the message says which item and why."""


@dataclass(frozen=True)
class Band:
    lowest_total: int
    label: str


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    items: Sequence[str]
    max_item_score: int
    bands: Sequence[Band]
    # Items whose answer above 0 raises a flag on its own (PHQ-9 item 9).
    flag_items: Mapping[str, str]

    @property
    def max_total(self) -> int:
        return len(self.items) * self.max_item_score


@dataclass(frozen=True)
class Score:
    instrument: str
    total: int
    band: str
    flags: tuple[str, ...]


PHQ9 = Instrument(
    code="phq9",
    name="PHQ-9",
    items=[
        "interest",
        "mood",
        "sleep",
        "energy",
        "appetite",
        "self_worth",
        "concentration",
        "psychomotor",
        "self_harm_thoughts",
    ],
    max_item_score=3,
    bands=[
        Band(0, "minimal"),
        Band(5, "mild"),
        Band(10, "moderate"),
        Band(15, "moderately severe"),
        Band(20, "severe"),
    ],
    flag_items={"self_harm_thoughts": "self-harm thoughts reported: assess safety today"},
)

GAD7 = Instrument(
    code="gad7",
    name="GAD-7",
    items=["nervous", "uncontrolled_worry", "worry_too_much", "trouble_relaxing", "restless", "irritable", "afraid"],
    max_item_score=3,
    bands=[Band(0, "minimal"), Band(5, "mild"), Band(10, "moderate"), Band(15, "severe")],
    flag_items={},
)

AUDIT_C = Instrument(
    code="audit_c",
    name="AUDIT-C",
    items=["frequency", "typical_quantity", "six_or_more"],
    max_item_score=4,
    # Positive/negative depends on sex: see audit_c_positive_threshold.
    bands=[Band(0, "negative")],
    flag_items={},
)

INSTRUMENTS = {instrument.code: instrument for instrument in (PHQ9, GAD7, AUDIT_C)}

# Bradley 2007: positive at >= 4 for men, >= 3 for women. Used for anyone else too
# (the lower, more sensitive cut-off), so no one is screened less carefully.
AUDIT_C_POSITIVE_AT = {"male": 4, "female": 3}
AUDIT_C_POSITIVE_AT_OTHERWISE = 3


def audit_c_positive_threshold(sex_assigned_at_birth: str | None) -> int:
    return AUDIT_C_POSITIVE_AT.get(sex_assigned_at_birth or "", AUDIT_C_POSITIVE_AT_OTHERWISE)


def _validated_total(instrument: Instrument, answers: Mapping[str, int]) -> int:
    unknown = sorted(set(answers) - set(instrument.items))
    if unknown:
        raise MeasureError(f"{instrument.name} has no item {', '.join(unknown)}.")
    missing = [item for item in instrument.items if item not in answers]
    if missing:
        raise MeasureError(f"{instrument.name} needs an answer for {', '.join(missing)}.")
    for item, value in answers.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= instrument.max_item_score:
            raise MeasureError(
                f"{instrument.name} item {item} must be a whole number from 0 to {instrument.max_item_score}."
            )
    return sum(answers.values())


def band_for(instrument: Instrument, total: int) -> str:
    label = instrument.bands[0].label
    for band in instrument.bands:
        if total >= band.lowest_total:
            label = band.label
    return label


def score(instrument: Instrument, answers: Mapping[str, int], *, sex_assigned_at_birth: str | None = None) -> Score:
    total = _validated_total(instrument, answers)
    flags = tuple(message for item, message in instrument.flag_items.items() if answers[item] > 0)
    if instrument is AUDIT_C:
        positive = total >= audit_c_positive_threshold(sex_assigned_at_birth)
        return Score(instrument.code, total, "positive" if positive else "negative", flags)
    return Score(instrument.code, total, band_for(instrument, total), flags)
