from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapers.equivalence import (
    DRUGS,
    TABLES,
    DiazepamEquivalent,
    EquivalenceError,
    diazepam_equivalent,
    diazepam_per_mg,
    generic_name,
    total_diazepam_equivalent,
)

D = Decimal
F = Fraction


@pytest.mark.parametrize(
    ("drug", "dose", "expected"),
    [
        ("alprazolam", "0.5", "10"),
        ("clonazepam", "1", "20"),
        ("lorazepam", "3", "30"),
        ("chlordiazepoxide", "25", "10"),
        ("oxazepam", "20", "10"),
        ("temazepam", "20", "10"),
        ("zolpidem", "10", "5"),
        ("diazepam", "15", "15"),
    ],
)
def test_ashton_figures(drug, dose, expected):
    result = diazepam_equivalent(drug, D(dose))
    assert (result.low_mg, result.high_mg, result.table) == (D(expected), D(expected), "ashton")


def test_a_range_in_the_table_stays_a_range():
    # Ashton: lormetazepam 1-2 mg ~ diazepam 10 mg; 2 mg is then diazepam 10 to 20 mg.
    result = diazepam_equivalent("lormetazepam", D(2))
    assert (result.low_mg, result.high_mg) == (D(10), D(20))
    assert result.is_range


@pytest.mark.parametrize(
    ("drug", "dose", "ashton", "va_dod"),
    [
        ("alprazolam", "1", "20", "10"),
        ("clonazepam", "1", "20", "10"),
        ("lorazepam", "2", "20", "10"),
        ("oxazepam", "30", "15", "10"),
    ],
)
def test_the_va_dod_table_disagrees_where_the_2025_guideline_says_it_does(drug, dose, ashton, va_dod):
    assert diazepam_equivalent(drug, D(dose)).low_mg == D(ashton)
    assert diazepam_equivalent(drug, D(dose), table="va_dod").low_mg == D(va_dod)


def test_the_guideline_dose_band_anchors_mix_the_two_tables():
    # 2025 guideline Table 2: "low" is <= 10 mg DZE, "e.g. <= 0.5 mg clonazepam, <= 2 mg
    # lorazepam, <= 1 mg alprazolam". Clonazepam's anchor is Ashton's; the others are VA/DoD's.
    assert diazepam_equivalent("clonazepam", D("0.5")).high_mg == 10
    assert diazepam_equivalent("lorazepam", D(2), table="va_dod").high_mg == 10
    assert diazepam_equivalent("alprazolam", D(1), table="va_dod").high_mg == 10
    assert diazepam_equivalent("lorazepam", D(2)).high_mg == 20


@pytest.mark.parametrize(
    ("drug", "table", "per_mg"),
    [
        # clinical.md 1.1: bromazepam 5-6 mg, lormetazepam 1-2 mg ~ diazepam 10 mg (lower, upper).
        ("bromazepam", "ashton", (F(5, 3), F(2))),
        ("lormetazepam", "ashton", (F(5), F(10))),
        ("Xanax", "ashton", (F(20), F(20))),
        # clinical.md 1.2, VA/DoD column: alprazolam 1 mg, oxazepam 30 mg.
        ("alprazolam", "va_dod", (F(10), F(10))),
        ("oxazepam", "va_dod", (F(1, 3), F(1, 3))),
    ],
)
def test_diazepam_per_mg_is_exact_and_keeps_a_range(drug, table, per_mg):
    assert diazepam_per_mg(drug, table=table) == per_mg


@pytest.mark.parametrize(
    ("drug", "table", "message"),
    [
        ("aspirin", "ashton", "'aspirin' is not in the benzodiazepine equivalence table"),
        ("bromazepam", "va_dod", "The va_dod table gives no equivalent for bromazepam"),
        ("diazepam", "bnf", "Unknown equivalence table 'bnf'"),
    ],
)
def test_diazepam_per_mg_refuses_what_diazepam_equivalent_refuses(drug, table, message):
    for call in (lambda: diazepam_per_mg(drug, table=table), lambda: diazepam_equivalent(drug, D(1), table=table)):
        with pytest.raises(EquivalenceError, match=message):
            call()


def test_the_total_sums_each_end_over_the_drugs():
    # Ashton: lormetazepam 1 mg is diazepam 5-10 mg; clonazepam 0.25 mg is 5 mg.
    total = total_diazepam_equivalent([("lormetazepam", D(1)), ("Klonopin", D("0.25")), ("diazepam", D(1))])
    assert total == DiazepamEquivalent(low_mg=D(11), high_mg=D(16), table="ashton")
    assert total_diazepam_equivalent([("alprazolam", D(1))], table="va_dod").high_mg == 10
    assert total_diazepam_equivalent([]) == DiazepamEquivalent(D(0), D(0), "ashton")
    with pytest.raises(EquivalenceError, match="etizolam"):
        total_diazepam_equivalent([("diazepam", D(1)), ("etizolam", D(1))])


@pytest.mark.parametrize(
    ("mg", "shown"), [("15.004", "15.00"), ("15.005", "15.01"), ("2.5", "2.50"), ("0.125", "0.13")]
)
def test_a_total_rounds_half_up_to_the_hundredth_as_shown(mg, shown):
    rounded = total_diazepam_equivalent([("diazepam", D(mg))]).to_cents()
    assert (str(rounded.low_mg), str(rounded.high_mg)) == (shown, shown)


def test_brand_names_resolve_to_generics():
    assert generic_name("Xanax") == "alprazolam"
    assert generic_name(" KLONOPIN ") == "clonazepam"
    assert diazepam_equivalent("Ativan", D(1)).low_mg == 10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: diazepam_equivalent("aspirin", D(1)), "not in the benzodiazepine equivalence table"),
        (lambda: diazepam_equivalent("bromazepam", D(3), table="va_dod"), "va_dod table gives no equivalent"),
        (lambda: diazepam_equivalent("diazepam", D(5), table="bnf"), "Unknown equivalence table"),
        (lambda: diazepam_equivalent("diazepam", D(-1)), "cannot be negative"),
    ],
)
def test_it_refuses_what_it_cannot_convert(call, message):
    with pytest.raises(EquivalenceError, match=message):
        call()


def test_every_table_entry_is_a_known_drug_with_a_positive_ordered_range():
    for table in TABLES.values():
        for generic, equivalent in table.items():
            assert generic in DRUGS
            assert D(0) < equivalent.low_mg <= equivalent.high_mg


@given(
    st.sampled_from(sorted(TABLES["ashton"])),
    st.decimals(min_value=0, max_value=200, places=2),
    st.decimals(min_value=0, max_value=200, places=2),
)
def test_the_equivalent_is_proportional_to_the_dose(drug, a, b):
    low, high = sorted([a, b])
    assert diazepam_equivalent(drug, low).low_mg <= diazepam_equivalent(drug, high).low_mg
    together = diazepam_equivalent(drug, low + high).high_mg
    apart = diazepam_equivalent(drug, low).high_mg + diazepam_equivalent(drug, high).high_mg
    assert abs(together - apart) < D("1e-20")  # Decimal division rounds at 28 digits
