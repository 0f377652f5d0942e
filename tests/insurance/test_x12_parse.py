"""parse_271 on the TR3 samples of ../shared/x12-samples and on the messier files payers send.

No database: the parser is pure (STYLE.md). Bad input, truncation and random bytes are in
test_x12_parse_faults.py.
"""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insurance.x12 import codes, parse_271
from insurance.x12.model import Party, Rejection
from tests.insurance.x12_helpers import (
    AAA_271,
    DEPENDENT_271,
    PAYER_C_271,
    SAMPLES_271,
    SUBSCRIBER_271,
    delimiters,
    patient,
    read_segments,
    redelimit,
    sample,
    with_segment,
    write_segments,
)

MH_LIST = ("1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC")


def without_delimiters(data: bytes | str) -> dict:
    found = parse_271(data).to_dict()
    found.pop("delimiters")
    return found


# --- the samples, value by value ------------------------------------------------------------------


def test_it_reads_the_tr3_subscriber_response():
    response = parse_271(sample(SUBSCRIBER_271))

    assert response.ok
    assert response.errors == ()
    assert response.warnings == ()
    assert (response.transaction_set, response.version) == ("271", "005010X279A1")
    assert response.interchange_control_number == "000000907"
    assert (response.group_control_number, response.transaction_control_number) == ("1", "4321")
    assert (response.reference, response.created) == ("10001234", "20060501 1319")
    (source,) = response.sources
    assert source.payer == Party("PR", "Payer", False, "ABC COMPANY", id_qualifier="PI", identifier="841610001")
    assert source.receiver == Party(
        "1P", "Provider", False, "BONE AND JOIN CLINIC", id_qualifier="SV", identifier="2000035"
    )
    (member,) = source.members
    assert response.patient is member
    assert member.name == Party("IL", "Insured or Subscriber", True, "SMITH", "JOHN", "", "", "MI", "123456789")
    assert (member.level, member.member_id) == ("subscriber", "123456789")
    assert (member.birth_date, member.gender, member.traces) == (date(1963, 5, 19), "M", ("93175-012547",))
    (plan_begin,) = member.dates
    assert (plan_begin.qualifier, plan_begin.meaning, plan_begin.start) == ("346", "Plan Begin", date(2006, 1, 1))

    active, pcp, active_list, copay_in, copay_out = member.benefits
    assert (active.code, active.meaning, active.service_types) == ("1", "Active Coverage", ("30",))
    assert active.plan_description == "GOLD 123 PLAN"
    assert (pcp.code, pcp.meaning, pcp.service_types) == ("L", "Primary Care Provider", ())
    assert pcp.related_entities == (
        Party("P3", "Primary Care Provider", True, "JONES", "MARCUS", id_qualifier="SV", identifier="0202034"),
    )
    assert active_list.service_types == MH_LIST
    assert active_list.amount is None
    for copay, amount, in_network in ((copay_in, "10.00", True), (copay_out, "30.00", False)):
        assert (copay.code, copay.meaning, copay.service_types) == ("B", "Co-Payment", MH_LIST)
        assert (copay.insurance_type, copay.plan_description, copay.time_period) == ("HM", "GOLD 123 PLAN", "27")
        assert (copay.amount, copay.in_network, copay.authorization_required) == (Decimal(amount), in_network, None)
    assert response.rejections == ()


def test_it_puts_the_dependents_benefits_under_the_dependent():
    response = parse_271(sample(DEPENDENT_271))

    assert response.ok
    assert response.warnings == ()
    subscriber, dependent = response.members
    assert (subscriber.level, subscriber.member_id, subscriber.benefits) == ("subscriber", "123456789", ())
    assert (subscriber.birth_date, subscriber.gender) == (date(1963, 5, 19), "M")
    assert response.patient is dependent
    assert dependent.name == Party("03", "Dependent", True, "SMITH", "MARY")
    assert (dependent.level, dependent.member_id) == ("dependent", "")
    assert (dependent.birth_date, dependent.gender, dependent.relationship_code) == (date(1998, 10, 14), "F", "19")
    assert dependent.traces == ("93175-012547",)
    assert [(period.qualifier, period.start) for period in dependent.dates] == [("346", date(2006, 1, 1))]
    assert [benefit.code for benefit in dependent.benefits] == ["1", "L", "1", "B", "B"]
    assert [benefit.in_network for benefit in dependent.benefits] == [None, None, None, True, False]
    assert [benefit.amount for benefit in dependent.benefits][3:] == [Decimal("10.00"), Decimal("30.00")]
    assert "MH" in dependent.benefits[3].service_types


def test_it_reports_the_provider_rejection_and_the_se02_mismatch_without_failing():
    response = parse_271(sample(AAA_271))

    assert response.ok
    (warning,) = response.warnings
    assert (warning.severity, warning.code, warning.segment) == ("warning", "control_number", 10)
    assert "SE02 '4323'" in warning.message
    assert "ST02 '4321'" in warning.message
    (source,) = response.sources
    assert source.members == ()
    assert source.rejections == ()
    rejection = Rejection("2100B", True, "50", "Provider Ineligible for Inquiries", "N", "Resubmission Not Allowed")
    assert source.receiver_rejections == (rejection,)
    assert response.rejections == (rejection,)
    assert response.patient is None


def test_it_reads_the_payer_c_variant_with_an_npi_receiver_and_a_dependent_member_id():
    response = parse_271(sample(PAYER_C_271))

    assert response.ok
    assert response.warnings == ()
    (source,) = response.sources
    assert source.payer == Party("PR", "Payer", False, "PAYER C", id_qualifier="PI", identifier="12345")
    assert source.receiver == Party("1P", "Provider", True, "DOE", "JOHN", id_qualifier="XX", identifier="1467857193")
    subscriber, dependent = source.members
    assert (subscriber.member_id, dependent.member_id) == ("00000000001", "00000000002")
    assert dependent.birth_date == date(2015, 1, 1)
    assert dependent.dates[0].start == date(2021, 1, 1)
    assert dependent.traces == ("930000000000",)
    pcp = dependent.benefits[1]
    assert pcp.related_entities[0].identifier == "1467857193"
    assert pcp.related_entities[0].entity == "Provider"


def test_it_keeps_msg_dtp_ref_and_iii_with_their_benefit():
    data = sample(SUBSCRIBER_271)
    for new in reversed(
        [
            "EB*A*IND*AI^CJ*HM*GOLD 123 PLAN*23**0.2***Y*N",
            "DTP*348*RD8*20060101-20061231",
            "REF*G1*PA12345",
            "MSG*PRIOR AUTHORIZATION REQUIRED FOR INTENSIVE OUTPATIENT",
            "III*ZZ*57",
            "EB*F*IND*CJ*HM**23***VS*30*Y*Y",
            "MSG*30 VISITS PER CALENDAR YEAR",
        ]
    ):
        data = with_segment(data, "EB*B**1^33^35^47^86^88^98^AL^MH^UC*HM*GOLD 123 PLAN*27*30.00", new)

    response = parse_271(data)

    assert response.ok
    assert response.warnings == ()
    coinsurance, limit = patient(response).benefits[5:]
    assert (coinsurance.code, coinsurance.meaning, coinsurance.coverage_level) == ("A", "Co-Insurance", "IND")
    assert coinsurance.service_types == ("AI", "CJ")
    assert coinsurance.percent == Decimal("0.2")
    assert (coinsurance.authorization_required, coinsurance.in_network, coinsurance.time_period) == (True, False, "23")
    (benefit_period,) = coinsurance.dates
    assert (benefit_period.meaning, benefit_period.start, benefit_period.end) == (
        "Benefit Begin", date(2006, 1, 1), date(2006, 12, 31),
    )  # fmt: skip
    assert coinsurance.references == (("G1", "PA12345"),)
    assert coinsurance.messages == ("PRIOR AUTHORIZATION REQUIRED FOR INTENSIVE OUTPATIENT",)
    assert coinsurance.additional_information == (("ZZ", "57"),)
    assert (limit.code, limit.quantity_qualifier, limit.quantity, limit.in_network) == ("F", "VS", Decimal(30), True)
    assert limit.messages == ("30 VISITS PER CALENDAR YEAR",)


# --- AAA wherever the payer puts it ---------------------------------------------------------------

AAA_LEVELS = [
    # (sample, insert after, loop, reason, follow-up, where it must land)
    (SUBSCRIBER_271, "HL*1**20", "2000A", "42", "R", "source"),
    (SUBSCRIBER_271, "NM1*PR", "2100A", "T4", "C", "source"),
    (SUBSCRIBER_271, "NM1*1P", "2100B", "43", "C", "receiver"),
    (SUBSCRIBER_271, "HL*3*2*22", "2000C", "15", "C", "subscriber"),
    (SUBSCRIBER_271, "NM1*IL", "2100C", "72", "C", "subscriber"),
    (SUBSCRIBER_271, "EB*1**30", "2110C", "57", "C", "benefit"),
    (DEPENDENT_271, "HL*4*3*23", "2000D", "15", "C", "dependent"),
    (DEPENDENT_271, "NM1*03", "2100D", "67", "N", "dependent"),
    (DEPENDENT_271, "EB*1**30", "2110D", "63", "C", "benefit"),
]


@pytest.mark.parametrize(("name", "after", "loop", "reason", "follow_up", "where"), AAA_LEVELS)
def test_it_puts_an_aaa_in_the_loop_it_sits_in(name, after, loop, reason, follow_up, where):
    response = parse_271(with_segment(sample(name), after, f"AAA*N**{reason}*{follow_up}"))

    assert response.ok
    assert response.warnings == ()
    expected = Rejection(loop, False, reason, codes.reject_reason(reason), follow_up, codes.follow_up_action(follow_up))
    assert not expected.reason.startswith("Unknown")
    assert not expected.follow_up.startswith("Unknown")
    (source,) = response.sources
    holder = {
        "source": source.rejections,
        "receiver": source.receiver_rejections,
        "subscriber": source.members[0].rejections,
        "dependent": source.members[-1].rejections,
        "benefit": patient(response).benefits[0].rejections,
    }
    assert holder[where] == (expected,)
    assert response.rejections == (expected,)


def test_it_reads_rejection_meanings_from_the_tables():
    response = parse_271(with_segment(sample(SUBSCRIBER_271), "NM1*IL", "AAA*N**72*C"))

    (rejection,) = response.rejections
    assert (rejection.reason, rejection.follow_up) == (
        "Invalid/Missing Subscriber/Insured ID",
        "Please Correct and Resubmit",
    )


# --- real-world mess: each gives the same parse -----------------------------------------------------

MESSY = {
    "bom": lambda data: b"\xef\xbb\xbf" + data,
    "bom_as_text": lambda data: "\ufeff" + data.decode(),
    "crlf_and_indentation": lambda data: data.replace(b"~\n", b"~\r\n    "),
    "cr_only": lambda data: data.replace(b"~\n", b"~\r"),
    "one_line": lambda data: data.replace(b"~\n", b"~"),
    "blank_lines": lambda data: data.replace(b"~\n", b"~\n\n\t"),
    "gt_repetition": lambda data: redelimit(data, repetition=">").encode(),
    "pipe_and_bang": lambda data: redelimit(data, element="|", repetition="!", component="}", segment="\n").encode(),
    "non_printing": lambda data: redelimit(data, element="\x1d", repetition="\x1c", component="\x1f", segment="\x1e"),
    "utf16": lambda data: b"\xff\xfe" + data.decode().encode("utf-16-le"),
}


@pytest.mark.parametrize("name", SAMPLES_271)
@pytest.mark.parametrize("mess", sorted(MESSY))
def test_mess_between_and_around_segments_does_not_change_the_parse(name, mess):
    data = sample(name)

    assert without_delimiters(MESSY[mess](data)) == without_delimiters(data)


def test_it_reads_non_printing_delimiters_from_the_isa():
    data = redelimit(sample(SUBSCRIBER_271), element="\x1d", repetition="\x1c", component="\x1f", segment="\x1e")

    response = parse_271(data)

    assert (delimiters(response).element, delimiters(response).repetition) == ("\x1d", "\x1c")
    assert (delimiters(response).component, delimiters(response).segment) == ("\x1f", "\x1e")
    assert patient(response).benefits[2].service_types == MH_LIST


def test_it_ignores_data_after_the_iea_with_a_warning():
    response = parse_271(sample(SUBSCRIBER_271) + b"\n\x00\x00GARBAGE FROM THE MAILBOX\n")

    assert response.ok
    assert [warning.code for warning in response.warnings] == ["trailing_data"]
    assert len(patient(response).benefits) == 5


def test_it_reads_an_isa_that_is_not_fixed_width_with_a_warning():
    data = (
        sample(SUBSCRIBER_271).replace(b"*000000005      *", b"*000000005*").replace(b"*12345          *", b"*12345*")
    )

    response = parse_271(data)

    assert response.ok
    assert [warning.code for warning in response.warnings] == ["isa_layout"]
    assert delimiters(response).repetition == "^"
    assert patient(response).benefits[2].service_types == MH_LIST


def test_it_splits_eb03_on_caret_when_isa11_names_no_repetition_separator():
    data = sample(SUBSCRIBER_271).replace(b"*1147*^*00501*", b"*1147*U*00501*")

    response = parse_271(data)

    assert response.ok
    assert delimiters(response).repetition == ""
    assert patient(response).benefits[2].service_types == MH_LIST
    assert {warning.code for warning in response.warnings} == {"repetition_separator"}


def test_it_does_not_split_eb03_on_caret_when_the_pieces_are_not_codes():
    data = sample(SUBSCRIBER_271).replace(b"*1147*^*00501*", b"*1147*U*00501*").replace(b"EB*1**30*", b"EB*1**30^ALL*")

    response = parse_271(data)

    assert patient(response).benefits[0].service_types == ("30^ALL",)


# --- the property: whitespace, line endings and delimiters never change the parse -----------------

DELIMITER_POOL = ["*", "|", "^", ">", ":", "~", "!", "#", "+", "{", "}", "`", "\x1c", "\x1d", "\x1e", "\x1f"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SAMPLES_271),
    delimiters=st.permutations(DELIMITER_POOL).map(lambda pool: pool[:4]),
    between=st.sampled_from(["", "\n", "\r\n", "\r", "\n    ", "\r\n\t", "  ", "\n\n"]),
    bom=st.booleans(),
    as_bytes=st.booleans(),
)
def test_whitespace_line_endings_and_delimiters_never_change_the_parse(name, delimiters, between, bom, as_bytes):
    element, repetition, component, segment = delimiters
    original = sample(name)
    text = write_segments(
        read_segments(original.decode()).segments,
        element=element,
        repetition=repetition,
        component=component,
        segment=segment,
        between=between,
    )
    text = ("\ufeff" if bom else "") + text

    assert without_delimiters(text.encode() if as_bytes else text) == without_delimiters(original)


def test_unknown_codes_read_as_unknown_and_never_raise():
    data = with_segment(sample(SUBSCRIBER_271), "EB*1**30", "EB*ZZ*QQQ*Z9*XX**99")

    benefit = patient(parse_271(data)).benefits[1]

    assert (benefit.code, benefit.meaning) == ("ZZ", "Unknown code 'ZZ'")
    assert codes.coverage_level("QQQ") == "Unknown code 'QQQ'"
    assert codes.service_type("Z9") == "Unknown code 'Z9'"
    assert codes.reject_reason("ZZ") == "Unknown code 'ZZ'"
    assert codes.follow_up_action("") == ""


def test_every_behavioral_health_service_type_of_clinical_md_has_its_meaning():
    # ../shared/reference/clinical.md 7.1, verbatim; A4-A8 are the codes public tables get wrong.
    assert codes.service_type("A4") == "Psychiatric"
    assert codes.service_type("A6") == "Psychotherapy"
    assert codes.service_type("A7") == "Psychiatric - Inpatient"
    assert codes.service_type("A8") == "Psychiatric - Outpatient"
    assert codes.service_type("AI") == "Substance Abuse"
    assert codes.service_type("AK") == "Drug Addiction"
    assert codes.service_type("CJ") == "Substance Abuse Facility - Outpatient"
    for code in (*codes.BEHAVIORAL_HEALTH_SERVICE_TYPES, "22", "88", "98", "5", "86", "E2"):
        assert not codes.service_type(code).startswith("Unknown"), code
    for code in "12345678ABCDEFGHIJKLMNOPQRSTUVWXY":
        assert not codes.eligibility(code).startswith("Unknown"), code
