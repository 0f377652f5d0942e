from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.placement import LEVEL_ORDER, BenzodiazepineUse, Intake, propose

D = Decimal


def benzo(drug="alprazolam", mg="0.5", months=12, days=7):
    return BenzodiazepineUse(drug, D(mg), months, days)


def test_no_risk_factors_proposes_outpatient():
    proposal = propose(Intake(benzodiazepines=[benzo(mg="0.25", months=0, days=2)]))
    assert (proposal.level, proposal.rule_ids) == ("outpatient", ())


def test_long_frequent_use_proposes_iop_with_its_reason():
    proposal = propose(Intake(benzodiazepines=[benzo(mg="0.25", months=6)]))  # 5 mg DZE for 6 months
    assert proposal.level == "iop"
    assert proposal.rule_ids == ("withdrawal_risk",)
    assert proposal.total_daily_dze_mg == (D(5), D(5))


def test_high_dose_for_months_proposes_php_and_sums_every_benzodiazepine():
    # clonazepam 0.5 mg (10 mg DZE) + alprazolam 0.5 mg (10 mg DZE) = 20 mg DZE, Ashton.
    proposal = propose(Intake(benzodiazepines=[benzo("clonazepam", "0.5"), benzo("alprazolam", "0.5")]))
    assert proposal.level == "php"
    assert "high_dose_long_use" in proposal.rule_ids
    assert proposal.total_daily_dze_mg == (D(20), D(20))


def test_the_high_dose_edge_is_exclusive():
    # Exactly 15 mg DZE is "moderate" (Table 2: high is > 15).
    assert "high_dose_long_use" not in propose(Intake(benzodiazepines=[benzo("diazepam", "15")])).rule_ids
    assert "high_dose_long_use" in propose(Intake(benzodiazepines=[benzo("diazepam", "15.5")])).rule_ids


def test_a_past_withdrawal_seizure_proposes_withdrawal_management():
    proposal = propose(Intake(benzodiazepines=[benzo()], prior_withdrawal_seizure=True))
    assert proposal.level == "wm"
    assert proposal.reasons[0].startswith("Past withdrawal seizure")


@pytest.mark.parametrize("question", [4, 5, 6])
def test_high_suicide_risk_on_the_cssrs_refers_out_with_a_same_day_safety_evaluation(question):
    proposal = propose(Intake(benzodiazepines=[benzo(mg="0.25", months=0, days=2)], cssrs={question: True}))
    assert proposal.level == "residential"
    assert "same-day safety evaluation" in proposal.reasons[0]


def test_cssrs_ideation_alone_is_not_high_risk():
    assert propose(Intake(cssrs={1: True, 2: True, 3: False})).level == "outpatient"


@pytest.mark.parametrize("co_use", [{"alcohol_most_days": True}, {"opioid_illicit": True}])
def test_alcohol_or_illicit_opioid_co_use_proposes_at_least_php(co_use):
    assert propose(Intake(benzodiazepines=[benzo(mg="0.25", months=0, days=2)], **co_use)).level == "php"


def test_prescribed_opioids_alone_do_not_raise_the_level_but_prompt_naloxone():
    proposal = propose(Intake(benzodiazepines=[benzo(mg="0.25", months=0, days=2)], opioid_prescribed=True))
    assert proposal.level == "outpatient"
    assert proposal.rule_ids == ("prescribed_opioid_co_use",)
    assert "naloxone" in proposal.reasons[0]


def test_an_unstable_home_matters_only_when_withdrawal_is_likely():
    assert propose(Intake(unstable_home=True)).level == "outpatient"
    assert propose(Intake(benzodiazepines=[benzo(mg="0.25", months=6)], unstable_home=True)).level == "php"


@given(
    seizure=st.booleans(),
    alcohol=st.booleans(),
    home=st.booleans(),
    cssrs=st.dictionaries(st.integers(1, 6), st.booleans()),
    months=st.integers(0, 120),
    dose=st.decimals(min_value=0, max_value=10, places=2),
)
def test_adding_a_risk_factor_never_lowers_the_proposed_level(seizure, alcohol, home, cssrs, months, dose):
    base = Intake(benzodiazepines=[benzo(mg=str(dose), months=months)], cssrs=cssrs)
    riskier = Intake(
        benzodiazepines=base.benzodiazepines,
        cssrs=cssrs,
        prior_withdrawal_seizure=seizure,
        alcohol_most_days=alcohol,
        unstable_home=home,
    )
    assert LEVEL_ORDER.index(propose(riskier).level) <= LEVEL_ORDER.index(propose(base).level)


def test_thresholds_are_the_clinics_to_set():
    from patients.placement import Thresholds

    intake = Intake(benzodiazepines=[benzo("diazepam", "12", months=6)])
    assert "high_dose_long_use" not in propose(intake).rule_ids
    assert "high_dose_long_use" in propose(intake, thresholds=Thresholds(high_dose_dze_mg=D(10))).rule_ids
    occasional = Intake(benzodiazepines=[benzo(mg="0.25", months=6, days=3)])
    assert propose(occasional).level == "outpatient"
    assert propose(occasional, thresholds=Thresholds(frequent_days_per_week=3)).level == "iop"


def test_co_use_rules_need_a_benzodiazepine():
    # This program places people who take benzodiazepines; alcohol or opioids alone are
    # assessed elsewhere, and the reasons say "alongside" / "with a benzodiazepine".
    proposal = propose(Intake(alcohol_most_days=True, opioid_prescribed=True, opioid_illicit=True))
    assert (proposal.level, proposal.rule_ids) == ("outpatient", ())


def test_prescribed_and_illicit_opioids_both_give_their_reasons():
    proposal = propose(Intake(benzodiazepines=[benzo()], opioid_prescribed=True, opioid_illicit=True))
    assert {"opioid_or_alcohol_co_use", "prescribed_opioid_co_use"} <= set(proposal.rule_ids)


def test_a_high_dose_taken_rarely_is_not_high_dose_long_use():
    # Table 2: use on 3 days a week or fewer carries "rare" withdrawal risk.
    proposal = propose(Intake(benzodiazepines=[benzo("diazepam", "30", months=12, days=1)]))
    assert proposal.level == "outpatient"


def test_duration_and_frequency_are_read_per_drug():
    # Clonazepam once a week for two years and zolpidem nightly for a few weeks: neither
    # pattern is "3 months at 4 days a week or more".
    proposal = propose(
        Intake(benzodiazepines=[benzo("clonazepam", "0.25", months=24, days=1), benzo("zolpidem", "10", months=0)])
    )
    assert proposal.level == "outpatient"


def test_the_rules_read_the_total_as_shown():
    # 15.001 mg shows as 15.00, which is not over 15: the figure and the rule agree.
    proposal = propose(Intake(benzodiazepines=[benzo("diazepam", "15.001", months=12)]))
    assert proposal.total_daily_dze_mg == (D("15.00"), D("15.00"))
    assert "high_dose_long_use" not in proposal.rule_ids
