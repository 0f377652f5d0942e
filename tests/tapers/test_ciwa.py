"""CIWA-B scoring and the hold-the-next-taper-step decision. Pure: no database."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapers.ciwa import (
    BANDS,
    ITEMS,
    MAX_TOTAL,
    Band,
    CiwaError,
    HoldThresholds,
    band_of,
    hold_decision,
    score,
)

KEYS = [item.key for item in ITEMS]
# ../shared/reference/clinical.md section 3: "0 = no signs of withdrawal; 1-20 mild; 21-40
# moderate; 41-60 severe; 61-80 very severe". Written out here, not read from tapers.ciwa.
REFERENCE_BANDS = {
    Band.NONE: (0, 0),
    Band.MILD: (1, 20),
    Band.MODERATE: (21, 40),
    Band.SEVERE: (41, 60),
    Band.VERY_SEVERE: (61, 80),
}
NORMAL: dict[str, Any] = {"systolic": 120, "diastolic": 80, "pulse": 72}


def answers(total):
    """Item scores in item order adding up to `total`, filled from the first item."""
    values = []
    for _ in ITEMS:
        values.append(min(4, total))
        total -= values[-1]
    return values


def test_it_has_the_20_items_of_the_reference_17_rated_by_the_patient_3_observed():
    assert [item.number for item in ITEMS] == list(range(1, 21))
    assert len(set(KEYS)) == 20
    assert [item.key for item in ITEMS if item.observed] == ["restlessness_agitation", "tremor", "sweating"]
    assert ITEMS[6].label == "heart racing (palpitations)"
    assert MAX_TOTAL == 80


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, Band.NONE),
        (1, Band.MILD),
        (20, Band.MILD),
        (21, Band.MODERATE),
        (40, Band.MODERATE),
        (41, Band.SEVERE),
        (60, Band.SEVERE),
        (61, Band.VERY_SEVERE),
        (80, Band.VERY_SEVERE),
    ],
)
def test_it_bands_every_edge_as_the_reference_does(total, band):
    assert band_of(total) is band
    result = score(answers(total))
    assert (result.total, result.band) == (total, band)


def test_a_total_of_0_is_no_signs_of_withdrawal():
    assert band_of(0) is Band.NONE
    assert Band.NONE.label == "no signs of withdrawal"


def test_the_bands_cover_0_to_80_without_gaps():
    assert [(band, (low, high)) for band, low, high in BANDS] == list(REFERENCE_BANDS.items())
    assert [band.rank for band, _, _ in BANDS] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("total", [-1, 81, 2.5, True, "20"])
def test_it_refuses_a_total_outside_0_to_80(total):
    with pytest.raises(CiwaError, match="whole number from 0 to 80") as error:
        band_of(total)
    assert "total" in error.value.fields


def test_it_scores_a_mapping_and_a_list_alike():
    values = [0, 1, 2, 3, 4] * 4
    by_key = dict(zip(KEYS, values, strict=True))
    assert score(by_key) == score(values)
    assert score(values).total == 40
    assert score(values).items == tuple(values)


@pytest.mark.parametrize(("value", "shown"), [(5, "5"), (-1, "-1"), (2.0, "2.0"), (True, "True"), ("3", "'3'")])
def test_it_refuses_an_item_score_outside_0_to_4_naming_the_item(value, shown):
    values = dict.fromkeys(KEYS, 0) | {"heart_racing": value}
    with pytest.raises(CiwaError) as error:
        score(values)
    assert str(error.value) == (
        f"CIWA-B not scored: item 7 (heart racing (palpitations)) must be a whole number from 0 to 4, not {shown}."
    )
    assert list(error.value.fields) == ["heart_racing"]


@pytest.mark.parametrize("value", [0, 4])
def test_it_takes_an_item_score_at_either_end_of_0_to_4(value):
    assert score(dict.fromkeys(KEYS, value)).total == 20 * value


def test_it_refuses_a_missing_item_naming_it():
    values = dict.fromkeys(KEYS, 1)
    del values["sweating"]
    with pytest.raises(CiwaError, match=r"item 20 \(sweating \(feel palms\)\) is missing") as error:
        score(values)
    assert list(error.value.fields) == ["sweating"]


def test_it_refuses_an_unknown_item_naming_it():
    values = dict.fromkeys(KEYS, 1) | {"nausea": 2}
    with pytest.raises(CiwaError, match="'nausea' is not a CIWA-B item") as error:
        score(values)
    assert list(error.value.fields) == ["nausea"]


def test_it_names_every_item_at_fault_at_once():
    values = dict.fromkeys(KEYS, 1) | {"nausea": 2, "tremor": 7}
    del values["irritable"]
    with pytest.raises(CiwaError) as error:
        score(values)
    assert set(error.value.fields) == {"nausea", "irritable", "tremor"}
    assert "item 1 (irritable) is missing" in str(error.value)
    assert "item 19 (tremor (arms extended, fingers apart)) must be" in str(error.value)


def test_a_list_with_a_value_short_names_the_missing_item_and_one_too_many_is_refused():
    with pytest.raises(CiwaError, match=r"item 20 \(sweating \(feel palms\)\) is missing"):
        score([1] * 19)
    with pytest.raises(CiwaError, match="value 21 has no item") as error:
        score([1] * 21)
    assert list(error.value.fields) == ["value 21"]


def test_it_refuses_text_in_place_of_the_scores():
    with pytest.raises(CiwaError, match="not as text"):
        score("0" * 20)  # type: ignore[arg-type]


# --- Hold decision ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "hold", "escalate"),
    [
        (0, False, False),
        (20, False, False),
        (21, True, False),  # moderate: the default hold band
        (40, True, False),
        (41, True, True),  # severe: consider a higher level of care
        (61, True, True),
        (80, True, True),
    ],
)
def test_it_holds_the_next_step_at_moderate_and_prompts_a_higher_level_of_care_at_severe(total, hold, escalate):
    decision = hold_decision(total, **NORMAL)
    assert (decision.hold, decision.consider_higher_level_of_care, decision.band) == (hold, escalate, band_of(total))
    assert bool(decision.reasons) is hold
    assert any("consider a higher level of care" in r for r in decision.reasons) is escalate


def test_it_holds_next_step_when_ciwa_b_is_severe_with_both_reasons():
    decision = hold_decision(45, **NORMAL)
    assert decision.reasons == (
        "CIWA-B 45 (severe) is at or over the plan's hold threshold (moderate): hold the next taper step and tell "
        "the care team (2025 Joint Guideline Rec 11: pause or slow the taper).",
        "CIWA-B 45 (severe) is severe or worse: consider a higher level of care (2025 Joint Guideline Rec 5: "
        "inpatient care for severe or complicated withdrawal).",
    )


@pytest.mark.parametrize(
    ("band", "hold", "escalate"),
    [
        (Band.NONE, False, False),
        (Band.MILD, False, False),
        (Band.MODERATE, True, False),
        (Band.SEVERE, True, True),
        (Band.VERY_SEVERE, True, True),
    ],
)
def test_it_decides_from_a_band_as_from_a_total(band, hold, escalate):
    decision = hold_decision(band, **NORMAL)
    assert (decision.hold, decision.consider_higher_level_of_care, decision.band) == (hold, escalate, band)
    if hold:
        assert decision.reasons[0].startswith(f"CIWA-B {band.label} is at or over")


@pytest.mark.parametrize(
    ("hold_band", "total", "hold"),
    [(Band.MILD, 0, False), (Band.MILD, 1, True), (Band.SEVERE, 40, False), (Band.SEVERE, 41, True)],
)
def test_the_plan_sets_its_own_hold_band(hold_band, total, hold):
    decision = hold_decision(total, **NORMAL, thresholds=HoldThresholds(hold_band=hold_band))
    assert decision.hold is hold
    if hold:
        assert f"hold threshold ({hold_band.label})" in decision.reasons[0]


def test_the_plan_sets_its_own_higher_level_of_care_band():
    thresholds = HoldThresholds(escalate_band=Band.VERY_SEVERE)
    assert not hold_decision(60, **NORMAL, thresholds=thresholds).consider_higher_level_of_care
    assert hold_decision(61, **NORMAL, thresholds=thresholds).consider_higher_level_of_care


@pytest.mark.parametrize(
    ("vitals", "hold", "reason"),
    [
        ({"systolic": 160, "diastolic": 80}, False, None),
        ({"systolic": 161, "diastolic": 80}, True, "Blood pressure 161/80 is over 160/100"),
        ({"systolic": 150, "diastolic": 100}, False, None),
        ({"systolic": 150, "diastolic": 101}, True, "Blood pressure 150/101 is over 160/100"),
        ({"pulse": 100}, False, None),
        ({"pulse": 101}, True, "Pulse 101 a minute is over 100"),
    ],
)
def test_it_holds_the_next_step_on_blood_pressure_or_pulse_over_the_limit(vitals, hold, reason):
    decision = hold_decision(5, **(NORMAL | vitals))
    assert (decision.hold, decision.consider_higher_level_of_care) == (hold, False)
    assert len(decision.reasons) == (0 if reason is None else 1)
    if reason:
        assert decision.reasons[0].startswith(reason)
        assert "(clinic default)" in decision.reasons[0]


def test_the_vital_limits_are_thresholds():
    thresholds = HoldThresholds(max_systolic=140, max_diastolic=90, max_pulse=110)
    assert hold_decision(5, systolic=141, diastolic=80, pulse=72, thresholds=thresholds).hold
    assert not hold_decision(5, systolic=140, diastolic=90, pulse=110, thresholds=thresholds).hold


def test_every_reason_is_given_together():
    decision = hold_decision(30, systolic=170, diastolic=105, pulse=120)
    assert decision.hold
    assert [r.split(" ")[0] for r in decision.reasons] == ["CIWA-B", "Blood", "Pulse"]


def test_a_vital_sign_not_taken_is_not_checked():
    decision = hold_decision(5, systolic=None, diastolic=None, pulse=None)
    assert (decision.hold, decision.reasons) == (False, ())
    decision = hold_decision(5, systolic=None, diastolic=105, pulse=None)
    assert decision.reasons[0].startswith("Blood pressure -/105 is over")


@pytest.mark.parametrize(
    ("vitals", "field"),
    [
        ({"systolic": 0}, "systolic"),
        ({"pulse": -5}, "pulse"),
        ({"pulse": 72.5}, "pulse"),
        ({"diastolic": True}, "diastolic"),
        ({"systolic": 80, "diastolic": 80}, "diastolic"),
    ],
)
def test_it_refuses_vital_signs_that_cannot_be_right(vitals, field):
    with pytest.raises(CiwaError, match="Vital signs not read") as error:
        hold_decision(5, **(NORMAL | vitals))
    assert list(error.value.fields) == [field]


def test_it_refuses_a_total_outside_the_scale_in_a_hold_decision():
    with pytest.raises(CiwaError, match="whole number from 0 to 80"):
        hold_decision(81, **NORMAL)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hold_band": Band.NONE}, "mild or above"),
        ({"escalate_band": Band.NONE}, "mild or above"),
        ({"hold_band": Band.VERY_SEVERE}, "cannot be above"),
    ],
)
def test_it_refuses_thresholds_that_would_take_a_step_while_considering_a_higher_level(change, message):
    with pytest.raises(CiwaError, match=message):
        HoldThresholds(**change)


# --- Properties ------------------------------------------------------------------------

item_scores = st.lists(st.integers(0, 4), min_size=20, max_size=20)


@settings(max_examples=100, deadline=None)
@given(item_scores)
def test_the_total_is_the_sum_and_its_band_contains_it(values):
    result = score(values)
    assert result.total == sum(values)
    low, high = REFERENCE_BANDS[result.band]
    assert low <= result.total <= high


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 80), st.integers(0, 80))
def test_a_higher_total_never_relaxes_the_decision(lower, higher):
    lower, higher = sorted((lower, higher))
    a, b = hold_decision(lower, **NORMAL), hold_decision(higher, **NORMAL)
    assert a.hold <= b.hold
    assert a.consider_higher_level_of_care <= b.consider_higher_level_of_care
    assert not b.consider_higher_level_of_care or b.hold
