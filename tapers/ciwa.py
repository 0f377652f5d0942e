"""CIWA-B withdrawal scoring and the hold-the-next-taper-step decision (pure, no Django).

CIWA-B: Busto UE, Sykora K, Sellers EM, "A clinical scale to assess benzodiazepine withdrawal",
J Clin Psychopharmacol 1989;9(6):412-416: 20 items, each scored 0-4 (0 none, 1 mild,
2 moderate, 3 severe, 4 very severe), total 0-80. The item wording and the severity bands
(0 no signs of withdrawal; 1-20 mild; 21-40 moderate; 41-60 severe; 61-80 very severe) come
from a hospital EMR form that cites the paper (../shared/reference/clinical.md section 3):
the bands could not be read in the paper itself. Not CIWA-Ar (alcohol: 10 items, max 67).

The module takes item scores, not the patient's raw answers: for the two sleep items (12, 14)
the form shows anchors on which a higher score means worse sleep (the reference does not give
those anchors).

Hold decision, sources (clinical.md 2.1 unless marked):
- 2025 Joint Guideline Rec 9 (evaluate for withdrawal with each dose reduction) and Rec 11
  ("first consider pausing or slowing the pace of the BZD taper" on symptoms): a score at or
  over the plan's band holds the next step. The guideline names no score; the default band,
  moderate, is the clinic's (issue 6 item 8).
- Rec 5 (consider inpatient care "with severe or complicated withdrawal"): severe or worse
  prompts the team to consider a higher level of care.
- Blood pressure and pulse limits: clinic defaults; clinical.md gives none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_ITEM_SCORE = 4


class CiwaError(ValueError):
    """Refused input. `fields` maps each offending item key (or "total", "systolic", ...) to its
    problem, for the API's `extra.fields`."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


@dataclass(frozen=True)
class Item:
    number: int
    key: str
    label: str
    observed: bool  # True: observed by the clinician; False: rated by the patient


ITEMS: tuple[Item, ...] = tuple(
    Item(number, key, label, observed=number >= 18)
    for number, (key, label) in enumerate(
        [
            ("irritable", "irritable"),
            ("fatigued", "fatigued"),
            ("tense", "tense"),
            ("difficulty_concentrating", "difficulty concentrating"),
            ("loss_of_appetite", "loss of appetite"),
            ("numbness_or_burning", "numbness or burning in face, hands or feet"),
            ("heart_racing", "heart racing (palpitations)"),
            ("head_full_or_achy", "head full or achy"),
            ("muscle_aches_or_stiffness", "muscle aches or stiffness"),
            ("anxious_nervous_jittery", "anxious, nervous or jittery"),
            ("upset", "upset"),
            ("restful_sleep", "how restful was sleep last night"),
            ("weak", "weak"),
            ("enough_sleep", "enough sleep last night"),
            ("visual_disturbances", "visual disturbances (sensitivity to light, blurred vision)"),
            ("fearful", "fearful"),
            ("worrying_about_misfortunes", "worrying about possible misfortunes"),
            ("restlessness_agitation", "restlessness and agitation"),
            ("tremor", "tremor (arms extended, fingers apart)"),
            ("sweating", "sweating (feel palms)"),
        ],
        start=1,
    )
)
_BY_KEY = {item.key: item for item in ITEMS}
MAX_TOTAL = MAX_ITEM_SCORE * len(ITEMS)


class Band(StrEnum):
    """Severity band. The string values do not sort by severity: compare `rank`."""

    NONE = "none"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    VERY_SEVERE = "very_severe"

    @property
    def rank(self) -> int:
        return list(Band).index(self)

    @property
    def label(self) -> str:
        return "no signs of withdrawal" if self is Band.NONE else self.value.replace("_", " ")


# (band, lowest total, highest total), clinical.md section 3.
BANDS: tuple[tuple[Band, int, int], ...] = (
    (Band.NONE, 0, 0),
    (Band.MILD, 1, 20),
    (Band.MODERATE, 21, 40),
    (Band.SEVERE, 41, 60),
    (Band.VERY_SEVERE, 61, 80),
)


@dataclass(frozen=True)
class Score:
    total: int
    band: Band
    items: tuple[int, ...]  # in item order


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(item: Item) -> str:
    return f"item {item.number} ({item.label})"


def score(values: Mapping[str, int] | Sequence[int]) -> Score:
    """Total and band of a CIWA-B: item key -> score, or the 20 scores in item order.

    CiwaError, naming every item at fault, for an unknown or missing item or a score that is
    not a whole number from 0 to 4.
    """
    problems: dict[str, str] = {}
    by_item: dict[Item, int | None]
    if isinstance(values, Mapping):
        for key in sorted(set(values) - set(_BY_KEY), key=str):
            problems[str(key)] = f"{key!r} is not a CIWA-B item"
        by_item = {item: values.get(item.key) for item in ITEMS}
    elif isinstance(values, str | bytes):
        raise CiwaError("CIWA-B takes the 20 item scores as numbers, not as text.")
    else:
        for extra in range(len(ITEMS), len(values)):
            problems[f"value {extra + 1}"] = f"value {extra + 1} has no item (CIWA-B has {len(ITEMS)})"
        by_item = {item: values[i] if i < len(values) else None for i, item in enumerate(ITEMS)}
    items: list[int] = []
    for item, value in by_item.items():
        if value is None:
            problems[item.key] = f"{_name(item)} is missing"
        elif not _is_whole(value) or not 0 <= value <= MAX_ITEM_SCORE:
            problems[item.key] = f"{_name(item)} must be a whole number from 0 to {MAX_ITEM_SCORE}, not {value!r}"
        else:
            items.append(int(value))
    if problems:
        raise CiwaError("CIWA-B not scored: " + "; ".join(problems.values()) + ".", problems)
    total = sum(items)
    return Score(total, band_of(total), tuple(items))


def band_of(total: int) -> Band:
    """The band of a total from 0 to 80; 0 is Band.NONE ("no signs of withdrawal")."""
    if not _is_whole(total) or not 0 <= total <= MAX_TOTAL:
        message = f"A CIWA-B total is a whole number from 0 to {MAX_TOTAL}, not {total!r}."
        raise CiwaError(message, {"total": message})
    return next(band for band, low, high in BANDS if low <= total <= high)


@dataclass(frozen=True)
class HoldThresholds:
    # The plan's hold band: at or over it holds the next step. Clinic default (issue 6 item 8),
    # applying 2025 Joint Guideline Rec 11, which names no score.
    hold_band: Band = Band.MODERATE
    # 2025 Joint Guideline Rec 5: severe withdrawal -> consider inpatient care.
    escalate_band: Band = Band.SEVERE
    # Clinic defaults (clinical.md gives no blood-pressure or pulse limit): over any of them
    # holds the next step. 100 a minute is the conventional adult tachycardia cut-off. Review
    # with the medical director.
    max_systolic: int = 160
    max_diastolic: int = 100
    max_pulse: int = 100

    def __post_init__(self) -> None:
        if self.hold_band is Band.NONE or self.escalate_band is Band.NONE:
            raise CiwaError("The hold and higher-level-of-care bands must be mild or above.")
        if self.hold_band.rank > self.escalate_band.rank:
            # A plan cannot take its next step while the team is considering a higher level of care.
            raise CiwaError("The hold band cannot be above the higher-level-of-care band.")


@dataclass(frozen=True)
class HoldDecision:
    hold: bool
    consider_higher_level_of_care: bool
    band: Band
    reasons: tuple[str, ...]  # empty when the next step may go ahead


def hold_decision(
    total_or_band: int | Band,
    *,
    systolic: int | None,
    diastolic: int | None,
    pulse: int | None,
    thresholds: HoldThresholds | None = None,
) -> HoldDecision:
    """Whether the next taper step must be held and whether to prompt the team to consider a
    higher level of care, with the reasons. A vital sign given as None was not taken: it is not
    checked (the caller decides whether a check without vitals is acceptable)."""
    t = thresholds or HoldThresholds()
    if isinstance(total_or_band, Band):
        band, shown = total_or_band, f"CIWA-B {total_or_band.label}"
    else:
        band = band_of(total_or_band)
        shown = f"CIWA-B {total_or_band} ({band.label})"
    _check_vitals(systolic=systolic, diastolic=diastolic, pulse=pulse)

    reasons = []
    escalate = band.rank >= t.escalate_band.rank
    if band.rank >= t.hold_band.rank:
        reasons.append(
            f"{shown} is at or over the plan's hold threshold ({t.hold_band.label}): hold the next taper step "
            "and tell the care team (2025 Joint Guideline Rec 11: pause or slow the taper)."
        )
    if (systolic is not None and systolic > t.max_systolic) or (diastolic is not None and diastolic > t.max_diastolic):
        reading = f"{_or_dash(systolic)}/{_or_dash(diastolic)}"
        reasons.append(
            f"Blood pressure {reading} is over {t.max_systolic}/{t.max_diastolic} (clinic default): hold the next "
            "taper step and recheck."
        )
    if pulse is not None and pulse > t.max_pulse:
        reasons.append(f"Pulse {pulse} a minute is over {t.max_pulse} (clinic default): hold the next taper step.")
    hold = bool(reasons)
    if escalate:
        reasons.append(
            f"{shown} is {t.escalate_band.label} or worse: consider a higher level of care (2025 Joint "
            "Guideline Rec 5: inpatient care for severe or complicated withdrawal)."
        )
    return HoldDecision(hold=hold, consider_higher_level_of_care=escalate, band=band, reasons=tuple(reasons))


def _check_vitals(*, systolic: int | None, diastolic: int | None, pulse: int | None) -> None:
    problems = {
        name: f"{name} must be a positive whole number, not {value!r}"
        for name, value in (("systolic", systolic), ("diastolic", diastolic), ("pulse", pulse))
        if value is not None and (not _is_whole(value) or value <= 0)
    }
    if not problems and systolic is not None and diastolic is not None and systolic <= diastolic:
        problems["diastolic"] = f"diastolic {diastolic} must be below systolic {systolic}"
    if problems:
        raise CiwaError("Vital signs not read: " + "; ".join(problems.values()) + ".", problems)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)
