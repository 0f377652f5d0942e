"""Benefits per level of care from a 271's EB lines, and the patient's share. Pure: no database."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insurance.benefits import (
    DEFAULT_LEVEL_SERVICE_TYPES,
    BenefitSource,
    LevelBenefits,
    estimate_patient_share,
    level_benefits,
)
from insurance.x12.model import Benefit, Rejection

D = Decimal


def eb(code, *service_types, **fields):
    """An EB line as the parser would give it; the meaning does not matter here."""
    return Benefit(code=code, meaning="", service_types=service_types, **fields)


# The benefit lines of the TR3 example in /work/shared/x12-samples/271_lfh_tr3_subscriber_active_copay_MH.271
# (3.1.2): the plan is active; MH and nine other service types are active with a $10 co-pay per
# visit in network and $30 out of network.
TR3_SERVICES = ("1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC")
TR3_BENEFITS = (
    eb("1", "30", plan_description="GOLD 123 PLAN"),
    eb("L"),
    eb("1", *TR3_SERVICES),
    eb("B", *TR3_SERVICES, insurance_type="HM", time_period="27", amount=D("10.00"), in_network=True),
    eb("B", *TR3_SERVICES, insurance_type="HM", time_period="27", amount=D("30.00"), in_network=False),
)


# --- the default mapping --------------------------------------------------------------------------


def test_every_level_ends_with_the_plan_wide_code():
    assert set(DEFAULT_LEVEL_SERVICE_TYPES) == {"php", "iop", "outpatient"}
    for service_types in DEFAULT_LEVEL_SERVICE_TYPES.values():
        assert service_types[-1] == "30"
        assert len(set(service_types)) == len(service_types)


def test_day_programmes_put_the_substance_abuse_facility_first_and_outpatient_the_provider():
    assert DEFAULT_LEVEL_SERVICE_TYPES["php"][:2] == ("CJ", "CH")
    assert DEFAULT_LEVEL_SERVICE_TYPES["iop"][:2] == ("CJ", "CH")
    assert DEFAULT_LEVEL_SERVICE_TYPES["outpatient"][:2] == ("CF", "A6")


def test_it_refuses_a_level_it_has_no_service_types_for():
    with pytest.raises(ValueError, match="detox"):
        level_benefits(TR3_BENEFITS, "detox")
    with pytest.raises(ValueError, match="empty"):
        level_benefits(TR3_BENEFITS, "detox", service_types=())


def test_a_caller_may_pass_its_own_service_types():
    benefits = [eb("B", "AI", amount=D("15")), eb("B", "CJ", amount=D("25"))]
    assert level_benefits(benefits, "iop").copay == D("25")
    assert level_benefits(benefits, "iop", service_types=("AI", "CJ")).copay == D("15")


# --- the TR3 example --------------------------------------------------------------------------------


def test_it_reads_the_tr3_example_for_outpatient_in_network():
    summary = level_benefits(TR3_BENEFITS, "outpatient")
    assert summary.active is True
    assert (summary.copay, summary.copay_period) == (D("10.00"), "visit")
    # The line also names 98 (office visit); MH comes before it in the outpatient precedence.
    assert summary.matched_service_type == "MH"
    assert BenefitSource(field="copay", index=3, code="B", service_type="MH") in summary.sources


def test_it_reads_the_tr3_example_out_of_network():
    summary = level_benefits(TR3_BENEFITS, "iop", in_network=False)
    assert summary.copay == D("30.00")
    assert summary.matched_service_type == "MH"
    assert summary.in_network is False


# --- which line wins --------------------------------------------------------------------------------


def test_the_most_specific_service_type_wins():
    benefits = [
        eb("B", "30", amount=D("50")),
        eb("B", "MH", amount=D("40")),
        eb("B", "CJ", amount=D("25")),
        eb("B", "AI", amount=D("30")),
    ]
    summary = level_benefits(benefits, "php")
    assert (summary.copay, summary.matched_service_type) == (D("25"), "CJ")
    assert [source.index for source in summary.sources if source.field == "copay"] == [2]


def test_a_line_naming_several_service_types_counts_at_its_most_specific():
    benefits = [eb("B", "CH", amount=D("35")), eb("B", "30", "MH", "CJ", amount=D("20"))]
    summary = level_benefits(benefits, "iop")
    assert (summary.copay, summary.matched_service_type) == (D("20"), "CJ")


def test_a_line_without_service_type_applies_plan_wide():
    benefits = [eb("1"), eb("A", percent=D("0.2"))]
    summary = level_benefits(benefits, "iop")
    assert summary.active is True
    assert summary.coinsurance == D("0.2")
    assert {source.service_type for source in summary.sources} == {"30"}


def test_a_plan_wide_line_loses_to_a_specific_one():
    benefits = [eb("A", percent=D("0.5")), eb("A", "AI", percent=D("0.2"))]
    assert level_benefits(benefits, "php").coinsurance == D("0.2")


def test_lines_for_other_service_types_do_not_apply():
    benefits = [eb("B", "A7", amount=D("500")), eb("B", "88", amount=D("5"))]
    summary = level_benefits(benefits, "php")
    assert summary.copay is None
    assert summary.sources == ()
    assert summary.matched_service_type == ""


def test_a_benefit_restricted_to_a_procedure_does_not_apply_to_the_level():
    benefits = [eb("B", "CF", amount=D("75"), procedure="HC:90837"), eb("B", "MH", amount=D("20"))]
    assert level_benefits(benefits, "outpatient").copay == D("20")


def test_a_line_with_a_rejection_is_ignored():
    rejection = Rejection("2110C", True, "42", "Unable to Respond at Current Time", "R", "Resubmission Allowed")
    benefits = [eb("B", "CJ", amount=D("0"), rejections=(rejection,)), eb("B", "AI", amount=D("40"))]
    assert level_benefits(benefits, "iop").copay == D("40")


def test_an_in_network_line_beats_one_that_names_no_network():
    benefits = [eb("B", "CJ", amount=D("60")), eb("B", "CJ", amount=D("20"), in_network=True)]
    assert level_benefits(benefits, "iop").copay == D("20")


def test_a_line_that_names_no_network_applies_to_both():
    benefits = [eb("B", "CJ", amount=D("45"))]
    assert level_benefits(benefits, "iop").copay == D("45")
    assert level_benefits(benefits, "iop", in_network=False).copay == D("45")


def test_a_line_for_the_other_network_never_applies():
    benefits = [eb("B", "CJ", amount=D("20"), in_network=True), eb("B", "30", amount=D("90"), in_network=False)]
    assert level_benefits(benefits, "iop").copay == D("20")
    assert level_benefits(benefits, "iop", in_network=False).copay == D("90")
    assert level_benefits(benefits[:1], "iop", in_network=False).copay is None


def test_specificity_comes_before_network():
    # The payer's MH line names no network; its plan-wide line is in network. The MH figure
    # describes the programme; the plan-wide one only the plan.
    benefits = [eb("B", "30", amount=D("10"), in_network=True), eb("B", "MH", amount=D("35"))]
    assert level_benefits(benefits, "iop").copay == D("35")


def test_the_copay_period_says_per_visit_or_per_day():
    assert level_benefits([eb("B", "CJ", amount=D("50"), time_period="7")], "php").copay_period == "day"
    assert level_benefits([eb("B", "CJ", amount=D("50"), time_period="27")], "php").copay_period == "visit"
    assert level_benefits([eb("B", "CJ", amount=D("50"), time_period="6")], "php").copay_period == "6"
    assert level_benefits([eb("B", "CJ", amount=D("50"))], "php").copay_period == ""


# --- active ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "active"), [("1", True), ("5", True), ("6", False), ("8", False)])
def test_active_reads_eb01(code, active):
    assert level_benefits([eb(code, "30")], "iop").active is active


def test_active_is_unknown_without_a_status_line():
    assert level_benefits([eb("B", "CJ", amount=D("10"))], "iop").active is None


def test_a_specific_status_beats_the_plan_wide_one():
    benefits = [eb("1", "30"), eb("6", "AI")]
    assert level_benefits(benefits, "iop").active is False
    assert level_benefits([eb("6", "30"), eb("1", "CJ")], "iop").active is True


def test_one_active_line_at_the_most_specific_service_type_is_enough():
    # An inactive line for last year's plan next to this year's active one.
    assert level_benefits([eb("6", "AI"), eb("1", "AI")], "iop").active is True


def test_active_falls_back_to_the_plan_even_when_the_caller_left_30_out():
    summary = level_benefits([eb("1", "30")], "iop", service_types=("CJ", "AI"))
    assert summary.active is True
    assert summary.matched_service_type == ""
    assert level_benefits([eb("1", "30")], "iop", service_types=("CJ",)).copay is None


# --- deductible, out of pocket, visit limits ----------------------------------------------------------


def test_the_deductible_prefers_the_individual_and_keeps_the_family_remaining():
    benefits = [
        eb("C", "30", coverage_level="FAM", time_period="23", amount=D("6000")),
        eb("C", "30", coverage_level="FAM", time_period="29", amount=D("4200")),
        eb("C", "30", coverage_level="IND", time_period="23", amount=D("3000")),
        eb("C", "30", coverage_level="IND", time_period="29", amount=D("2500")),
    ]
    summary = level_benefits(benefits, "iop")
    assert (summary.deductible, summary.deductible_remaining) == (D("3000"), D("2500"))
    assert (summary.family_deductible, summary.family_deductible_remaining) == (D("6000"), D("4200"))
    assert {(source.field, source.index) for source in summary.sources} == {
        ("family_deductible", 0),
        ("family_deductible_remaining", 1),
        ("deductible", 2),
        ("deductible_remaining", 3),
    }


def test_the_individual_figure_beats_an_unspecified_or_another_tier():
    benefits = [
        eb("C", "30", coverage_level="ESP", time_period="29", amount=D("3000")),
        eb("C", "30", time_period="29", amount=D("2000")),
        eb("C", "30", coverage_level="IND", time_period="29", amount=D("1000")),
    ]
    assert level_benefits(benefits, "iop").deductible_remaining == D("1000")
    assert level_benefits(benefits[:2], "iop").deductible_remaining == D("2000")


def test_a_copay_for_the_family_tier_applies_only_when_there_is_no_other():
    family = eb("B", "CJ", coverage_level="FAM", amount=D("60"))
    assert level_benefits([family, eb("B", "CJ", coverage_level="IND", amount=D("20"))], "iop").copay == D("20")
    assert level_benefits([family], "iop").copay == D("60")


def test_a_deductible_for_the_service_year_or_the_contract_is_a_total():
    for period in ("22", "25", "23", ""):
        summary = level_benefits([eb("C", "30", time_period=period, amount=D("1500"))], "iop")
        assert (summary.deductible, summary.deductible_remaining) == (D("1500"), None)


def test_the_remaining_deductible_comes_from_the_total_and_the_amount_met_so_far():
    benefits = [
        eb("C", "30", coverage_level="IND", time_period="23", amount=D("2000")),
        eb("C", "30", coverage_level="IND", time_period="24", amount=D("750")),
    ]
    summary = level_benefits(benefits, "iop")
    assert summary.deductible_remaining == D("1250")
    assert {source.field for source in summary.sources} == {"deductible", "deductible_remaining"}


def test_a_remaining_line_beats_the_amount_met_so_far():
    benefits = [
        eb("C", "30", time_period="23", amount=D("2000")),
        eb("C", "30", time_period="24", amount=D("750")),
        eb("C", "30", time_period="29", amount=D("100")),
    ]
    assert level_benefits(benefits, "iop").deductible_remaining == D("100")


def test_the_out_of_pocket_maximum_follows_the_same_rules():
    benefits = [
        eb("G", "30", coverage_level="IND", time_period="23", amount=D("7000")),
        eb("G", "30", coverage_level="IND", time_period="29", amount=D("6100")),
        eb("G", "30", coverage_level="FAM", time_period="29", amount=D("9000")),
    ]
    summary = level_benefits(benefits, "outpatient")
    assert (summary.out_of_pocket, summary.out_of_pocket_remaining) == (D("7000"), D("6100"))
    assert (summary.family_out_of_pocket, summary.family_out_of_pocket_remaining) == (None, D("9000"))


def test_a_specific_deductible_beats_the_plan_wide_one():
    benefits = [eb("C", "30", time_period="29", amount=D("500")), eb("C", "MH", time_period="29", amount=D("0"))]
    assert level_benefits(benefits, "iop").deductible_remaining == D("0")


def test_visit_limits_in_visits_and_days():
    benefits = [
        eb("F", "CJ", time_period="23", quantity_qualifier="DY", quantity=D("30")),
        eb("F", "CJ", time_period="29", quantity_qualifier="DY", quantity=D("12")),
        # A dollar limit is not a visit limit.
        eb("F", "CJ", time_period="29", amount=D("5000")),
    ]
    summary = level_benefits(benefits, "php")
    assert (summary.visit_limit, summary.visit_limit_remaining, summary.visit_limit_unit) == (D("30"), D("12"), "days")
    visits = level_benefits([eb("F", "CF", time_period="23", quantity_qualifier="VS", quantity=D("20"))], "outpatient")
    assert (visits.visit_limit, visits.visit_limit_remaining, visits.visit_limit_unit) == (D("20"), None, "visits")


# --- authorization, exclusions, messages ---------------------------------------------------------------


def test_authorization_is_required_when_any_line_that_applies_says_so():
    benefits = [eb("B", "CJ", amount=D("20"), authorization_required=False), eb("1", "MH", authorization_required=True)]
    summary = level_benefits(benefits, "iop")
    assert summary.authorization_required is True
    assert [s.index for s in summary.sources if s.field == "authorization_required"] == [1]


def test_authorization_not_required_only_when_a_line_says_n_and_none_says_y():
    assert level_benefits([eb("1", "CJ", authorization_required=False)], "iop").authorization_required is False
    assert level_benefits([eb("1", "CJ")], "iop").authorization_required is None


def test_authorization_on_a_line_that_does_not_apply_is_ignored():
    benefits = [
        eb("1", "A7", authorization_required=True),  # inpatient psychiatric
        eb("1", "CJ", authorization_required=True, in_network=False),
        eb("1", "CF", authorization_required=True, procedure="HC:90837"),
    ]
    assert level_benefits(benefits, "iop").authorization_required is None


def test_a_level_excluded_by_the_plan_is_non_covered():
    benefits = [eb("1", "30"), eb("I", "AI", messages=("SUBSTANCE ABUSE NOT COVERED",))]
    summary = level_benefits(benefits, "iop")
    assert summary.non_covered is True
    assert summary.messages == ("SUBSTANCE ABUSE NOT COVERED",)


def test_a_more_specific_covered_line_overrides_a_broader_exclusion():
    benefits = [eb("I", "MH"), eb("B", "CJ", amount=D("40"))]
    assert level_benefits(benefits, "php").non_covered is False


def test_an_exclusion_wins_a_tie():
    assert level_benefits([eb("I", "AI"), eb("1", "AI")], "iop").non_covered is True


def test_messages_come_from_the_lines_used_once_each_in_file_order():
    benefits = [
        eb("B", "30", amount=D("99"), messages=("PLAN WIDE",)),
        eb("1", "CJ", messages=("CALL FOR PRECERT", "PROGRAMME MUST BE LICENSED")),
        eb("B", "CJ", amount=D("20"), messages=("CALL FOR PRECERT",)),
        eb("B", "A7", amount=D("1"), messages=("INPATIENT",)),
    ]
    summary = level_benefits(benefits, "iop")
    assert summary.messages == ("CALL FOR PRECERT", "PROGRAMME MUST BE LICENSED")


# --- the patient's share --------------------------------------------------------------------------------


def covered(**fields):
    return LevelBenefits(level="iop", active=True, **fields)


def test_the_deductible_is_applied_first_then_co_insurance():
    benefits = covered(deductible_remaining=D("250"), coinsurance=D("0.2"))
    estimate = estimate_patient_share(benefits, charge=D("200"), units=3)
    # Unit 2: the last $50 of the deductible, then 20 % of the other $150.
    assert estimate.per_unit == (D("200.00"), D("80.00"), D("40.00"))
    assert estimate.total == D("320.00")
    assert estimate.average == D("106.67")
    assert "The deductible was applied first." in estimate.assumptions


def test_by_default_a_copay_bypasses_the_deductible():
    benefits = covered(deductible_remaining=D("1000"), copay=D("30"), copay_period="visit")
    estimate = estimate_patient_share(benefits, charge=D("150"), units=2)
    assert estimate.per_unit == (D("30.00"), D("30.00"))
    assert any("bypass the deductible" in assumption for assumption in estimate.assumptions)


def test_a_copay_after_the_deductible_when_the_plan_says_so():
    benefits = covered(deductible_remaining=D("200"), copay=D("30"), copay_period="day")
    estimate = estimate_patient_share(benefits, charge=D("150"), units=3, copay_after_deductible=True)
    assert estimate.per_unit == (D("150.00"), D("80.00"), D("30.00"))


def test_a_copay_larger_than_the_charge_costs_the_charge():
    estimate = estimate_patient_share(covered(copay=D("75"), copay_period="visit"), charge=D("60"), units=1)
    assert estimate.total == D("60.00")


def test_the_share_is_capped_at_the_out_of_pocket_remaining():
    benefits = covered(coinsurance=D("0.5"), out_of_pocket_remaining=D("120"))
    estimate = estimate_patient_share(benefits, charge=D("100"), units=4)
    assert estimate.per_unit == (D("50.00"), D("50.00"), D("20.00"), D("0.00"))
    assert "The share was capped at the out-of-pocket amount remaining." in estimate.assumptions


def test_the_family_out_of_pocket_remaining_caps_when_it_is_lower():
    benefits = covered(coinsurance=D("1"), out_of_pocket_remaining=D("500"), family_out_of_pocket_remaining=D("80"))
    assert estimate_patient_share(benefits, charge=D("100"), units=2).total == D("80.00")


def test_an_unknown_out_of_pocket_remaining_is_capped_at_the_maximum():
    benefits = covered(coinsurance=D("1"), out_of_pocket=D("150"))
    estimate = estimate_patient_share(benefits, charge=D("100"), units=3)
    assert estimate.total == D("150.00")
    assert any("out-of-pocket maximum is met" in assumption for assumption in estimate.assumptions)


def test_an_unknown_remaining_deductible_is_taken_as_none_met():
    estimate = estimate_patient_share(covered(deductible=D("300"), coinsurance=D("0.1")), charge=D("200"), units=2)
    assert estimate.per_unit == (D("200.00"), D("110.00"))
    assert any("how much of the deductible is met" in assumption for assumption in estimate.assumptions)


def test_the_family_deductible_applies_when_less_is_left_of_it():
    benefits = covered(deductible_remaining=D("900"), family_deductible_remaining=D("100"), coinsurance=D("0.2"))
    estimate = estimate_patient_share(benefits, charge=D("200"), units=1)
    assert estimate.total == D("120.00")
    assert any("family deductible" in assumption for assumption in estimate.assumptions)


def test_without_copay_or_coinsurance_the_whole_charge_is_shown():
    estimate = estimate_patient_share(covered(), charge=D("180"), units=2)
    assert estimate.total == D("360.00")
    assert "No co-pay or co-insurance found: the whole charge is shown as the patient's share." in estimate.assumptions


@pytest.mark.parametrize(
    ("benefits", "says"),
    [
        (LevelBenefits(level="iop", active=True, non_covered=True, copay=D("10")), "not covered"),
        (LevelBenefits(level="iop", active=False, copay=D("10")), "inactive"),
    ],
)
def test_a_level_not_covered_or_inactive_costs_the_whole_charge(benefits, says):
    estimate = estimate_patient_share(benefits, charge=D("250"), units=3)
    assert estimate.per_unit == (D("250.00"),) * 3
    assert estimate.total == D("750.00")
    assert len(estimate.assumptions) == 1
    assert says in estimate.assumptions[0]


def test_unknown_coverage_is_taken_as_active_and_said():
    estimate = estimate_patient_share(LevelBenefits(level="iop", copay=D("10")), charge=D("100"), units=1)
    assert estimate.total == D("10.00")
    assert any("taken as active" in assumption for assumption in estimate.assumptions)


def test_units_beyond_the_visits_remaining_are_charged_in_full():
    benefits = covered(copay=D("20"), copay_period="day", visit_limit_remaining=D("2"), visit_limit_unit="days")
    estimate = estimate_patient_share(benefits, charge=D("300"), units=4)
    assert estimate.per_unit == (D("20.00"), D("20.00"), D("300.00"), D("300.00"))
    assert any("Only 2 days remain" in assumption for assumption in estimate.assumptions)


def test_units_beyond_the_limit_do_not_count_towards_the_out_of_pocket_cap():
    benefits = covered(coinsurance=D("1"), out_of_pocket_remaining=D("100"), visit_limit_remaining=D("1"))
    assert estimate_patient_share(benefits, charge=D("300"), units=2).per_unit == (D("100.00"), D("300.00"))


def test_a_limit_with_no_count_of_visits_used_is_not_applied_and_said():
    estimate = estimate_patient_share(covered(copay=D("5"), visit_limit=D("20")), charge=D("100"), units=30)
    assert estimate.total == D("150.00")
    assert any("limits this level to 20 visits" in assumption for assumption in estimate.assumptions)


def test_money_is_rounded_to_cents_half_up():
    estimate = estimate_patient_share(covered(coinsurance=D("0.1")), charge=D("100.05"), units=1)
    assert estimate.total == D("10.01")  # 10.005
    assert estimate_patient_share(covered(coinsurance=D("0.1")), charge=D("10.004"), units=1).charge == D("10.00")


def test_no_units_cost_nothing():
    estimate = estimate_patient_share(covered(copay=D("20")), charge=D("100"), units=0)
    assert (estimate.per_unit, estimate.total, estimate.average) == ((), D("0"), D("0"))


def test_it_refuses_negative_charges_and_units():
    with pytest.raises(ValueError, match="charge"):
        estimate_patient_share(covered(), charge=D("-1"), units=1)
    with pytest.raises(ValueError, match="units"):
        estimate_patient_share(covered(), charge=D("1"), units=-1)


def test_it_estimates_from_the_tr3_example():
    summary = level_benefits(TR3_BENEFITS, "outpatient")
    estimate = estimate_patient_share(summary, charge=D("140"), units=4)
    assert estimate.total == D("40.00")


# --- properties ---------------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
maybe_money = st.none() | money
fractions = st.none() | st.decimals(min_value=0, max_value=1, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def level_benefit_summaries(draw, *, limited=True):
    return LevelBenefits(
        level="iop",
        active=draw(st.sampled_from([True, None, False])) if limited else True,
        non_covered=draw(st.booleans()) if limited else False,
        copay=draw(maybe_money),
        copay_period=draw(st.sampled_from(["visit", "day", ""])),
        coinsurance=draw(fractions),
        deductible=draw(maybe_money),
        deductible_remaining=draw(maybe_money),
        family_deductible_remaining=draw(maybe_money),
        out_of_pocket=draw(maybe_money),
        out_of_pocket_remaining=draw(maybe_money),
        family_out_of_pocket_remaining=draw(maybe_money),
        visit_limit=draw(st.none() | st.integers(0, 60).map(Decimal)),
        visit_limit_remaining=draw(st.none() | st.integers(0, 60).map(Decimal)) if limited else None,
    )


@given(
    benefits=level_benefit_summaries(),
    charge=money,
    units=st.integers(0, 40),
    copay_after_deductible=st.booleans(),
)
def test_the_share_is_never_negative_nor_more_than_the_charges(benefits, charge, units, copay_after_deductible):
    estimate = estimate_patient_share(
        benefits, charge=charge, units=units, copay_after_deductible=copay_after_deductible
    )
    assert D(0) <= estimate.total <= units * charge
    assert all(D(0) <= share <= charge for share in estimate.per_unit)
    assert estimate.total == sum(estimate.per_unit)
    assert len(estimate.per_unit) == units
    assert all(share == share.quantize(D("0.01")) for share in estimate.per_unit)


@given(
    benefits=level_benefit_summaries(limited=False),
    charge=money,
    units=st.integers(0, 40),
    copay_after_deductible=st.booleans(),
)
def test_the_share_of_a_covered_level_never_exceeds_the_out_of_pocket_remaining(
    benefits, charge, units, copay_after_deductible
):
    estimate = estimate_patient_share(
        benefits, charge=charge, units=units, copay_after_deductible=copay_after_deductible
    )
    for remaining in (benefits.out_of_pocket_remaining, benefits.family_out_of_pocket_remaining):
        if remaining is not None:
            assert estimate.total <= remaining


@given(
    benefits=level_benefit_summaries(),
    charge=money,
    units=st.integers(0, 40),
    copay_after_deductible=st.booleans(),
)
def test_more_units_never_cost_less(benefits, charge, units, copay_after_deductible):
    fewer = estimate_patient_share(benefits, charge=charge, units=units, copay_after_deductible=copay_after_deductible)
    more = estimate_patient_share(
        benefits, charge=charge, units=units + 1, copay_after_deductible=copay_after_deductible
    )
    assert more.total >= fewer.total
    # The walk is in order: the first units cost the same however many follow.
    assert more.per_unit[:units] == fewer.per_unit


@given(benefits=level_benefit_summaries(), charge=money, units=st.integers(1, 20))
def test_a_copay_after_the_deductible_never_costs_less_than_one_that_bypasses_it(benefits, charge, units):
    bypass = estimate_patient_share(benefits, charge=charge, units=units)
    after = estimate_patient_share(benefits, charge=charge, units=units, copay_after_deductible=True)
    assert after.total >= bypass.total
