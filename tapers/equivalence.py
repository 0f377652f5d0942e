"""Benzodiazepine (and z-drug) doses expressed as diazepam equivalents (pure, no Django).

The one equivalence table of the project: intake (patients.placement), the ledger risk rules
(tapers.risk) and the taper engine (tapers.engine) all convert through this module:
`diazepam_per_mg` (exact diazepam mg per mg of a drug), `diazepam_equivalent` (one drug's dose)
and `total_diazepam_equivalent` (several drugs, summed end by end). The 2025 guideline's dose
bands in diazepam equivalents (GUIDELINE_LOW_DOSE_DZE_MG, GUIDELINE_HIGH_DOSE_DZE_MG) live here
too, for the same callers.

Two cited tables, chosen by name:
- "ashton" (default): Ashton CH, *Benzodiazepines: How They Work and How to Withdraw*
  (the Ashton Manual), 2002, Table 1, with the April 2007 revision of her "Benzodiazepine
  Equivalence Table" (eszopiclone). Footnote 3 of the table: "These equivalents do not
  agree with those used by some authors. They are firmly based on clinical experience but
  may vary between individuals." Figures as compiled in ../shared/reference/clinical.md
  section 1.1; the 2025 Joint Clinical Practice Guideline on Benzodiazepine Tapering
  (pocket guide Table 7, "Ashton Manual (2002)" column) confirms the twelve it lists.
- "va_dod": VA/DoD Clinical Practice Guideline for Substance Use Disorders (2021), as
  printed beside Ashton in the same Table 7. It lists only twelve drugs; a drug it does
  not list cannot be converted with it.

Ashton gives some equivalents as ranges ("1-2 mg"); a range is never collapsed to one
number: the diazepam equivalent is then a range too, and callers decide which end is the
safe one for their purpose (reference section 1.1, "Encoding tips").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

DIAZEPAM_REFERENCE_MG = Decimal(10)

# 2025 Joint Clinical Practice Guideline on Benzodiazepine Tapering (ASAM et al.), Table 2
# footnotes (clinical.md 2.1): dose bands in diazepam equivalents (DZE) a day, low <= 10 mg,
# moderate 10-15 mg, high > 15 mg. The footnote's drug examples mix Ashton's and VA/DoD's
# anchors (clinical.md 1.2); the DZE figures are the bands.
GUIDELINE_LOW_DOSE_DZE_MG = Decimal(10)  # "low" is at or below this
GUIDELINE_HIGH_DOSE_DZE_MG = Decimal(15)  # "high" is above this

# Totals a rule compares with a threshold are rounded as a clinician sees them, so that the
# rule that fired and the figure on the screen always agree.
CENTS = Decimal("0.01")


class EquivalenceError(ValueError):
    pass


@dataclass(frozen=True)
class Equivalent:
    """The dose (mg, a range when the source gives one) approximately equal to diazepam 10 mg."""

    low_mg: Decimal
    high_mg: Decimal


@dataclass(frozen=True)
class DrugFacts:
    generic: str
    brands: tuple[str, ...]
    drug_class: str  # "benzodiazepine" or "z-drug"
    # Ashton's half-life of the parent drug and, where she gives one, of its active metabolite (hours).
    half_life_h: tuple[int, int] | None
    metabolite_half_life_h: tuple[int, int] | None
    aim: str  # a = anxiolytic, h = hypnotic, e = anticonvulsant


def _eq(low: str, high: str | None = None) -> Equivalent:
    return Equivalent(Decimal(low), Decimal(high or low))


# generic: (brands, class, half-life, metabolite half-life, aim, Ashton equivalent)
_ASHTON_ROWS: dict[
    str, tuple[tuple[str, ...], str, tuple[int, int] | None, tuple[int, int] | None, str, Equivalent]
] = {
    "alprazolam": (("Xanax",), "benzodiazepine", (6, 12), None, "a", _eq("0.5")),
    "bromazepam": (("Lexotan", "Lexomil"), "benzodiazepine", (10, 20), None, "a", _eq("5", "6")),
    "chlordiazepoxide": (("Librium",), "benzodiazepine", (5, 30), (36, 200), "a", _eq("25")),
    "clobazam": (("Frisium",), "benzodiazepine", (12, 60), None, "a,e", _eq("20")),
    "clonazepam": (("Klonopin", "Rivotril"), "benzodiazepine", (18, 50), None, "a,e", _eq("0.5")),
    "clorazepate": (("Tranxene",), "benzodiazepine", None, (36, 200), "a", _eq("15")),
    "diazepam": (("Valium",), "benzodiazepine", (20, 100), (36, 200), "a", _eq("10")),
    "estazolam": (("ProSom",), "benzodiazepine", (10, 24), None, "h", _eq("1", "2")),
    "flunitrazepam": (("Rohypnol",), "benzodiazepine", (18, 26), (36, 200), "h", _eq("1")),
    "flurazepam": (("Dalmane",), "benzodiazepine", None, (40, 250), "h", _eq("15", "30")),
    "halazepam": (("Paxipam",), "benzodiazepine", None, (30, 100), "a", _eq("20")),
    "ketazolam": (("Anxon",), "benzodiazepine", (30, 100), (36, 200), "a", _eq("15", "30")),
    "loprazolam": (("Dormonoct",), "benzodiazepine", (6, 12), None, "h", _eq("1", "2")),
    "lorazepam": (("Ativan",), "benzodiazepine", (10, 20), None, "a", _eq("1")),
    "lormetazepam": (("Noctamid",), "benzodiazepine", (10, 12), None, "h", _eq("1", "2")),
    "medazepam": (("Nobrium",), "benzodiazepine", (36, 200), None, "a", _eq("10")),
    "nitrazepam": (("Mogadon",), "benzodiazepine", (15, 38), None, "h", _eq("10")),
    "nordazepam": (("Nordaz", "Calmday"), "benzodiazepine", (36, 200), None, "a", _eq("10")),
    "oxazepam": (("Serax", "Serenid", "Serepax"), "benzodiazepine", (4, 15), None, "a", _eq("20")),
    "prazepam": (("Centrax",), "benzodiazepine", None, (36, 200), "a", _eq("10", "20")),
    "quazepam": (("Doral",), "benzodiazepine", (25, 100), None, "h", _eq("20")),
    "temazepam": (("Restoril", "Normison"), "benzodiazepine", (8, 22), None, "h", _eq("20")),
    "triazolam": (("Halcion",), "benzodiazepine", (2, 2), None, "h", _eq("0.5")),
    "zaleplon": (("Sonata",), "z-drug", (2, 2), None, "h", _eq("20")),
    "zolpidem": (("Ambien", "Stilnoct"), "z-drug", (2, 2), None, "h", _eq("20")),
    "zopiclone": (("Zimovane", "Imovane"), "z-drug", (5, 6), None, "h", _eq("15")),
    # In both verbatim copies of the table; probably the 2007 revision, not the 2002 Manual.
    "eszopiclone": (("Lunesta",), "z-drug", (6, 9), None, "h", _eq("3")),
}

DRUGS: dict[str, DrugFacts] = {
    generic: DrugFacts(generic, brands, drug_class, half_life, metabolite, aim)
    for generic, (brands, drug_class, half_life, metabolite, aim, _) in _ASHTON_ROWS.items()
}

TABLES: dict[str, dict[str, Equivalent]] = {
    "ashton": {generic: row[5] for generic, row in _ASHTON_ROWS.items()},
    "va_dod": {
        "alprazolam": _eq("1"),
        "chlordiazepoxide": _eq("25"),
        "clonazepam": _eq("1"),
        "clorazepate": _eq("15"),
        "diazepam": _eq("10"),
        "estazolam": _eq("1"),
        "flurazepam": _eq("15"),
        "lorazepam": _eq("2"),
        "oxazepam": _eq("30"),
        "quazepam": _eq("10"),
        "temazepam": _eq("15"),
        "triazolam": _eq("0.25"),
    },
}
DEFAULT_TABLE = "ashton"

_BY_BRAND = {brand.lower(): generic for generic, facts in DRUGS.items() for brand in facts.brands}


def generic_name(name: str) -> str:
    """The generic name for a generic or brand name, any case; EquivalenceError if unknown."""
    key = name.strip().lower()
    if key in DRUGS:
        return key
    if key in _BY_BRAND:
        return _BY_BRAND[key]
    raise EquivalenceError(f"{name!r} is not in the benzodiazepine equivalence table.")


@dataclass(frozen=True)
class DiazepamEquivalent:
    low_mg: Decimal
    high_mg: Decimal
    table: str

    @property
    def is_range(self) -> bool:
        return self.low_mg != self.high_mg

    def to_cents(self) -> DiazepamEquivalent:
        """Both ends rounded (half up) to the hundredth of a mg, as shown to a clinician (see CENTS)."""
        return DiazepamEquivalent(
            low_mg=self.low_mg.quantize(CENTS, ROUND_HALF_UP),
            high_mg=self.high_mg.quantize(CENTS, ROUND_HALF_UP),
            table=self.table,
        )


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise EquivalenceError(f"Unknown equivalence table {table!r}; use one of {', '.join(sorted(TABLES))}.")


@lru_cache(maxsize=256)
def diazepam_per_mg(drug: str, *, table: str = DEFAULT_TABLE) -> tuple[Fraction, Fraction]:
    """Diazepam mg per mg of `drug` by the named table, exact: (lower, upper) figure.

    A range in the table gives a range here: the larger equivalent dose gives the lower
    diazepam figure. Exact so that callers comparing with a limit (the taper engine's
    "25 % every 2 weeks") never refuse a step for a rounding error in the 28th digit.
    """
    _check_table(table)
    generic = generic_name(drug)
    equivalent = TABLES[table].get(generic)
    if equivalent is None:
        raise EquivalenceError(f"The {table} table gives no equivalent for {generic}.")
    reference = Fraction(DIAZEPAM_REFERENCE_MG)
    return reference / Fraction(equivalent.high_mg), reference / Fraction(equivalent.low_mg)


def _decimal(value: Fraction) -> Decimal:
    # One correctly rounded division in the current Decimal context.
    return Decimal(value.numerator) / Decimal(value.denominator)


def diazepam_equivalent(drug: str, daily_dose_mg: Decimal, *, table: str = DEFAULT_TABLE) -> DiazepamEquivalent:
    """Diazepam mg equivalent to `daily_dose_mg` of `drug` by the named table (a range where
    the table gives one; see `diazepam_per_mg`)."""
    _check_table(table)
    if daily_dose_mg < 0:
        raise EquivalenceError("A daily dose cannot be negative.")
    low, high = diazepam_per_mg(drug, table=table)
    dose = Fraction(daily_dose_mg)
    return DiazepamEquivalent(low_mg=_decimal(dose * low), high_mg=_decimal(dose * high), table=table)


def total_diazepam_equivalent(
    items: Iterable[tuple[str, Decimal]], *, table: str = DEFAULT_TABLE
) -> DiazepamEquivalent:
    """The sum of `diazepam_equivalent` over (drug, daily mg) items, end by end: the low total
    reads every drug at its lower diazepam figure, the high total every drug at its upper one.
    Zero for no items; EquivalenceError, as `diazepam_equivalent`, for a drug it cannot convert."""
    _check_table(table)
    low = high = Decimal(0)
    for drug, daily_dose_mg in items:
        equivalent = diazepam_equivalent(drug, daily_dose_mg, table=table)
        low += equivalent.low_mg
        high += equivalent.high_mg
    return DiazepamEquivalent(low_mg=low, high_mg=high, table=table)
