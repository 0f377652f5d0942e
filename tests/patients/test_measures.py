import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.measures import AUDIT_C, GAD7, PHQ9, MeasureError, score


def answers_summing_to(instrument, total):
    """Answers for every item that add up to `total` (filled from the first item on)."""
    answers = {}
    for item in instrument.items:
        answers[item] = min(instrument.max_item_score, total)
        total -= answers[item]
    assert total == 0
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_at_every_edge(total, band):
    result = score(PHQ9, answers_summing_to(PHQ9, total))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands_at_every_edge(total, band):
    assert score(GAD7, answers_summing_to(GAD7, total)).band == band


@pytest.mark.parametrize(
    ("sex", "total", "band"),
    [
        ("male", 3, "negative"),
        ("male", 4, "positive"),
        ("female", 2, "negative"),
        ("female", 3, "positive"),
        (None, 2, "negative"),
        (None, 3, "positive"),
        ("male", 12, "positive"),
    ],
)
def test_audit_c_cut_off_depends_on_sex(sex, total, band):
    assert score(AUDIT_C, answers_summing_to(AUDIT_C, total), sex_assigned_at_birth=sex).band == band


def test_phq9_item_9_flags_self_harm_whatever_the_total():
    answers = dict.fromkeys(PHQ9.items, 0) | {"self_harm_thoughts": 1}
    result = score(PHQ9, answers)
    assert result.band == "minimal"
    assert result.flags == ("self-harm thoughts reported: assess safety today",)
    assert score(PHQ9, answers_summing_to(PHQ9, 24)).flags == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mood": 4}, "item mood must be a whole number from 0 to 3"),
        ({"mood": -1}, "item mood must be a whole number from 0 to 3"),
        ({"mood": 1.5}, "item mood must be a whole number from 0 to 3"),
        ({"mood": True}, "item mood must be a whole number from 0 to 3"),
        ({"extra_item": 1}, "has no item extra_item"),
    ],
)
def test_it_refuses_answers_out_of_range_or_unknown(change, message):
    answers = dict.fromkeys(PHQ9.items, 0) | change
    with pytest.raises(MeasureError, match=message):
        score(PHQ9, answers)


def test_it_names_the_missing_items():
    with pytest.raises(MeasureError, match="needs an answer for sleep, energy"):
        score(PHQ9, {item: 0 for item in PHQ9.items if item not in {"sleep", "energy"}})


@given(st.sampled_from([PHQ9, GAD7]), st.data())
def test_the_total_is_the_sum_and_the_band_never_falls_as_it_rises(instrument, data):
    answers = {item: data.draw(st.integers(0, instrument.max_item_score)) for item in instrument.items}
    result = score(instrument, answers)
    assert result.total == sum(answers.values())
    labels = [band.label for band in instrument.bands]
    bumped = next((item for item, value in answers.items() if value < instrument.max_item_score), None)
    if bumped is not None:
        higher = score(instrument, answers | {bumped: answers[bumped] + 1})
        assert labels.index(higher.band) >= labels.index(result.band)
