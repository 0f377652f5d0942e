"""Risk flags on a patient's controlled-prescription ledger (pure, no Django).

`ledger_flags(prescriptions, as_of=..., thresholds=...)` returns every flag the ledger raises
as of a date, sorted (most severe first, then rule code, then prescription ids), so a caller
can diff the flags before and after a ledger change; `Flag.key` names a flag across runs.

Dates (one convention for every rule):
- Supply period: from the fill date (the written date while unfilled) for `days_supply` days,
  half-open: [start, start + days_supply). A 30-day supply filled on 1 Jan lasts to 30 Jan;
  31 Jan, its `supply_end`, is the first day with none of it left, so a refill on 31 Jan
  neither overlaps it nor is early.
- As of a date: a prescription written after it is not known yet; one filled after it is
  read as unfilled (no pharmacy, supply from the written date).
- A window of N days ends on `as_of` and counts N calendar days, both ends included:
  [as_of - (N - 1), as_of]. Overlap and early-refill flags look back `lookback_days` this way
  (an overlap counts when any day of it falls in the window; an early refill when its fill
  does), so an event reviewed at the last 3-monthly review stops flagging.

Rules (sources: ../shared/reference/clinical.md; "clinic default" where it gives no figure):
- overlapping_benzodiazepine_supply (warning): two benzodiazepine (or z-drug) supplies from
  different prescribers overlap by at least `min_overlap_days`; one flag per pair.
- multiple_provider_episode (warning): the prescribers, pharmacies and prescriptions (by fill
  date, or written date while unfilled) in the chosen published definition's window reach all
  of its minimums (section 5.1); one flag.
- early_refill (warning): a fill of the same drug while more than
  `early_refill_remaining_fraction` of the previous supply of that drug is still on hand.
- benzodiazepine_opioid_overlap (high): a benzodiazepine (or z-drug) supply overlaps an
  opioid supply; one flag with every prescription involved and a naloxone prompt (section 5.2;
  2025 Joint Guideline Rec 16 and 17, section 2.1).
- high_total_daily_dze (warning): the benzodiazepines on hand on `as_of`, in diazepam
  equivalents, total over `high_total_dze_mg`. Ashton gives some equivalents as ranges; the
  total is then a range and the rule compares its HIGH end, so that a flag meant to warn of
  too much fires if any reading of the table puts the patient over (a taper, which must not
  overshoot the other way, takes the low end). The totals are compared as shown, to the
  hundredth of a mg (`DiazepamEquivalent.to_cents`), as patients.placement does.
- dze_not_convertible (warning): a benzodiazepine on hand that the equivalence table cannot
  convert; the total leaves it out and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import combinations, pairwise

from tapers.equivalence import (
    DEFAULT_TABLE,
    GUIDELINE_HIGH_DOSE_DZE_MG,
    TABLES,
    EquivalenceError,
    diazepam_per_mg,
    generic_name,
    total_diazepam_equivalent,
)


class RiskInputError(ValueError):
    """A prescription or threshold the rules cannot read; the message says which and why."""


class DrugClass(StrEnum):
    BENZODIAZEPINE = "benzodiazepine"
    Z_DRUG = "z-drug"
    OPIOID = "opioid"
    STIMULANT = "stimulant"
    OTHER = "other"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for info, up to 2 for high (the string values do not sort by severity)."""
        return list(Severity).index(self)


class RuleCode(StrEnum):
    OVERLAPPING_BENZODIAZEPINE_SUPPLY = "overlapping_benzodiazepine_supply"
    MULTIPLE_PROVIDER_EPISODE = "multiple_provider_episode"
    EARLY_REFILL = "early_refill"
    BENZODIAZEPINE_OPIOID_OVERLAP = "benzodiazepine_opioid_overlap"
    HIGH_TOTAL_DAILY_DZE = "high_total_daily_dze"
    DZE_NOT_CONVERTIBLE = "dze_not_convertible"


@dataclass(frozen=True)
class Prescription:
    id: str
    drug: str  # generic name; a brand the equivalence table knows is read as its generic
    drug_class: DrugClass
    daily_dose_mg: Decimal
    quantity: Decimal
    days_supply: int
    written_on: date
    prescriber_id: str
    filled_on: date | None = None
    pharmacy_id: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "drug_class", DrugClass(self.drug_class))
        except ValueError:
            raise RiskInputError(
                f"Prescription {self.id}: unknown drug class {self.drug_class!r}; "
                f"use one of {', '.join(c.value for c in DrugClass)}."
            ) from None
        problems = []
        if not self.id or not self.prescriber_id or not self.drug.strip():
            problems.append("it needs an id, a drug and a prescriber")
        if isinstance(self.days_supply, bool) or not isinstance(self.days_supply, int) or self.days_supply < 1:
            problems.append(f"days' supply must be a whole number of at least 1, not {self.days_supply!r}")
        if self.daily_dose_mg < 0 or self.quantity < 0:
            problems.append("the daily dose and the quantity cannot be negative")
        if self.filled_on is not None and self.filled_on < self.written_on:
            problems.append(f"it was filled ({self.filled_on}) before it was written ({self.written_on})")
        if problems:
            raise RiskInputError(f"Prescription {self.id or '(no id)'}: {'; '.join(problems)}.")

    @property
    def supply_start(self) -> date:
        return self.filled_on or self.written_on

    @property
    def supply_end(self) -> date:
        """The first day with none of this supply left (the period is half-open)."""
        return self.supply_start + timedelta(days=self.days_supply)


@dataclass(frozen=True)
class MultipleProviderDefinition:
    """A published multiple-provider episode ("doctor shopping") definition: every minimum
    that is set must be reached within `window_days`. None: not part of the definition."""

    name: str
    min_prescribers: int | None
    min_pharmacies: int | None
    min_prescriptions: int | None
    window_days: int
    source: str

    def __post_init__(self) -> None:
        minimums = (self.min_prescribers, self.min_pharmacies, self.min_prescriptions)
        if all(m is None for m in minimums) or any(m is not None and m < 1 for m in minimums):
            raise RiskInputError(f"Definition {self.name}: set at least one minimum, each at least 1.")
        if self.window_days < 1:
            raise RiskInputError(f"Definition {self.name}: the window must be at least 1 day.")

    def describe(self) -> str:
        parts = [
            f">= {minimum} {noun}"
            for minimum, noun in (
                (self.min_prescriptions, "prescriptions"),
                (self.min_prescribers, "prescribers"),
                (self.min_pharmacies, "pharmacies"),
            )
            if minimum is not None
        ]
        return f"{' and '.join(parts)} in {self.window_days} days"


# The published definitions of clinical.md section 5.1 ("there is no single standard").
# The studies counted opioid prescriptions; which classes count here is `Thresholds.multiple_provider_classes`.
DELCHER_5X5X90D = MultipleProviderDefinition(
    "delcher_5x5x90d", 5, 5, None, 90, "Delcher C et al., Drug Alcohol Depend 2021;221:108618 ('5x5x90d')"
)
# Katz counted per (fiscal) year; a rolling 365 days is the nearest rolling window.
KATZ_4X4X365D = MultipleProviderDefinition(
    "katz_4x4x365d", 4, 4, None, 365, "Katz N et al., Pharmacoepidemiol Drug Saf 2010;19(2):115-23 (annual)"
)
# "6 months" read as 180 days, the nearest whole-day window (the papers' day count was not retrieved).
SCHNEBERK_6X6X180D = MultipleProviderDefinition(
    "schneberk_6x6x180d", 6, None, 6, 180, "Schneberk T et al., PLOS ONE 2020 (California CURES; 6 months)"
)
MASSACHUSETTS_DPH_4X4X180D = MultipleProviderDefinition(
    "massachusetts_dph_4x4x180d",
    None,
    4,
    4,
    180,
    "Massachusetts DPH 2012 via the Boston Globe (6 months; secondary source)",
)
MULTIPLE_PROVIDER_DEFINITIONS: dict[str, MultipleProviderDefinition] = {
    d.name: d for d in (DELCHER_5X5X90D, KATZ_4X4X365D, SCHNEBERK_6X6X180D, MASSACHUSETTS_DPH_4X4X180D)
}

# Ashton lists the z-drugs with the benzodiazepines: "chemically different... same effects...
# same mechanisms" (clinical.md 1.1); the equivalence table converts both.
BENZODIAZEPINE_RECEPTOR_CLASSES = frozenset({DrugClass.BENZODIAZEPINE, DrugClass.Z_DRUG})
# The ledger holds controlled prescriptions; "other" is too mixed a class to count by default.
CONTROLLED_CLASSES = frozenset({DrugClass.BENZODIAZEPINE, DrugClass.Z_DRUG, DrugClass.OPIOID, DrugClass.STIMULANT})


@dataclass(frozen=True)
class Thresholds:
    # Clinic default: 3 months, the 2025 Joint Guideline's Rec 1 and Rec 16 review interval
    # ("at least every 3 months"); an older overlap or early refill was seen at the last review.
    lookback_days: int = 90
    # Classes read as "benzodiazepine" by the overlap, benzo + opioid and total-dose rules (see above).
    sedative_classes: frozenset[DrugClass] = BENZODIAZEPINE_RECEPTOR_CLASSES
    # Clinic default: any shared day. clinical.md gives no minimum; a one-day overlap from a
    # refill on the last day of the old supply is excluded by the half-open supply period.
    min_overlap_days: int = 1
    # clinical.md 5.1 recommendation: "Default to 5/5/90 d (Delcher) and offer 4/4/365 (Katz)".
    multiple_provider: MultipleProviderDefinition = DELCHER_5X5X90D
    # Clinic default: the published definitions counted opioids only; a benzodiazepine clinic
    # cares about shopping for any controlled drug. {OPIOID} reproduces the papers.
    multiple_provider_classes: frozenset[DrugClass] = CONTROLLED_CLASSES
    # Clinic default (clinical.md has no early-refill definition): early when more than a
    # quarter of the previous supply is left, i.e. before 75% of it is used.
    early_refill_remaining_fraction: Decimal = Decimal("0.25")
    early_refill_classes: frozenset[DrugClass] = CONTROLLED_CLASSES
    # Any concurrent supply: the FDA boxed warning (31 Aug 2016) and CDC 2022 Rec 11 name no
    # minimum, and the 2025 guideline's Rec 17 offers naloxone to "all patients co-prescribed".
    opioid_overlap_min_days: int = 1
    # 2025 Joint Guideline Table 2: a "high" dose is > 15 mg diazepam-equivalent a day (clinical.md 2.1).
    high_total_dze_mg: Decimal = GUIDELINE_HIGH_DOSE_DZE_MG
    equivalence_table: str = DEFAULT_TABLE

    def __post_init__(self) -> None:
        if min(self.lookback_days, self.min_overlap_days, self.opioid_overlap_min_days) < 1:
            raise RiskInputError("The lookback and the minimum overlaps must each be at least 1 day.")
        if not Decimal(0) <= self.early_refill_remaining_fraction < 1:
            raise RiskInputError("The early-refill fraction must be from 0 up to (not including) 1.")
        if self.high_total_dze_mg < 0:
            raise RiskInputError("The total diazepam-equivalent threshold cannot be negative.")
        if self.equivalence_table not in TABLES:
            raise RiskInputError(f"Unknown equivalence table {self.equivalence_table!r}.")


@dataclass(frozen=True)
class Flag:
    code: RuleCode
    severity: Severity
    message: str
    prescription_ids: tuple[str, ...]  # sorted
    source: str
    naloxone_prompt: str | None = None

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """The same concern raised by the same prescriptions, whatever its wording."""
        return (self.code.value, self.prescription_ids)


NALOXONE_PROMPT = (
    "Offer or prescribe naloxone, and reassess the co-prescription at least every 3 months or at every "
    "renewal, whichever is sooner (2025 Joint Guideline Rec 17 and 16)."
)
# FDA Drug Safety Communication, 20 Sep 2017; 2025 Joint Guideline Rec 21 (clinical.md 5.2, 2.1).
_MOUD = ("buprenorphine", "methadone")
_MOUD_NOTE = (
    " Do not withhold or disrupt buprenorphine or methadone because of the benzodiazepine "
    "(FDA, 20 Sep 2017; 2025 Joint Guideline Rec 21)."
)


def ledger_flags(
    prescriptions: Iterable[Prescription], *, as_of: date, thresholds: Thresholds | None = None
) -> list[Flag]:
    """Every flag the ledger raises as of `as_of`, sorted; [] for an empty ledger."""
    t = thresholds or Thresholds()
    known = _known_as_of(prescriptions, as_of)
    first_day = _window_start(as_of, t.lookback_days)
    # Everything known starts on or before as_of; keep what was still on hand in the lookback window.
    # Two of these that overlap at all overlap on a day in the window: both last past its first day.
    recent = sorted((rx for rx in known if rx.supply_end > first_day), key=_chronological)
    flags = [
        *_overlapping_sedatives(recent, t),
        *_multiple_providers(known, t, as_of),
        *_early_refills(recent, t, first_day),
        *_benzodiazepine_with_opioid(recent, t),
        *_total_daily_dze(recent, t, as_of),
    ]
    return sorted(flags, key=lambda f: (-f.severity.rank, f.code.value, f.prescription_ids, f.message))


def _known_as_of(prescriptions: Iterable[Prescription], as_of: date) -> list[Prescription]:
    seen: set[str] = set()
    known = []
    for rx in prescriptions:
        if rx.id in seen:
            raise RiskInputError(f"Prescription id {rx.id} appears twice in the ledger.")
        seen.add(rx.id)
        if rx.written_on > as_of:
            continue
        if rx.filled_on is not None and rx.filled_on > as_of:
            rx = dataclasses.replace(rx, filled_on=None, pharmacy_id=None)
        known.append(rx)
    return known


def _window_start(as_of: date, days: int) -> date:
    return as_of - timedelta(days=days - 1)


def _chronological(rx: Prescription) -> tuple[date, str]:
    return (rx.supply_start, rx.id)


def _ids(rxs: Iterable[Prescription]) -> tuple[str, ...]:
    return tuple(sorted({rx.id for rx in rxs}))


def _generic(drug: str) -> str:
    try:
        return generic_name(drug)
    except EquivalenceError:
        return drug.strip().lower()


def _supply(rx: Prescription) -> str:
    last_day = rx.supply_end - timedelta(days=1)
    return f"{_generic(rx.drug)} from prescriber {rx.prescriber_id}, supply {rx.supply_start} to {last_day}"


def _shared_days(a: Prescription, b: Prescription) -> tuple[date, date]:
    """The overlap of two supplies as [start, end); empty when start >= end."""
    return max(a.supply_start, b.supply_start), min(a.supply_end, b.supply_end)


def _overlapping_sedatives(recent: Sequence[Prescription], t: Thresholds) -> list[Flag]:
    sedatives = [rx for rx in recent if rx.drug_class in t.sedative_classes]
    flags = []
    for a, b in combinations(sedatives, 2):
        start, end = _shared_days(a, b)
        days = (end - start).days
        if a.prescriber_id == b.prescriber_id or days < t.min_overlap_days:
            continue
        flags.append(
            Flag(
                RuleCode.OVERLAPPING_BENZODIAZEPINE_SUPPLY,
                Severity.WARNING,
                f"Overlapping benzodiazepine supply from different prescribers: {_supply(a)}, and {_supply(b)}; "
                f"{days} day(s) in common from {start}. Check the PDMP and agree one prescriber of record "
                "(a letter to the other prescriber needs the patient's Part 2 consent).",
                _ids((a, b)),
                f"clinic default: overlap of at least {t.min_overlap_days} day(s); PDMP review, "
                "2025 Joint Guideline Rec 1b",
            )
        )
    return flags


def _multiple_providers(known: Sequence[Prescription], t: Thresholds, as_of: date) -> list[Flag]:
    d = t.multiple_provider
    first_day = _window_start(as_of, d.window_days)
    counted = [rx for rx in known if rx.drug_class in t.multiple_provider_classes and rx.supply_start >= first_day]
    prescribers = len({rx.prescriber_id for rx in counted})
    pharmacies = len({rx.pharmacy_id for rx in counted if rx.pharmacy_id is not None})
    reached = [
        (minimum is None or count >= minimum)
        for minimum, count in (
            (d.min_prescribers, prescribers),
            (d.min_pharmacies, pharmacies),
            (d.min_prescriptions, len(counted)),
        )
    ]
    if not all(reached):
        return []
    return [
        Flag(
            RuleCode.MULTIPLE_PROVIDER_EPISODE,
            Severity.WARNING,
            f"Multiple-provider episode: {len(counted)} controlled prescription(s) from {prescribers} prescriber(s) "
            f"at {pharmacies} pharmacy(ies) from {first_day} to {as_of} meet the {d.name} definition "
            f"({d.describe()}). Review the PDMP and the ledger with the patient before the next prescription.",
            _ids(counted),
            d.source,
        )
    ]


def _early_refills(recent: Sequence[Prescription], t: Thresholds, first_day: date) -> list[Flag]:
    by_drug: dict[str, list[Prescription]] = {}
    for rx in recent:  # chronological, so each list is too
        if rx.drug_class in t.early_refill_classes:
            by_drug.setdefault(_generic(rx.drug), []).append(rx)
    flags = []
    for drug, fills in by_drug.items():
        for previous, refill in pairwise(fills):
            left = (previous.supply_end - refill.supply_start).days
            if refill.supply_start < first_day or left <= t.early_refill_remaining_fraction * previous.days_supply:
                continue
            share = (Decimal(100 * left) / previous.days_supply).quantize(Decimal(1), ROUND_HALF_UP)
            how = "filled" if refill.filled_on is not None else "written (not filled)"
            flags.append(
                Flag(
                    RuleCode.EARLY_REFILL,
                    Severity.WARNING,
                    f"Early refill of {drug}: {how} on {refill.supply_start} with {left} of {previous.days_supply} "
                    f"days ({share}%) of the previous supply still on hand ({_supply(previous)}); more than "
                    f"{_percent(t.early_refill_remaining_fraction)} left counts as early. Ask about a dose change, "
                    "a lost or stolen supply, or taking more than prescribed.",
                    _ids((previous, refill)),
                    "clinic default (clinical.md gives no early-refill definition)",
                )
            )
    return flags


def _benzodiazepine_with_opioid(recent: Sequence[Prescription], t: Thresholds) -> list[Flag]:
    sedatives = [rx for rx in recent if rx.drug_class in t.sedative_classes]
    opioids = [rx for rx in recent if rx.drug_class == DrugClass.OPIOID]
    involved: list[Prescription] = []
    spans: list[tuple[date, date]] = []
    for sedative in sedatives:
        for opioid in opioids:
            start, end = _shared_days(sedative, opioid)
            if (end - start).days >= t.opioid_overlap_min_days:
                involved += (sedative, opioid)
                spans.append((start, end))
    if not involved:
        return []
    sedative_names = sorted({_generic(rx.drug) for rx in involved if rx.drug_class != DrugClass.OPIOID})
    opioid_names = sorted({_generic(rx.drug) for rx in involved if rx.drug_class == DrugClass.OPIOID})
    on_moud = any(name in drug for drug in opioid_names for name in _MOUD)
    first = min(start for start, _ in spans)
    last = max(end for _, end in spans) - timedelta(days=1)
    return [
        Flag(
            RuleCode.BENZODIAZEPINE_OPIOID_OVERLAP,
            Severity.HIGH,
            f"Benzodiazepine and opioid supplies overlap between {first} and {last} "
            f"({', '.join(sedative_names)} with {', '.join(opioid_names)}): risk of respiratory depression, "
            "coma and death (FDA boxed warning). Use particular caution; coordinate with the opioid prescriber."
            + (_MOUD_NOTE if on_moud else ""),
            _ids(involved),
            "FDA Drug Safety Communication 31 Aug 2016; CDC 2022 Rec 11; 2025 Joint Guideline Rec 16 and 17",
            naloxone_prompt=NALOXONE_PROMPT,
        )
    ]


def _total_daily_dze(recent: Sequence[Prescription], t: Thresholds, as_of: date) -> list[Flag]:
    # Everything in `recent` starts on or before as_of (see _known_as_of).
    on_hand = [rx for rx in recent if rx.drug_class in t.sedative_classes and as_of < rx.supply_end]
    # A later prescription of the same drug from the same prescriber replaces the earlier one (a
    # refill or a dose change: the patient is not taking both). The same drug from two prescribers
    # is summed: taking both is the doctor-shopping risk.
    current: dict[tuple[str, str], Prescription] = {}
    for rx in on_hand:  # chronological
        current[(_generic(rx.drug), rx.prescriber_id)] = rx
    flags = []
    counted = []
    for rx in sorted(current.values(), key=_chronological):
        try:
            diazepam_per_mg(rx.drug, table=t.equivalence_table)  # the check, and message, of the total
        except EquivalenceError as error:
            flags.append(
                Flag(
                    RuleCode.DZE_NOT_CONVERTIBLE,
                    Severity.WARNING,
                    f"{error} The total daily diazepam-equivalent leaves out {_supply(rx)}: work it out by hand.",
                    (rx.id,),
                    f"tapers.equivalence, {t.equivalence_table} table (clinical.md 1)",
                )
            )
            continue
        counted.append(rx)
    total = total_diazepam_equivalent(
        ((rx.drug, rx.daily_dose_mg) for rx in counted), table=t.equivalence_table
    ).to_cents()
    low, high = total.low_mg, total.high_mg
    if high > t.high_total_dze_mg:
        shown = _mg(high) if low == high else f"{_mg(low)}-{_mg(high)}"
        flags.append(
            Flag(
                RuleCode.HIGH_TOTAL_DAILY_DZE,
                Severity.WARNING,
                f"Benzodiazepines on hand on {as_of} total {shown} mg diazepam-equivalent a day "
                f"({t.equivalence_table} table), over the {_mg(t.high_total_dze_mg)} mg high-dose threshold. "
                "Withdrawal risk is higher at this dose; plan a gradual taper.",
                _ids(counted),
                "default threshold: 2025 Joint Guideline Table 2 "
                f"(high: > {_mg(GUIDELINE_HIGH_DOSE_DZE_MG)} mg diazepam-equivalent a day)",
            )
        )
    return flags


def _mg(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _percent(fraction: Decimal) -> str:
    return f"{_mg(fraction * 100)}%"
