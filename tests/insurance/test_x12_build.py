"""build_270, checked with a generic segment reader (not our parser) and against the TR3 270 examples
in ../shared/x12-samples."""

import dataclasses
import re
from datetime import UTC, date, datetime

import pytest
import time_machine

from insurance.x12 import build_270
from insurance.x12.model import Delimiters, EligibilityInquiry, InquiryEnvelope, InquiryPerson
from tests.insurance.x12_helpers import read_segments, sample

NPI = "1234567893"

ENVELOPE = InquiryEnvelope(
    sender_id="000000005",
    receiver_id="12345",
    interchange_control_number=907,
    group_control_number=1,
    usage="T",
    sender_qualifier="30",
    receiver_qualifier="30",
)

# The TR3 subscriber example (270_lfh_tr3_subscriber_EQ30.270) as an inquiry.
TR3_SUBSCRIBER = EligibilityInquiry(
    envelope=ENVELOPE,
    payer_name="ABC Company",
    payer_id="842610001",
    provider_name="Bone and Joint Clinic",
    provider_npi=NPI,
    subscriber=InquiryPerson("Smith", "Robert", birth_date=date(1943, 5, 19), member_id="11122333301"),
    trace_number="93175-012547",
    trace_originator="9877281234",
    service_types=("30",),
    service_date=date(2006, 5, 1),
    transaction_control_number="1234",
    reference="10001234",
    created_at=(date(2006, 5, 1), "1319"),
)

# The TR3 dependent example (270_lfh_tr3_dependent_EQ30.270): the subscriber known by member id only.
TR3_DEPENDENT = dataclasses.replace(
    TR3_SUBSCRIBER,
    subscriber=InquiryPerson("", "", member_id="11122333301"),
    dependent=InquiryPerson("Smith", "Mary", birth_date=date(1978, 10, 14), relationship_code="19"),
)


def structure(text):
    """Every envelope and hierarchy rule a receiver checks, on the segments as a plain reader sees them."""
    read = read_segments(text)
    tags = [elements[0] for elements in read.segments]
    assert len(read.isa) == 106
    assert read.isa.endswith(read.segment)
    assert tags[:3] == ["ISA", "GS", "ST"]
    assert tags[-3:] == ["SE", "GE", "IEA"]
    isa, gs, st, *body, se, ge, iea = read.segments
    assert int(se[1]) == len(body) + 2
    assert se[2] == st[2]
    assert ge == ["GE", "1", gs[6]]
    assert iea == ["IEA", "1", isa[13]]
    assert (gs[1], gs[8], st[1], st[3]) == ("HS", "005010X279A1", "270", "005010X279A1")
    assert (isa[11], isa[12], isa[14], isa[16]) == (read.repetition, "00501", "0", read.component)
    levels: dict[str, str | None] = {}
    for elements in body:
        if elements[0] == "HL":
            hl_id, parent, level = elements[1], elements[2], elements[3]
            expected_parent_level = {"20": None, "21": "20", "22": "21", "23": "22"}[level]
            assert levels.get(parent) == expected_parent_level, elements
            levels[hl_id] = level
    return read


def test_it_builds_the_tr3_subscriber_example_segment_for_segment():
    built = structure(build_270(TR3_SUBSCRIBER)).segments
    tr3 = read_segments(sample("270_lfh_tr3_subscriber_EQ30.270").decode()).segments

    # From ST to SE; the one difference: we name ourselves by NPI (XX), the example by a payer id (SV).
    tr3_body = [
        ["NM1", "1P", "2", "BONE AND JOINT CLINIC", "", "", "", "", "XX", NPI] if s[:2] == ["NM1", "1P"] else s
        for s in tr3[2:-2]
    ]
    assert built[2:-2] == tr3_body
    assert built[1][:3] == tr3[1][:3]
    assert built[-2:] == tr3[-2:]


def test_it_builds_the_tr3_dependent_example_segment_for_segment():
    built = structure(build_270(TR3_DEPENDENT)).segments
    tr3 = read_segments(sample("270_lfh_tr3_dependent_EQ30.270").decode()).segments

    # The example's provider is a person with a payer-assigned id; ours is the clinic by NPI.
    assert [s for s in built[2:-2] if s[:2] != ["NM1", "1P"]] == [s for s in tr3[2:-2] if s[:2] != ["NM1", "1P"]]


def test_the_single_line_tr3_example_matches_too():
    built = read_segments(build_270(TR3_SUBSCRIBER)).segments
    tr3 = read_segments(sample("270_lfh_tr3_subscriber_single_line.270").decode()).segments

    assert [s for s in built[3:-2] if s[:2] != ["NM1", "1P"]] == [s for s in tr3[3:-2] if s[:2] != ["NM1", "1P"]]


def test_the_isa_is_fixed_width_with_padded_ids():
    text = build_270(TR3_SUBSCRIBER)

    assert text[:106] == (
        "ISA*00*          *00*          *30*000000005      *30*12345          *060501*1319*^*00501*000000907*0*T*:~"
    )
    assert "\n" not in text


def test_it_asks_one_eq_per_service_type_in_the_patients_loop():
    inquiry = dataclasses.replace(TR3_SUBSCRIBER, service_types=("30", "AI", "AJ", "AK", "MH", "AI"))

    segments = structure(build_270(inquiry)).segments

    assert [s for s in segments if s[0] == "EQ"] == [
        ["EQ", "30"],
        ["EQ", "AI"],
        ["EQ", "AJ"],
        ["EQ", "AK"],
        ["EQ", "MH"],
    ]
    tags = [s[0] for s in segments]
    assert tags[tags.index("TRN") : tags.index("SE")] == ["TRN", "NM1", "DMG", "DTP", "EQ", "EQ", "EQ", "EQ", "EQ"]


def test_a_dependent_gets_its_own_hl_with_the_trace_date_and_questions():
    inquiry = dataclasses.replace(
        TR3_SUBSCRIBER,
        subscriber=dataclasses.replace(TR3_SUBSCRIBER.subscriber, group_number="G-77"),
        dependent=InquiryPerson("O'Brien", "José", middle_name="q", birth_date=date(2010, 2, 3), gender="F"),
    )

    segments = structure(build_270(inquiry)).segments

    subscriber_at, dependent_at = (
        segments.index(["HL", "3", "2", "22", "1"]),
        segments.index(["HL", "4", "3", "23", "0"]),
    )
    # No TRN, DTP or EQ in the subscriber's loops: they belong to the patient, the dependent.
    assert [s[0] for s in segments[subscriber_at:dependent_at]] == ["HL", "NM1", "REF", "DMG"]
    assert segments[dependent_at + 1 :][:5] == [
        ["TRN", "1", "93175-012547", "9877281234"],
        ["NM1", "03", "1", "O'BRIEN", "JOSE", "Q"],
        ["DMG", "D8", "20100203", "F"],
        ["DTP", "291", "D8", "20060501"],
        ["EQ", "30"],
    ]
    assert ["REF", "6P", "G-77"] in segments


def test_other_delimiters_give_the_same_segments():
    odd = dataclasses.replace(TR3_DEPENDENT, delimiters=Delimiters("\x1d", "\x1c", "\x1f", "\x1e"))

    plain = read_segments(build_270(TR3_DEPENDENT)).segments
    built = structure(build_270(odd))

    assert (built.element, built.repetition, built.component, built.segment) == ("\x1d", "\x1c", "\x1f", "\x1e")
    assert built.segments[0][:11] == plain[0][:11]
    assert built.segments[1:] == plain[1:]


@pytest.mark.parametrize(
    ("change", "field", "char"),
    [
        ({"subscriber": InquiryPerson("SMITH*JONES", "ANN", member_id="1")}, "subscriber.last_name", "'*'"),
        ({"provider_name": "BONE: NORTH"}, "provider_name", "':'"),
        ({"payer_name": "A~B"}, "payer_name", "'~'"),
        ({"trace_number": "12^34"}, "trace_number", "'^'"),
        ({"dependent": InquiryPerson("LI", "李")}, "dependent.first_name", "'李'"),
    ],
)
def test_it_refuses_text_it_cannot_carry_and_names_the_field(change, field, char):
    with pytest.raises(ValueError, match="contains") as raised:
        build_270(dataclasses.replace(TR3_SUBSCRIBER, **change))

    message = str(raised.value)
    assert message.startswith(field)
    assert char in message
    assert "JONES" not in message
    assert "NORTH" not in message


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"provider_npi": "12345"}, "provider_npi must be 10"),
        ({"provider_npi": "12345678AB"}, "10-digit NPI"),
        ({"trace_originator": "123"}, "trace_originator must be 10"),
        ({"service_types": ()}, "service_types is empty"),
        ({"service_types": ("30", "ZZ")}, "'ZZ'"),
        ({"envelope": dataclasses.replace(ENVELOPE, interchange_control_number=0)}, "interchange_control_number"),
        ({"envelope": dataclasses.replace(ENVELOPE, usage="X")}, "usage"),  # type: ignore[arg-type]
        ({"delimiters": Delimiters("*", "*", ":", "~")}, "must all differ"),
        ({"delimiters": Delimiters("A", "^", ":", "~")}, "Delimiter 'A'"),
        ({"subscriber": InquiryPerson("A", "B", gender="X", birth_date=date(2000, 1, 1))}, "gender"),
    ],
)
def test_it_refuses_an_inquiry_a_payer_would_reject(change, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        build_270(dataclasses.replace(TR3_SUBSCRIBER, **change))


def test_without_a_birth_date_there_is_no_dmg():
    inquiry = dataclasses.replace(
        TR3_SUBSCRIBER, subscriber=InquiryPerson("SMITH", "ROBERT", gender="M", member_id="1")
    )

    assert not [s for s in read_segments(build_270(inquiry)).segments if s[0] == "DMG"]


@time_machine.travel(datetime(2026, 3, 4, 5, 6, tzinfo=UTC), tick=False)
def test_it_stamps_the_current_time_when_none_is_given():
    segments = read_segments(build_270(dataclasses.replace(TR3_SUBSCRIBER, created_at=None))).segments

    assert segments[0][9:11] == ["260304", "0506"]
    assert segments[1][4:6] == ["20260304", "0506"]
    assert segments[3][4:6] == ["20260304", "0506"]
