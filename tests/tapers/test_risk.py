"""Prescription-ledger risk rules. Pure: no database."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapers.risk import (
    DELCHER_5X5X90D,
    KATZ_4X4X365D,
    MASSACHUSETTS_DPH_4X4X180D,
    MULTIPLE_PROVIDER_DEFINITIONS,
    NALOXONE_PROMPT,
    SCHNEBERK_6X6X180D,
    DrugClass,
    Flag,
    MultipleProviderDefinition,
    Prescription,
    RiskInputError,
    RuleCode,
    Severity,
    Thresholds,
    ledger_flags,
)

D = Decimal
AS_OF = date(2026, 3, 31)
# The first day of the default 90-day lookback: 31 Mar counts as day 90.
FIRST_DAY = date(2026, 1, 1)
OPIOIDS = {"oxycodone", "hydrocodone", "buprenorphine", "methadone"}
ZDRUGS = {"zolpidem", "zopiclone"}


def rx(
    id,
    drug="clonazepam",
    *,
    start=date(2026, 3, 1),
    days=30,
    dose="0.5",
    prescriber="dr-a",
    pharmacy="ph-1",
    filled=True,
    written=None,
    drug_class=None,
):
    """A prescription filled on `start` (or written on `start` and not filled)."""
    if drug_class is None:
        drug_class = (
            DrugClass.OPIOID
            if drug in OPIOIDS
            else DrugClass.Z_DRUG
            if drug in ZDRUGS
            else DrugClass.STIMULANT
            if drug == "methylphenidate"
            else DrugClass.BENZODIAZEPINE
        )
    return Prescription(
        id=id,
        drug=drug,
        drug_class=drug_class,
        daily_dose_mg=D(dose),
        quantity=D(days),
        days_supply=days,
        written_on=written or start,
        prescriber_id=prescriber,
        filled_on=start if filled else None,
        pharmacy_id=pharmacy if filled else None,
    )


def flags(prescriptions, as_of=AS_OF, **thresholds):
    return ledger_flags(prescriptions, as_of=as_of, thresholds=Thresholds(**thresholds))


def codes(prescriptions, as_of=AS_OF, **thresholds):
    return [(f.code.value, f.prescription_ids) for f in flags(prescriptions, as_of, **thresholds)]


def of(code, prescriptions, as_of=AS_OF, **thresholds):
    return [f for f in flags(prescriptions, as_of, **thresholds) if f.code == code]


def day(n):
    return date(2026, 3, 1) + timedelta(days=n)


OVERLAP = RuleCode.OVERLAPPING_BENZODIAZEPINE_SUPPLY
MPE = RuleCode.MULTIPLE_PROVIDER_EPISODE
EARLY = RuleCode.EARLY_REFILL
OPIOID = RuleCode.BENZODIAZEPINE_OPIOID_OVERLAP
TOTAL = RuleCode.HIGH_TOTAL_DAILY_DZE
UNKNOWN = RuleCode.DZE_NOT_CONVERTIBLE


def test_it_raises_nothing_for_an_empty_ledger():
    assert ledger_flags([], as_of=AS_OF) == []


def test_it_raises_nothing_for_one_prescriber_refilling_on_time():
    # 30 days filled 1 Mar runs out after 30 Mar; the refill on 31 Mar is on time.
    assert flags([rx("1", start=day(0)), rx("2", start=day(30))]) == []


# --- Supply period ---------------------------------------------------------------------


def test_the_supply_period_is_half_open_from_the_fill_date():
    p = rx("1", start=date(2026, 1, 1), days=30, written=date(2025, 12, 20))
    assert (p.supply_start, p.supply_end) == (date(2026, 1, 1), date(2026, 1, 31))


def test_an_unfilled_prescription_supplies_from_its_written_date():
    p = rx("1", start=date(2026, 1, 1), filled=False)
    assert (p.supply_start, p.supply_end, p.pharmacy_id) == (date(2026, 1, 1), date(2026, 1, 31), None)


# --- Overlapping benzodiazepine supply from different prescribers -----------------------


@pytest.mark.parametrize(
    ("second_start", "expected_days"),
    [
        (day(31), None),  # starts the day after the first ran out
        (day(30), None),  # starts the day the first runs out: no day in common
        (day(29), 1),  # the first's last day
        (day(10), 20),
    ],
)
def test_it_flags_overlap_from_a_different_prescriber_from_one_shared_day(second_start, expected_days):
    ledger = [rx("1", start=day(0)), rx("2", "alprazolam", start=second_start, prescriber="dr-b")]
    found = of(OVERLAP, ledger, as_of=day(40))
    if expected_days is None:
        assert found == []
    else:
        [flag] = found
        assert (flag.severity, flag.prescription_ids) == (Severity.WARNING, ("1", "2"))
        assert f"{expected_days} day(s) in common from {second_start}" in flag.message
        assert "from prescriber dr-a" in flag.message
        assert "from prescriber dr-b" in flag.message


def test_overlap_from_the_same_prescriber_is_not_an_overlap_flag():
    ledger = [rx("1", start=day(0)), rx("2", "alprazolam", start=day(10))]
    assert of(OVERLAP, ledger) == []


@pytest.mark.parametrize(("shared_days", "flagged"), [(2, False), (3, True), (4, True)])
def test_the_minimum_overlap_is_inclusive(shared_days, flagged):
    ledger = [rx("1", start=day(0)), rx("2", start=day(30 - shared_days), prescriber="dr-b")]
    assert bool(of(OVERLAP, ledger, min_overlap_days=3)) is flagged


def test_z_drugs_count_as_benzodiazepines_but_opioids_and_stimulants_do_not():
    z = [rx("1", start=day(0)), rx("2", "zolpidem", dose="10", start=day(5), prescriber="dr-b")]
    assert [f.prescription_ids for f in of(OVERLAP, z)] == [("1", "2")]
    others = [
        rx("3", "oxycodone", start=day(0)),
        rx("4", "hydrocodone", start=day(5), prescriber="dr-b"),
        rx("5", "methylphenidate", start=day(5), prescriber="dr-c"),
    ]
    assert of(OVERLAP, others) == []


def test_three_overlapping_prescribers_give_one_flag_per_pair():
    ledger = [rx(str(i), start=day(i), prescriber=f"dr-{i}") for i in range(3)]
    assert [f.prescription_ids for f in of(OVERLAP, ledger)] == [("0", "1"), ("0", "2"), ("1", "2")]


@pytest.mark.parametrize(
    ("last_shared_day", "flagged"),
    [(FIRST_DAY - timedelta(days=1), False), (FIRST_DAY, True), (FIRST_DAY + timedelta(days=1), True)],
)
def test_an_overlap_counts_when_any_day_of_it_is_in_the_90_day_lookback(last_shared_day, flagged):
    first = rx("1", start=last_shared_day - timedelta(days=29))  # its last day is last_shared_day
    second = rx("2", start=last_shared_day - timedelta(days=5), prescriber="dr-b")
    assert bool(of(OVERLAP, [first, second])) is flagged


def test_a_fill_after_as_of_is_read_as_unfilled_and_a_later_prescription_is_unknown():
    # Written 1 Mar, filled 20 Mar: as of 10 Mar it is an unfilled supply from 1 Mar.
    late_fill = replace(rx("2", start=day(19), prescriber="dr-b"), written_on=day(0))
    ledger = [rx("1", start=day(-5)), late_fill]
    [flag] = of(OVERLAP, ledger, as_of=day(9))
    assert "from prescriber dr-b, supply 2026-03-01 to 2026-03-30" in flag.message
    [flag] = of(OVERLAP, ledger, as_of=day(20))
    assert "from prescriber dr-b, supply 2026-03-20 to 2026-04-18" in flag.message
    not_yet_written = [rx("1", start=day(0)), rx("2", start=day(10), prescriber="dr-b")]
    assert of(OVERLAP, not_yet_written, as_of=day(9)) == []
    assert of(OVERLAP, not_yet_written, as_of=day(10)) != []


# --- Multiple-provider episodes -------------------------------------------------------


def shopping(prescribers, pharmacies, *, spread=1, drug="clonazepam"):
    """max(prescribers, pharmacies) one-day prescriptions from that many prescribers at that many
    pharmacies, the i-th filled i * spread days before AS_OF."""
    return [
        rx(
            f"s{i}",
            drug,
            start=AS_OF - timedelta(days=i * spread),
            days=1,
            prescriber=f"dr-{min(i, prescribers - 1)}",
            pharmacy=f"ph-{min(i, pharmacies - 1)}",
        )
        for i in range(max(prescribers, pharmacies))
    ]


@pytest.mark.parametrize(
    ("prescribers", "pharmacies", "flagged"),
    [(4, 4, False), (4, 5, False), (5, 4, False), (5, 5, True), (6, 6, True)],
)
def test_the_default_multiple_provider_definition_is_5_prescribers_and_5_pharmacies(prescribers, pharmacies, flagged):
    found = of(MPE, shopping(prescribers, pharmacies))
    assert bool(found) is flagged
    if flagged:
        assert found[0].severity == Severity.WARNING
        assert "delcher_5x5x90d" in found[0].message
        assert found[0].source.startswith("Delcher C et al.")


@pytest.mark.parametrize(("oldest_days_before", "flagged"), [(88, True), (89, True), (90, False)])
def test_the_multiple_provider_window_is_90_days_counting_as_of(oldest_days_before, flagged):
    old = rx("old", start=AS_OF - timedelta(days=oldest_days_before), days=1, prescriber="dr-old", pharmacy="ph-old")
    ledger = [*shopping(4, 4), old]
    assert bool(of(MPE, ledger)) is flagged


def test_a_multiple_provider_flag_lists_every_prescription_in_the_window():
    ledger = [*shopping(5, 5), rx("older", start=AS_OF - timedelta(days=120), prescriber="dr-z")]
    [flag] = of(MPE, ledger)
    assert flag.prescription_ids == ("s0", "s1", "s2", "s3", "s4")
    assert "5 controlled prescription(s) from 5 prescriber(s) at 5 pharmacy(ies)" in flag.message


def test_unfilled_prescriptions_count_their_prescriber_but_no_pharmacy():
    ledger = shopping(5, 5)
    ledger[0] = replace(ledger[0], filled_on=None, pharmacy_id=None)
    assert of(MPE, ledger) == []  # 5 prescribers, 4 pharmacies
    ledger.append(rx("new", start=AS_OF, days=1, prescriber="dr-0", pharmacy="ph-new"))
    assert of(MPE, ledger) != []


def test_multiple_provider_classes_can_reproduce_the_opioid_only_studies():
    benzodiazepines = shopping(5, 5)
    assert of(MPE, benzodiazepines) != []
    assert of(MPE, benzodiazepines, multiple_provider_classes=frozenset({DrugClass.OPIOID})) == []
    assert of(MPE, shopping(5, 5, drug="oxycodone"), multiple_provider_classes=frozenset({DrugClass.OPIOID})) != []


@pytest.mark.parametrize(
    ("definition", "prescribers", "pharmacies", "spread", "flagged"),
    [
        # Katz: >= 4 prescribers and >= 4 pharmacies in a year.
        (KATZ_4X4X365D, 4, 4, 121, True),  # oldest fill 363 days before
        (KATZ_4X4X365D, 3, 3, 1, False),
        (KATZ_4X4X365D, 4, 4, 122, False),  # oldest fill 366 days before: outside
        # Schneberk: >= 6 prescriptions from >= 6 prescribers in 6 months, any pharmacies.
        (SCHNEBERK_6X6X180D, 6, 1, 35, True),
        (SCHNEBERK_6X6X180D, 5, 5, 1, False),
        # Massachusetts DPH: >= 4 prescriptions at >= 4 pharmacies in 6 months, any prescribers.
        (MASSACHUSETTS_DPH_4X4X180D, 4, 4, 59, True),
        (MASSACHUSETTS_DPH_4X4X180D, 4, 3, 1, False),
    ],
)
def test_the_published_definitions_ship_as_presets(definition, prescribers, pharmacies, spread, flagged):
    ledger = shopping(prescribers, pharmacies, spread=spread)
    assert bool(of(MPE, ledger, multiple_provider=definition)) is flagged


@pytest.mark.parametrize(
    ("definition", "prescribers", "pharmacies", "days_before", "flagged"),
    [
        # A window of N days is [as_of - (N - 1), as_of] (tapers/risk.py, "Dates"): for Katz's 365
        # days the oldest fill that counts is 364 days before as_of.
        (KATZ_4X4X365D, 3, 3, 364, True),
        (KATZ_4X4X365D, 3, 3, 365, False),
        # "6 months" read as 180 days: 179 days before counts, 180 does not.
        (SCHNEBERK_6X6X180D, 5, 1, 179, True),
        (SCHNEBERK_6X6X180D, 5, 1, 180, False),
        (MASSACHUSETTS_DPH_4X4X180D, 3, 3, 179, True),
        (MASSACHUSETTS_DPH_4X4X180D, 3, 3, 180, False),
    ],
)
def test_each_definition_counts_its_window_with_as_of_as_its_last_day(
    definition, prescribers, pharmacies, days_before, flagged
):
    # One short of every minimum, plus one prescription from a new prescriber at a new pharmacy.
    old = rx("old", start=AS_OF - timedelta(days=days_before), days=1, prescriber="dr-old", pharmacy="ph-old")
    ledger = [*shopping(prescribers, pharmacies), old]
    found = of(MPE, ledger, multiple_provider=definition)
    assert bool(found) is flagged
    if flagged:
        assert "old" in found[0].prescription_ids
        assert f"from {AS_OF - timedelta(days=definition.window_days - 1)} to {AS_OF}" in found[0].message


def test_one_prescriber_at_five_pharmacies_is_a_massachusetts_episode_but_not_a_delcher_one():
    ledger = [rx(f"{i}", start=AS_OF - timedelta(days=i), days=1, pharmacy=f"ph-{i}") for i in range(5)]
    assert of(MPE, ledger, multiple_provider=MASSACHUSETTS_DPH_4X4X180D) != []
    assert of(MPE, ledger) == []


def test_the_presets_are_named_with_their_sources_and_delcher_is_the_default():
    assert set(MULTIPLE_PROVIDER_DEFINITIONS) == {
        "delcher_5x5x90d",
        "katz_4x4x365d",
        "schneberk_6x6x180d",
        "massachusetts_dph_4x4x180d",
    }
    assert Thresholds().multiple_provider is DELCHER_5X5X90D
    assert DELCHER_5X5X90D.describe() == ">= 5 prescribers and >= 5 pharmacies in 90 days"
    assert all(d.source for d in MULTIPLE_PROVIDER_DEFINITIONS.values())


# --- Early refill ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "flagged"),
    [(0, False), (4, False), (5, False), (6, True), (20, True)],  # of a 20-day supply; 5 days is 25%
)
def test_a_refill_is_early_when_more_than_a_quarter_of_the_previous_supply_is_left(days_left, flagged):
    ledger = [rx("1", days=20, start=day(0)), rx("2", days=20, start=day(20 - days_left))]
    found = of(EARLY, ledger)
    assert bool(found) is flagged
    if flagged:
        assert found[0].prescription_ids == ("1", "2")
        assert f"{days_left} of 20 days ({days_left * 5}%)" in found[0].message


@pytest.mark.parametrize(("days_left", "flagged"), [(9, False), (10, False), (11, True)])
def test_the_early_refill_fraction_is_a_threshold(days_left, flagged):
    ledger = [rx("1", days=20, start=day(0)), rx("2", days=20, start=day(20 - days_left))]
    assert bool(of(EARLY, ledger, early_refill_remaining_fraction=D("0.5"))) is flagged


def test_an_early_refill_compares_the_same_drug_whatever_the_name_or_prescriber():
    ledger = [rx("1", "alprazolam", start=day(0)), rx("2", "Xanax", start=day(10), prescriber="dr-b")]
    assert [f.code for f in flags(ledger)] == [EARLY, OVERLAP]
    switch = [rx("1", "alprazolam", start=day(0)), rx("2", "diazepam", dose="10", start=day(10))]
    assert of(EARLY, switch) == []


def test_an_early_refill_compares_with_the_previous_fill_only():
    # 1 Mar, then 20 Mar (11 of 30 days left: early), then 10 Apr (9 of 30 left from 20 Mar: early).
    ledger = [rx("1", start=day(0)), rx("2", start=day(19)), rx("3", start=day(40))]
    assert [f.prescription_ids for f in of(EARLY, ledger, as_of=day(45))] == [("1", "2"), ("2", "3")]


def test_early_refills_of_opioids_count_too():
    ledger = [rx("1", "oxycodone", start=day(0)), rx("2", "oxycodone", start=day(10))]
    assert of(EARLY, ledger) != []


@pytest.mark.parametrize(("refill_day", "flagged"), [(FIRST_DAY - timedelta(days=1), False), (FIRST_DAY, True)])
def test_an_early_refill_counts_when_its_fill_is_in_the_lookback(refill_day, flagged):
    ledger = [rx("1", start=refill_day - timedelta(days=10)), rx("2", start=refill_day)]
    assert bool(of(EARLY, ledger)) is flagged


# --- Benzodiazepine with opioid ----------------------------------------------------------


def test_it_flags_benzodiazepine_and_opioid_overlap_with_a_naloxone_prompt():
    ledger = [rx("1", start=day(0)), rx("2", "oxycodone", dose="20", start=day(29), prescriber="dr-pain")]
    [flag] = of(OPIOID, ledger)
    assert flag.severity == Severity.HIGH
    assert flag.prescription_ids == ("1", "2")
    assert flag.naloxone_prompt == NALOXONE_PROMPT
    # What the prescriber reads: the 2025 guideline's Rec 17 and Rec 16 (clinical.md 2.1).
    assert flag.naloxone_prompt is not None
    assert flag.naloxone_prompt.startswith("Offer or prescribe naloxone, and reassess the co-prescription")
    assert "(2025 Joint Guideline Rec 17 and 16)" in flag.naloxone_prompt
    assert "between 2026-03-30 and 2026-03-30" in flag.message
    assert "buprenorphine" not in flag.message


@pytest.mark.parametrize("opioid_start", [day(30), day(31)])
def test_back_to_back_benzodiazepine_and_opioid_supplies_do_not_overlap(opioid_start):
    ledger = [rx("1", start=day(0)), rx("2", "oxycodone", start=opioid_start)]
    assert of(OPIOID, ledger, as_of=day(40)) == []


def test_one_benzodiazepine_opioid_flag_gathers_every_overlapping_prescription():
    ledger = [
        rx("1", start=day(0)),
        rx("2", "zolpidem", dose="10", start=day(5)),
        rx("3", "oxycodone", start=day(10)),
        rx("4", "hydrocodone", start=day(-40)),  # ran out before the benzodiazepines started
        rx("5", "methylphenidate", start=day(10)),
    ]
    [flag] = of(OPIOID, ledger)
    assert flag.prescription_ids == ("1", "2", "3")
    assert "clonazepam, zolpidem with oxycodone" in flag.message


def test_buprenorphine_with_a_benzodiazepine_prompts_naloxone_and_says_not_to_stop_it():
    ledger = [rx("1", start=day(0)), rx("2", "buprenorphine", dose="16", start=day(0))]
    [flag] = of(OPIOID, ledger)
    assert flag.naloxone_prompt == NALOXONE_PROMPT
    assert "Do not withhold or disrupt buprenorphine or methadone" in flag.message


@pytest.mark.parametrize(("shared_days", "flagged"), [(6, False), (7, True), (8, True)])
def test_the_benzodiazepine_opioid_minimum_overlap_is_inclusive(shared_days, flagged):
    ledger = [rx("1", start=day(0)), rx("2", "oxycodone", start=day(30 - shared_days))]
    assert bool(of(OPIOID, ledger, as_of=day(35), opioid_overlap_min_days=7)) is flagged


@pytest.mark.parametrize(
    ("opioid_start", "min_days", "flagged"),
    [
        (day(29), None, True),  # default 1: the benzodiazepine's last day is enough
        (day(30), None, False),  # starts the day the benzodiazepine runs out: no day in common
        (day(0), 30, True),  # the same 30 days: the longest overlap two 30-day supplies can have
        (day(0), 31, False),
    ],
)
def test_the_benzodiazepine_opioid_minimum_overlap_at_its_edges(opioid_start, min_days, flagged):
    ledger = [rx("1", start=day(0)), rx("2", "oxycodone", start=opioid_start)]
    thresholds = {} if min_days is None else {"opioid_overlap_min_days": min_days}
    assert Thresholds(**thresholds).opioid_overlap_min_days == (min_days or 1)
    assert bool(of(OPIOID, ledger, as_of=day(35), **thresholds)) is flagged


@pytest.mark.parametrize(("last_shared_day", "flagged"), [(FIRST_DAY - timedelta(days=1), False), (FIRST_DAY, True)])
def test_a_benzodiazepine_opioid_overlap_counts_when_any_day_of_it_is_in_the_lookback(last_shared_day, flagged):
    benzodiazepine = rx("1", start=last_shared_day - timedelta(days=29))  # its last day is last_shared_day
    opioid = rx("2", "oxycodone", start=last_shared_day - timedelta(days=3))
    assert bool(of(OPIOID, [benzodiazepine, opioid])) is flagged


# --- Total daily diazepam-equivalent ----------------------------------------------------


def on_hand(code, ledger, **thresholds):
    """Flags as of 10 Mar, when prescriptions filled on the default 1 Mar are still on hand."""
    return of(code, ledger, as_of=day(9), **thresholds)


@pytest.mark.parametrize(
    ("dose", "flagged"),
    [("14.99", False), ("15", False), ("15.004", False), ("15.005", True), ("15.01", True)],
)
def test_the_total_is_flagged_over_15_mg_diazepam_equivalent_as_shown(dose, flagged):
    # 2025 guideline Table 2: high is > 15 mg; totals compare as shown, to the hundredth.
    assert bool(on_hand(TOTAL, [rx("1", "diazepam", dose=dose)])) is flagged


def test_the_total_sums_several_benzodiazepines_through_the_equivalence_table():
    # Ashton: clonazepam 0.5 = alprazolam 0.5 = 10 mg diazepam; zolpidem 20 = 10 mg.
    ledger = [
        rx("1", "clonazepam", dose="0.25"),  # 5
        rx("2", "alprazolam", dose="0.25", prescriber="dr-b"),  # 5
        rx("3", "zolpidem", dose="10"),  # 5
    ]
    assert on_hand(TOTAL, ledger) == []  # 15: not over
    [flag] = on_hand(TOTAL, [*ledger, rx("4", "diazepam", dose="0.5")])
    assert flag.prescription_ids == ("1", "2", "3", "4")
    assert "total 15.5 mg diazepam-equivalent a day (ashton table)" in flag.message


@pytest.mark.parametrize(("diazepam", "flagged", "shown"), [("5", False, None), ("6", True, "11-16")])
def test_a_range_in_the_table_is_compared_at_its_high_end(diazepam, flagged, shown):
    # Ashton: lormetazepam 1-2 mg = diazepam 10 mg, so 1 mg is 5 to 10 mg diazepam.
    ledger = [rx("1", "lormetazepam", dose="1"), rx("2", "diazepam", dose=diazepam)]
    found = on_hand(TOTAL, ledger)
    assert bool(found) is flagged
    if flagged:
        assert f"total {shown} mg" in found[0].message


def test_the_total_reads_the_chosen_table():
    ledger = [rx("1", "alprazolam", dose="1")]  # Ashton 20 mg; VA/DoD 10 mg
    assert on_hand(TOTAL, ledger) != []
    assert on_hand(TOTAL, ledger, equivalence_table="va_dod") == []


def test_the_total_counts_what_is_on_hand_on_as_of():
    ledger = [rx("1", "diazepam", dose="20", start=day(0))]  # on hand 1-30 Mar
    assert of(TOTAL, ledger, as_of=day(29)) != []
    assert of(TOTAL, ledger, as_of=day(30)) == []


def test_a_refill_from_the_same_prescriber_replaces_the_earlier_supply_in_the_total():
    # Early refill at 10 mg on top of 10 mg left: the patient takes 10, not 20.
    same = [rx("1", "diazepam", dose="10", start=day(0)), rx("2", "diazepam", dose="10", start=day(20))]
    assert of(TOTAL, same, as_of=day(25)) == []
    # The same drug from a second prescriber is summed: taking both is the risk.
    other = [same[0], replace(same[1], prescriber_id="dr-b")]
    [flag] = of(TOTAL, other, as_of=day(25))
    assert flag.prescription_ids == ("1", "2")


def test_a_benzodiazepine_the_table_cannot_convert_is_flagged_and_left_out_of_the_total():
    ledger = [rx("1", "etizolam", dose="1"), rx("2", "diazepam", dose="10")]
    [flag] = on_hand(UNKNOWN, ledger)
    assert flag.prescription_ids == ("1",)
    assert "'etizolam' is not in the benzodiazepine equivalence table" in flag.message
    assert on_hand(TOTAL, ledger) == []
    [va] = on_hand(UNKNOWN, [rx("3", "bromazepam", dose="6")], equivalence_table="va_dod")
    assert "va_dod table gives no equivalent for bromazepam" in va.message


# --- Input, thresholds, order ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"days_supply": 0}, "days' supply must be a whole number of at least 1"),
        ({"daily_dose_mg": D(-1)}, "cannot be negative"),
        ({"filled_on": date(2026, 2, 1)}, r"filled \(2026-02-01\) before it was written \(2026-03-01\)"),
        ({"drug_class": "barbiturate"}, "unknown drug class 'barbiturate'"),
        ({"prescriber_id": ""}, "needs an id, a drug and a prescriber"),
    ],
)
def test_it_refuses_a_prescription_it_cannot_read(change, message):
    with pytest.raises(RiskInputError, match=message):
        replace(rx("1"), **change)


def test_a_drug_class_given_as_text_is_read_as_the_class():
    assert replace(rx("1"), drug_class="z-drug").drug_class is DrugClass.Z_DRUG


def test_it_refuses_a_ledger_with_a_repeated_id():
    with pytest.raises(RiskInputError, match="id 1 appears twice"):
        ledger_flags([rx("1"), rx("1", start=day(5))], as_of=AS_OF)


@pytest.mark.parametrize(
    "bad",
    [
        {"lookback_days": 0},
        {"min_overlap_days": 0},
        {"opioid_overlap_min_days": 0},
        {"early_refill_remaining_fraction": D(1)},
        {"early_refill_remaining_fraction": D("-0.1")},
        {"high_total_dze_mg": D(-1)},
        {"equivalence_table": "bnf"},
    ],
)
def test_it_refuses_thresholds_that_make_no_sense(bad):
    with pytest.raises(RiskInputError):
        Thresholds(**bad)


def test_a_multiple_provider_definition_needs_a_minimum():
    with pytest.raises(RiskInputError, match="at least one minimum"):
        MultipleProviderDefinition("none", None, None, None, 90, "nowhere")


def test_flags_come_most_severe_first_then_by_rule_and_ids():
    ledger = [
        rx("1", "diazepam", dose="20", start=day(0)),
        rx("2", "alprazolam", start=day(10), prescriber="dr-b"),
        rx("3", "oxycodone", start=day(10)),
        rx("4", "diazepam", dose="20", start=day(5)),
    ]
    assert codes(ledger) == [
        ("benzodiazepine_opioid_overlap", ("1", "2", "3", "4")),
        ("early_refill", ("1", "4")),
        ("high_total_daily_dze", ("2", "4")),
        ("overlapping_benzodiazepine_supply", ("1", "2")),
        ("overlapping_benzodiazepine_supply", ("2", "4")),
    ]


def test_the_same_ledger_in_another_order_gives_the_same_flags():
    ledger = [rx(str(i), start=day(3 * i), prescriber=f"dr-{i % 3}", pharmacy=f"ph-{i}") for i in range(8)]
    ledger.append(rx("op", "oxycodone", start=day(2)))
    expected = flags(ledger)
    assert expected
    for shift in range(1, len(ledger)):
        assert flags(ledger[shift:] + ledger[:shift]) == expected
    assert flags(ledger[::-1]) == expected


def test_a_flag_key_names_the_concern_whatever_the_wording():
    a = Flag(OVERLAP, Severity.WARNING, "one wording", ("1", "2"), "src")
    b = replace(a, message="another wording")
    assert a.key == b.key == ("overlapping_benzodiazepine_supply", ("1", "2"))


# --- Properties ------------------------------------------------------------------------

DRUGS = ["clonazepam", "alprazolam", "lormetazepam", "zolpidem", "etizolam", "oxycodone", "buprenorphine"]


@st.composite
def prescriptions(draw, id):
    drug = draw(st.sampled_from([*DRUGS, "methylphenidate"]))
    start = AS_OF - timedelta(days=draw(st.integers(-5, 150)))
    filled = draw(st.booleans())
    return rx(
        id,
        drug,
        start=start,
        days=draw(st.integers(1, 45)),
        dose=str(draw(st.sampled_from(["0.25", "0.5", "1", "2", "10"]))),
        prescriber=draw(st.sampled_from(["dr-a", "dr-b", "dr-c", "dr-d", "dr-e", "dr-f"])),
        pharmacy=draw(st.sampled_from(["ph-1", "ph-2", "ph-3", "ph-4", "ph-5", "ph-6"])),
        filled=filled,
        written=start - timedelta(days=draw(st.integers(0, 5))) if filled else None,
    )


@st.composite
def ledgers(draw, max_size=10):
    size = draw(st.integers(0, max_size))
    return [draw(prescriptions(f"rx{i}")) for i in range(size)]


@settings(max_examples=60, deadline=None)
@given(ledgers(), prescriptions("added"), st.integers(0, 60))
def test_adding_a_prescription_never_removes_an_overlap(ledger, added, days_back):
    as_of = AS_OF - timedelta(days=days_back)
    before = {f.code: f for f in flags(ledger, as_of) if f.code == OPIOID}
    pairs_before = {f.key for f in flags(ledger, as_of) if f.code == OVERLAP}
    after_flags = flags([*ledger, added], as_of)
    assert pairs_before <= {f.key for f in after_flags if f.code == OVERLAP}
    if OPIOID in before:
        [after] = [f for f in after_flags if f.code == OPIOID]
        assert set(before[OPIOID].prescription_ids) <= set(after.prescription_ids)


@settings(max_examples=60, deadline=None)
@given(ledgers(), st.randoms(use_true_random=False))
def test_flags_do_not_depend_on_ledger_order(ledger, rnd):
    shuffled = ledger[:]
    rnd.shuffle(shuffled)
    assert flags(shuffled) == flags(ledger)


@settings(max_examples=60, deadline=None)
@given(ledgers())
def test_every_flag_names_known_prescriptions_in_order_and_only_opioid_flags_prompt_naloxone(ledger):
    ids = {p.id for p in ledger}
    result = flags(ledger)
    for flag in result:
        assert flag.prescription_ids
        assert set(flag.prescription_ids) <= ids
        assert list(flag.prescription_ids) == sorted(set(flag.prescription_ids))
        assert (flag.naloxone_prompt is not None) is (flag.code == OPIOID)
    order = [(-f.severity.rank, f.code.value, f.prescription_ids) for f in result]
    assert order == sorted(order)
    assert len({f.key for f in result}) == len(result)
