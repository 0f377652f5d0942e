"""Proposing a level of care from an intake (pure, no Django). The software proposes; a
clinician confirms or overrides with a reason.

Each rule is data: an id, the level it asks for at least, the reason shown to the
clinician, and its source. The proposal is the most intensive level any matching rule
asks for (outpatient when none match), with every matching rule's reason. Thresholds are
parameters (`Thresholds`) so a clinic can set its own; the defaults cite their source.

Sources:
- 2025 Joint Clinical Practice Guideline on Benzodiazepine Tapering (ASAM et al.),
  ../shared/reference/clinical.md section 2.1: Table 2 (risk of clinically significant
  withdrawal by duration, frequency and dose: low <= 10, moderate 10-15, high > 15 mg
  diazepam-equivalent a day), Table 3 (seizures and delirium with abrupt cessation of high
  doses), Rec 5 (consider inpatient care for severe or complicated withdrawal, or
  co-occurring conditions that cannot be managed as an outpatient).
- Columbia Suicide Severity Rating Scale (C-SSRS) screener triage (Columbia Lighthouse
  Project): "yes" to question 4 (intent), 5 (plan with intent) or 6 (suicidal behaviour in
  the past 3 months) is high risk and needs an immediate safety evaluation.
- Rules marked "clinic default" have no published threshold; they encode common practice
  and are the first a clinic should review.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tapers.equivalence import GUIDELINE_HIGH_DOSE_DZE_MG, GUIDELINE_LOW_DOSE_DZE_MG, total_diazepam_equivalent

# Most intensive first, as LevelOfCare.sort_order orders them.
LEVEL_ORDER = ["wm", "residential", "php", "iop", "outpatient"]


@dataclass(frozen=True)
class BenzodiazepineUse:
    drug: str
    daily_dose_mg: Decimal
    months_of_use: int
    days_per_week: int = 7


@dataclass(frozen=True)
class Intake:
    benzodiazepines: Sequence[BenzodiazepineUse] = ()
    alcohol_most_days: bool = False  # daily or most days (4+ a week) in the past month
    opioid_prescribed: bool = False  # in the past month
    opioid_illicit: bool = False  # heroin, pressed pills, fentanyl; in the past month
    prior_withdrawal_seizure: bool = False
    prior_withdrawal_delirium: bool = False
    pregnant: bool = False
    unstable_home: bool = False
    no_support: bool = False
    # C-SSRS screener answers, question number -> yes/no (6 is "in the past 3 months").
    cssrs: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    high_dose_dze_mg: Decimal = GUIDELINE_HIGH_DOSE_DZE_MG  # 2025 guideline Table 2: high is > 15 mg DZE
    low_dose_dze_mg: Decimal = GUIDELINE_LOW_DOSE_DZE_MG  # Table 2: low is <= 10 mg DZE
    long_use_months: int = 3  # Table 2: >= 3 months at >= 4 days a week: withdrawal risk "yes"
    frequent_days_per_week: int = 4


@dataclass(frozen=True)
class Facts:
    """What the rules look at, derived once from the intake. Duration and frequency are
    read per drug (Table 2 asks about one pattern of use, not the longest duration of one
    drug combined with the frequency of another); the dose is the total of all of them."""

    intake: Intake
    total_dze_low_mg: Decimal
    total_dze_high_mg: Decimal
    # The longest use among the drugs taken frequently; None when none is.
    frequent_months: int | None

    @property
    def frequent_use(self) -> bool:
        return self.frequent_months is not None

    @property
    def any_benzodiazepine(self) -> bool:
        return bool(self.intake.benzodiazepines)


@dataclass(frozen=True)
class Rule:
    id: str
    at_least: str
    reason: str
    source: str
    applies: Callable[[Facts, Thresholds], bool]


@dataclass(frozen=True)
class Proposal:
    level: str
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]
    total_daily_dze_mg: tuple[Decimal, Decimal]


def _withdrawal_risk(f: Facts, t: Thresholds) -> bool:
    # Table 2: >= 3 months, >= 4 days a week, any dose; or 1-3 months at a moderate-high dose.
    if f.frequent_months is None:
        return False
    return f.frequent_months >= t.long_use_months or (
        f.frequent_months >= 1 and f.total_dze_high_mg > t.low_dose_dze_mg
    )


def _high_dose_long_use(f: Facts, t: Thresholds) -> bool:
    return (
        f.frequent_months is not None
        and f.frequent_months >= t.long_use_months
        and f.total_dze_high_mg > t.high_dose_dze_mg
    )


RULES: list[Rule] = [
    Rule(
        "cssrs_high_risk",
        "residential",
        "High suicide risk on the C-SSRS screener (intent, plan or recent behaviour): same-day safety evaluation.",
        "C-SSRS screener triage, Columbia Lighthouse Project",
        lambda f, t: any(f.intake.cssrs.get(q, False) for q in (4, 5, 6)),
    ),
    Rule(
        "complicated_withdrawal_history",
        "wm",
        "Past withdrawal seizure or delirium: medically monitored withdrawal management.",
        "2025 benzodiazepine tapering guideline, Rec 5 and Table 3",
        lambda f, t: f.intake.prior_withdrawal_seizure or f.intake.prior_withdrawal_delirium,
    ),
    Rule(
        "high_dose_long_use",
        "php",
        "High daily dose (over the high-dose threshold in diazepam equivalents) taken for months.",
        "2025 benzodiazepine tapering guideline, Table 2",
        _high_dose_long_use,
    ),
    Rule(
        "withdrawal_risk",
        "iop",
        "Clinically significant withdrawal is likely (duration, frequency and dose).",
        "2025 benzodiazepine tapering guideline, Table 2",
        _withdrawal_risk,
    ),
    Rule(
        "opioid_or_alcohol_co_use",
        "php",
        "Alcohol on most days, or illicit opioids (fentanyl included), alongside benzodiazepines: "
        "overdose and complicated-withdrawal risk.",
        "2025 guideline Rec 5 (co-occurring conditions); clinic default for the level",
        lambda f, t: f.any_benzodiazepine and (f.intake.alcohol_most_days or f.intake.opioid_illicit),
    ),
    Rule(
        # Raises no level on its own; the reason puts naloxone in front of the clinician.
        "prescribed_opioid_co_use",
        "outpatient",
        "Prescribed opioid with a benzodiazepine: offer naloxone and reassess at least every 3 months.",
        "2025 benzodiazepine tapering guideline, Rec 16 and 17; FDA boxed warning (31 Aug 2016)",
        lambda f, t: f.any_benzodiazepine and f.intake.opioid_prescribed,
    ),
    Rule(
        "unstable_home_with_risk",
        "php",
        "Unstable home or no support while withdrawal is likely: more structure during the day.",
        "clinic default",
        lambda f, t: (f.intake.unstable_home or f.intake.no_support) and _withdrawal_risk(f, t),
    ),
    Rule(
        "pregnancy",
        "iop",
        "Pregnancy: taper only with obstetric coordination and close follow-up.",
        "clinic default (2025 guideline societies include ACOG)",
        lambda f, t: f.intake.pregnant,
    ),
]


def facts_of(intake: Intake, thresholds: Thresholds) -> Facts:
    # Totals are compared as shown to the clinician (to the hundredth of a mg), so the rule that
    # fired and the figure on the screen always agree.
    total = total_diazepam_equivalent((use.drug, use.daily_dose_mg) for use in intake.benzodiazepines).to_cents()
    frequent = [u.months_of_use for u in intake.benzodiazepines if u.days_per_week >= thresholds.frequent_days_per_week]
    return Facts(intake, total.low_mg, total.high_mg, max(frequent, default=None))


def propose(intake: Intake, *, thresholds: Thresholds | None = None, rules: Sequence[Rule] = RULES) -> Proposal:
    t = thresholds or Thresholds()
    facts = facts_of(intake, t)
    matched = [rule for rule in rules if rule.applies(facts, t)]
    level = min((rule.at_least for rule in matched), key=LEVEL_ORDER.index, default="outpatient")
    return Proposal(
        level=level,
        reasons=tuple(rule.reason for rule in matched),
        rule_ids=tuple(rule.id for rule in matched),
        total_daily_dze_mg=(facts.total_dze_low_mg, facts.total_dze_high_mg),
    )
