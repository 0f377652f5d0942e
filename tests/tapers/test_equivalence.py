from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapers.equivalence import DRUGS, TABLES, EquivalenceError, diazepam_equivalent, generic_name

D = Decimal


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
