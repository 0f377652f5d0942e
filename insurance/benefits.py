"""What a parsed 271 says about one level of care (PHP, IOP, outpatient), and what a patient may owe.

Pure (STYLE.md): `insurance.x12.model.Benefit` lines in, plain dataclasses out; no settings and no
models. The insurance service passes the level → service type mapping it reads from its setting.

A 271 answers per service type (EB03), not per level of care, and a payer may answer the same
question several times: per network, per coverage level, per plan-wide or specific service type.
`level_benefits` picks, for each figure, the one line that applies best and says which it used
(`sources`), so the people reading the summary can check it against the payer's own words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from insurance.x12.model import Benefit

PLAN_LEVEL = "30"

# EB03 service type codes for each level of care, most specific first (code meanings: clinical.md 7.1).
# PHP and IOP are programmes a facility runs, so the facility-outpatient codes lead: CJ (substance
# abuse facility, outpatient) is our own, CH (mental health facility, outpatient) is where payers
# that file addiction programmes under behavioural health answer. Then the condition-wide codes a
# 270 asks about (AI substance abuse; AK drug addiction before AJ alcoholism because our patients
# come for benzodiazepines; MH mental health), A8 psychiatric outpatient, and last 30, the plan-wide
# answer every 271 gives. Outpatient sessions are billed by a clinician, so CF (mental health
# provider, outpatient) and A6 (psychotherapy) lead and 98 (office visit) catches plans that only
# answer for office visits. Inpatient and room-and-board codes (A5, A7, CE, CG, CI) never describe
# a day programme, and A4 (psychiatric) does not say inpatient or outpatient, so none is used.
DEFAULT_LEVEL_SERVICE_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "php": ("CJ", "CH", "AI", "AK", "AJ", "MH", "A8", PLAN_LEVEL),
        "iop": ("CJ", "CH", "AI", "AK", "AJ", "MH", "A8", PLAN_LEVEL),
        "outpatient": ("CF", "A6", "A8", "AI", "AK", "AJ", "MH", "98", PLAN_LEVEL),
    }
)

# EB01 codes (clinical.md 7.2).
ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})
COINSURANCE, COPAY, DEDUCTIBLE, LIMITATION, OUT_OF_POCKET, NON_COVERED = "A", "B", "C", "F", "G", "I"
# Lines that say the level is paid for, against which a non-covered (I) line is weighed.
_COVERAGE_EVIDENCE = ACTIVE_CODES | {COINSURANCE, COPAY, DEDUCTIBLE, LIMITATION, OUT_OF_POCKET, "H"}

# EB06 time periods (clinical.md 7.4). "Remaining" is 29 (and 33 lifetime remaining); 24 (year to
# date) is what has been met so far; a total is for a year, service year, contract, episode or a
# lifetime, or has no period at all. Other periods (visit, day, exceeded...) are not amounts to
# add up and are left out of deductibles, out-of-pocket and visit limits.
_REMAINING_PERIODS = frozenset({"29", "33"})
_MET_PERIODS = frozenset({"24"})
_TOTAL_PERIODS = frozenset({"", "21", "22", "23", "25", "26", "32"})
_COPAY_PERIODS = {"27": "visit", "7": "day"}
# EB09 quantity qualifiers for a limit counted in visits or days.
_VISIT_UNITS = {"VS": "visits", "DY": "days"}

CENT = Decimal("0.01")


@dataclass(frozen=True)
class BenefitSource:
    """One 271 line a figure came from, for the UI to show why."""

    field: str  # the LevelBenefits field, e.g. "copay", "deductible_remaining"
    index: int  # position of the line in the benefits given (0-based)
    code: str  # its EB01, e.g. "B"
    service_type: str  # the EB03 code that matched the level; "30" for a line with no EB03


@dataclass(frozen=True)
class LevelBenefits:
    """A 271's answer for one level of care. None means the payer did not say."""

    level: str
    active: bool | None = None  # EB01 1-5 (True) or 6-8 (False) for the level, else plan-wide
    matched_service_type: str = ""  # the most specific EB03 code any figure came from
    copay: Decimal | None = None  # EB01 B, EB07
    copay_period: str = ""  # "visit" (EB06 27), "day" (EB06 7), another EB06 code as sent, or ""
    coinsurance: Decimal | None = None  # EB01 A, EB08 as a fraction (0.2 is 20 %)
    deductible: Decimal | None = None  # EB01 C for the year, service year, contract...
    deductible_remaining: Decimal | None = None  # EB01 C with EB06 29 (or the total less EB06 24)
    family_deductible: Decimal | None = None  # the same two for EB02 FAM
    family_deductible_remaining: Decimal | None = None
    out_of_pocket: Decimal | None = None  # EB01 G, as the deductible
    out_of_pocket_remaining: Decimal | None = None
    family_out_of_pocket: Decimal | None = None
    family_out_of_pocket_remaining: Decimal | None = None
    visit_limit: Decimal | None = None  # EB01 F with EB09 VS or DY and EB10
    visit_limit_remaining: Decimal | None = None  # the same with EB06 29
    visit_limit_unit: str = ""  # "visits" or "days"
    authorization_required: bool | None = None  # EB11 on any line that applies
    non_covered: bool = False  # EB01 I at least as specific as any line saying it is covered
    in_network: bool = True  # the network the figures were chosen for
    messages: tuple[str, ...] = ()  # MSG01 of the lines used, in file order
    sources: tuple[BenefitSource, ...] = ()


@dataclass(frozen=True)
class _Line:
    index: int
    benefit: Benefit
    rank: int  # position of `service_type` in the level's precedence: lower is more specific
    service_type: str
    network_rank: int  # 0: the network asked for (EB12 Y/N); 1: EB12 absent or W, applies to both


def level_benefits(
    benefits: Sequence[Benefit],
    level: str,
    *,
    service_types: Sequence[str] | None = None,
    in_network: bool = True,
) -> LevelBenefits:
    """Summarise a member's benefit lines (a parsed 271's `Member.benefits`) for one level of care.

    `service_types` is the level's EB03 precedence, most specific first; without it the level must
    be one of DEFAULT_LEVEL_SERVICE_TYPES. For each figure the line chosen is the most specific
    service type, then the network asked for over a line with no network (EB12 absent or W), then
    the individual over unspecified and other coverage levels, then the first in the file.

    Lines are left out when they carry a rejection (AAA), when they are for the other network,
    and when they are restricted to one procedure (EB13): a figure for 90837 does not describe a
    whole level. A line with no EB03 is plan-wide, as if it said 30. `active` falls back to the
    plan-wide lines even when the precedence has no 30, since coverage is a plan-wide fact.

    `authorization_required` reads EB11 only. Payers also write "precertification required" in
    MSG text or send EB01 CB/N lines; those are kept in `messages` for a person to read, not parsed.
    """
    precedence = _precedence(level, service_types)
    usable = [
        (index, benefit)
        for index, benefit in enumerate(benefits)
        if not benefit.rejections and not benefit.procedure and _network_rank(benefit, in_network) is not None
    ]
    summary = _Summary([line for index, benefit in usable if (line := _match(index, benefit, precedence, in_network))])

    copay = summary.pick("copay", summary.of(COPAY, has=_amount), _any_coverage)
    coinsurance = summary.pick("coinsurance", summary.of(COINSURANCE, has=_percent), _any_coverage)
    deductible, deductible_remaining = summary.amounts(DEDUCTIBLE, "deductible", _amount, _individual)
    family_deductible, family_deductible_remaining = summary.amounts(DEDUCTIBLE, "family_deductible", _amount, _family)
    out_of_pocket, out_of_pocket_remaining = summary.amounts(OUT_OF_POCKET, "out_of_pocket", _amount, _individual)
    family_out_of_pocket, family_out_of_pocket_remaining = summary.amounts(
        OUT_OF_POCKET, "family_out_of_pocket", _amount, _family
    )
    visit_limit, visit_limit_remaining = summary.amounts(LIMITATION, "visit_limit", _visits, _individual)
    visit_line = summary.picked.get("visit_limit_remaining") or summary.picked.get("visit_limit")
    active = summary.active(usable, precedence, in_network)
    non_covered = summary.non_covered()
    authorization_required = summary.authorization_required()

    used = sorted(summary.picked.items(), key=lambda item: (item[1].index, item[0]))
    sources = tuple(
        BenefitSource(field=key.split(":")[0], index=line.index, code=line.benefit.code, service_type=line.service_type)
        for key, line in used
    )
    messages = tuple(dict.fromkeys(text for _, line in used for text in line.benefit.messages if text.strip()))
    ranked = [line for _, line in used if line.service_type in precedence]
    most_specific = min(ranked, key=lambda line: line.rank).service_type if ranked else ""

    return LevelBenefits(
        level=level,
        active=active,
        matched_service_type=most_specific,
        copay=copay.benefit.amount if copay else None,
        copay_period=_COPAY_PERIODS.get(copay.benefit.time_period, copay.benefit.time_period) if copay else "",
        coinsurance=coinsurance.benefit.percent if coinsurance else None,
        deductible=deductible,
        deductible_remaining=deductible_remaining,
        family_deductible=family_deductible,
        family_deductible_remaining=family_deductible_remaining,
        out_of_pocket=out_of_pocket,
        out_of_pocket_remaining=out_of_pocket_remaining,
        family_out_of_pocket=family_out_of_pocket,
        family_out_of_pocket_remaining=family_out_of_pocket_remaining,
        visit_limit=visit_limit,
        visit_limit_remaining=visit_limit_remaining,
        visit_limit_unit=_VISIT_UNITS[visit_line.benefit.quantity_qualifier] if visit_line else "",
        authorization_required=authorization_required,
        non_covered=non_covered,
        in_network=in_network,
        messages=messages,
        sources=sources,
    )


Coverage = Callable[[str], int | None]


class _Summary:
    """The lines that apply to the level, and which of them each figure was taken from."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        # Keyed by LevelBenefits field, with ":suffix" when several lines explain one field.
        self.picked: dict[str, _Line] = {}

    def of(
        self, code: str, *, has: Callable[[Benefit], Decimal | None], periods: frozenset[str] | None = None
    ) -> list[_Line]:
        return [
            line
            for line in self.lines
            if line.benefit.code == code
            and (periods is None or line.benefit.time_period in periods)
            and has(line.benefit) is not None
        ]

    def pick(self, key: str, candidates: Iterable[_Line], coverage: Coverage) -> _Line | None:
        ranked = [(line, rank) for line in candidates if (rank := coverage(line.benefit.coverage_level)) is not None]
        if not ranked:
            return None
        line, _ = min(ranked, key=lambda item: (item[0].rank, item[0].network_rank, item[1], item[0].index))
        self.picked[key] = line
        return line

    def amounts(
        self, code: str, field: str, value: Callable[[Benefit], Decimal | None], coverage: Coverage
    ) -> tuple[Decimal | None, Decimal | None]:
        """The total and the remaining of deductible (C), out-of-pocket (G) or visit limit (F) lines."""
        total_line = self.pick(field, self.of(code, has=value, periods=_TOTAL_PERIODS), coverage)
        remaining_line = self.pick(f"{field}_remaining", self.of(code, has=value, periods=_REMAINING_PERIODS), coverage)
        total = value(total_line.benefit) if total_line else None
        if remaining_line:
            return total, value(remaining_line.benefit)
        if total is None:
            return None, None
        met_line = self.pick(f"{field}_remaining:met", self.of(code, has=value, periods=_MET_PERIODS), coverage)
        met = value(met_line.benefit) if met_line else None
        if met is None:
            return total, None
        # No "remaining" line, but the total and what is met so far (EB06 24) give it.
        return total, max(total - met, Decimal(0))

    def active(self, usable: list[tuple[int, Benefit]], precedence: tuple[str, ...], in_network: bool) -> bool | None:
        status_codes = ACTIVE_CODES | INACTIVE_CODES
        candidates = [line for line in self.lines if line.benefit.code in status_codes]
        if not candidates and PLAN_LEVEL not in precedence:
            candidates = [
                line
                for index, benefit in usable
                if benefit.code in status_codes
                and (line := _match(index, benefit, (PLAN_LEVEL,), in_network)) is not None
            ]
        best = self.pick("active", candidates, _any_coverage)
        if best is None:
            return None
        # At the most specific service type one active line is enough: payers send an inactive
        # line for a past plan period next to the active one for the current period.
        return any(line.benefit.code in ACTIVE_CODES for line in candidates if line.rank == best.rank)

    def non_covered(self) -> bool:
        excluded = [line for line in self.lines if line.benefit.code == NON_COVERED]
        if not excluded:
            return False
        most_specific = min(line.rank for line in excluded)
        covered = [line.rank for line in self.lines if line.benefit.code in _COVERAGE_EVIDENCE]
        # A co-pay for CJ says the programme is paid for even when the plan excludes MH as a whole;
        # at the same service type the exclusion wins, so no one is told a service is covered on a tie.
        if covered and min(covered) < most_specific:
            return False
        self.pick("non_covered", [line for line in excluded if line.rank == most_specific], _any_coverage)
        return True

    def authorization_required(self) -> bool | None:
        said = [line for line in self.lines if line.benefit.authorization_required is not None]
        required = [line for line in said if line.benefit.authorization_required]
        # Any line saying Y is enough: a missed authorization costs the clinic the whole claim.
        for line in required or said:
            self.picked[f"authorization_required:{line.index}"] = line
        if required:
            return True
        return False if said else None


def _amount(benefit: Benefit) -> Decimal | None:
    return benefit.amount


def _percent(benefit: Benefit) -> Decimal | None:
    return benefit.percent


def _visits(benefit: Benefit) -> Decimal | None:
    return benefit.quantity if benefit.quantity_qualifier in _VISIT_UNITS else None


def _precedence(level: str, service_types: Sequence[str] | None) -> tuple[str, ...]:
    if service_types is None:
        if level not in DEFAULT_LEVEL_SERVICE_TYPES:
            known = ", ".join(DEFAULT_LEVEL_SERVICE_TYPES)
            raise ValueError(f"Unknown level of care {level!r}: pass its service types, or use one of {known}.")
        return DEFAULT_LEVEL_SERVICE_TYPES[level]
    if not service_types:
        raise ValueError(f"The service types for level {level!r} are empty: name at least one EB03 code.")
    return tuple(service_types)


def _network_rank(benefit: Benefit, in_network: bool) -> int | None:
    if benefit.in_network is None:
        return 1
    return 0 if benefit.in_network == in_network else None


def _match(index: int, benefit: Benefit, precedence: tuple[str, ...], in_network: bool) -> _Line | None:
    network_rank = _network_rank(benefit, in_network)
    codes = benefit.service_types or (PLAN_LEVEL,)
    ranks = [(precedence.index(code), code) for code in codes if code in precedence]
    if network_rank is None or not ranks:
        return None
    rank, code = min(ranks)
    return _Line(index, benefit, rank, code, network_rank)


def _individual(coverage_level: str) -> int | None:
    # EB02 (clinical.md 7.3). The patient's own figure: IND, else unspecified, else a one-person
    # tier (employee or spouse only), else the other tiers. FAM is the family's, kept apart.
    if coverage_level == "FAM":
        return None
    return {"IND": 0, "": 1, "EMP": 2, "SPO": 2}.get(coverage_level, 3)


def _family(coverage_level: str) -> int | None:
    return 0 if coverage_level == "FAM" else None


def _any_coverage(coverage_level: str) -> int | None:
    # A co-pay or co-insurance given for the family tier still applies to the patient, as a last resort.
    individual = _individual(coverage_level)
    return 4 if individual is None else individual


# --- the patient's share ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareEstimate:
    """What the patient may owe for `units` visits or days of one level at `charge` each."""

    charge: Decimal
    units: int
    per_unit: tuple[Decimal, ...]  # the patient's share of each unit, in order
    total: Decimal
    assumptions: tuple[str, ...]  # sentences saying what the estimate took for granted

    @property
    def average(self) -> Decimal:
        """The per-unit share averaged over the units, to the cent."""
        if not self.units:
            return Decimal("0.00")
        return (self.total / self.units).quantize(CENT, rounding=ROUND_HALF_UP)


def estimate_patient_share(
    benefits: LevelBenefits, *, charge: Decimal, units: int, copay_after_deductible: bool = False
) -> ShareEstimate:
    """Walk the units in order: the deductible first, then the co-pay (else co-insurance times the charge),
    the running total capped at the out-of-pocket remaining. Money is rounded to cents, half up.

    A co-pay bypasses the deductible by default (`copay_after_deductible=False`): plans that price
    a service with a co-pay usually make the co-pay the whole share, as for office visits. Pass
    True for plans that say the co-pay applies after the deductible.

    When the payer leaves a figure out the estimate leans towards the patient owing more: an unknown
    remaining deductible is taken as the whole deductible, and with neither co-pay nor co-insurance
    the whole charge is the patient's. Units beyond the visits remaining are charged in full and,
    not being covered, do not count towards the out-of-pocket cap. Each such choice is written in
    `assumptions`.
    """
    if units < 0:
        raise ValueError(f"units must be 0 or more, not {units}.")
    if charge < 0:
        raise ValueError(f"The charge must be 0 or more, not {charge}.")
    charge = _cents(charge)
    assumptions: list[str] = []

    def whole_charge(reason: str) -> ShareEstimate:
        return ShareEstimate(charge, units, (charge,) * units, charge * units, (reason,))

    if benefits.non_covered:
        return whole_charge("The payer lists this level as not covered: the whole charge is the patient's.")
    if benefits.active is False:
        return whole_charge("Coverage is inactive for this level: the whole charge is the patient's.")
    if benefits.active is None:
        assumptions.append("The payer did not say coverage is active for this level: it was taken as active.")

    covered_units, uncovered_units = _covered_units(benefits, units, assumptions)
    copay = None if benefits.copay is None else max(_cents(benefits.copay), Decimal(0))
    coinsurance = None if benefits.coinsurance is None else min(max(benefits.coinsurance, Decimal(0)), Decimal(1))
    if copay is not None:
        if coinsurance is not None:
            assumptions.append("The payer lists both a co-pay and co-insurance: the co-pay was used.")
        if benefits.copay_period not in ("visit", "day"):
            assumptions.append("The payer did not say the co-pay is per visit or per day: it was charged once a unit.")
    elif coinsurance is None:
        assumptions.append("No co-pay or co-insurance found: the whole charge is shown as the patient's share.")
    if copay is not None and not copay_after_deductible:
        deductible_left = Decimal(0)
        if _has_deductible(benefits):
            assumptions.append("The co-pay was taken to bypass the deductible, as for office visits.")
    else:
        deductible_left = _deductible_left(benefits, assumptions)
    cap = _out_of_pocket_cap(benefits, assumptions)

    per_unit: list[Decimal] = []
    paid = Decimal(0)
    deducted = capped = False
    for _ in range(covered_units):
        toward_deductible = min(charge, deductible_left)
        deductible_left -= toward_deductible
        deducted = deducted or toward_deductible > 0
        rest = charge - toward_deductible
        if copay is not None:
            cost_share = min(copay, rest)
        elif coinsurance is not None:
            cost_share = _cents(coinsurance * rest)
        else:
            cost_share = rest
        share = toward_deductible + cost_share
        if cap is not None and paid + share > cap:
            share = max(cap - paid, Decimal(0))
            capped = True
        paid += share
        per_unit.append(share)
    per_unit += [charge] * uncovered_units

    if deducted:
        assumptions.append("The deductible was applied first.")
    if capped:
        assumptions.append("The share was capped at the out-of-pocket amount remaining.")
    return ShareEstimate(charge, units, tuple(per_unit), sum(per_unit, Decimal("0.00")), tuple(assumptions))


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _covered_units(benefits: LevelBenefits, units: int, assumptions: list[str]) -> tuple[int, int]:
    unit = benefits.visit_limit_unit or "visits"
    if benefits.visit_limit_remaining is not None:
        left = max(math.floor(benefits.visit_limit_remaining), 0)
        if left < units:
            assumptions.append(
                f"Only {left} {unit} remain under the plan's limit: the {units - left} beyond it are charged in full."
            )
            return left, units - left
    elif benefits.visit_limit is not None:
        assumptions.append(
            f"The plan limits this level to {benefits.visit_limit.normalize():f} {unit}, and the payer did not say "
            "how many are used: no limit was applied."
        )
    return units, 0


def _has_deductible(benefits: LevelBenefits) -> bool:
    figures = (benefits.deductible, benefits.deductible_remaining, benefits.family_deductible_remaining)
    return any(figure is not None for figure in figures)


def _deductible_left(benefits: LevelBenefits, assumptions: list[str]) -> Decimal:
    individual, family = benefits.deductible_remaining, benefits.family_deductible_remaining
    # A family deductible once met is met for every member (an embedded deductible), so the
    # smaller of the two remaining applies.
    if family is not None and (individual is None or family < individual):
        assumptions.append(
            "Only the family deductible remaining was given: it was applied to this patient."
            if individual is None
            else "The family deductible remaining is less than the patient's own: it was applied."
        )
        return max(_cents(family), Decimal(0))
    if individual is not None:
        return max(_cents(individual), Decimal(0))
    if benefits.deductible is not None:
        assumptions.append("The payer did not say how much of the deductible is met: none was taken as met.")
        return max(_cents(benefits.deductible), Decimal(0))
    assumptions.append("No deductible found: none was applied.")
    return Decimal(0)


def _out_of_pocket_cap(benefits: LevelBenefits, assumptions: list[str]) -> Decimal | None:
    individual, family = benefits.out_of_pocket_remaining, benefits.family_out_of_pocket_remaining
    known = [amount for amount in (individual, family) if amount is not None]
    if known:
        return max(_cents(min(known)), Decimal(0))
    if benefits.out_of_pocket is not None:
        # The year's maximum bounds what is left of it, so capping there never understates the share.
        assumptions.append("The payer did not say how much of the out-of-pocket maximum is met: none was taken as met.")
        return max(_cents(benefits.out_of_pocket), Decimal(0))
    return None
