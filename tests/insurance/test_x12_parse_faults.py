"""parse_271 on faulty input: not X12, cut short, the wrong transaction set, broken envelopes, bad
values, random bytes. Errors mean "do not trust this"; warnings never stop the parse; nothing raises."""

import json
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insurance.x12 import parse_271
from insurance.x12.loops import LoopReader
from tests.insurance.x12_helpers import (
    DEPENDENT_271,
    SAMPLES_271,
    SUBSCRIBER_271,
    patient,
    read_segments,
    sample,
    with_segment,
    write_segments,
)


def codes_of(issues):
    return [issue.code for issue in issues]


@pytest.mark.parametrize("data", [b"", b"   \n", b"hello, world", b"<xml>ISA</xml>", "%PDF-1.7", b"\x00\xff" * 50])
def test_it_says_not_x12_when_there_is_no_isa(data):
    response = parse_271(data)

    assert not response.ok
    assert codes_of(response.errors) == ["not_x12"]
    assert response.sources == ()
    assert response.rejections == ()


@pytest.mark.parametrize("name", SAMPLES_271)
def test_a_file_cut_inside_the_transaction_set_is_an_error_with_no_benefits(name):
    data = sample(name)
    cut = data[: data.index(b"SE*")]

    response = parse_271(cut)

    assert not response.ok
    assert set(codes_of(response.errors)) == {"truncated"}
    assert response.sources == ()
    assert response.members == ()
    assert response.rejections == ()
    assert response.transaction_set == "271"
    assert response.interchange_control_number == "000000907"


def test_a_file_cut_mid_benefit_gives_no_benefits():
    data = sample(SUBSCRIBER_271)

    response = parse_271(data[: data.index(b"EB*B**1") + 12])

    assert not response.ok
    assert response.sources == ()
    assert "no SE trailer" in response.errors[0].message


def test_a_whole_transaction_set_in_a_cut_interchange_keeps_its_benefits_but_is_not_ok():
    data = sample(SUBSCRIBER_271)

    response = parse_271(data[: data.index(b"GE*")])

    assert not response.ok
    assert [issue.message for issue in response.errors] == [
        "A functional group has no GE trailer: the file was cut short.",
        "The interchange has no IEA trailer: the file was cut short.",
    ]
    assert len(patient(response).benefits) == 5


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("270_lfh_tr3_subscriber_EQ30.270", "270"),
        ("270_lfh_tr3_dependent_EQ30.270", "270"),
        ("270_lfh_tr3_subscriber_single_line.270", "270"),
        ("270_lfh_v2021_subscriber_drug_in_office_HI_AMT_III.270", "270"),
        ("270_lfh_v2021_dependent_commercial_HI_INS.270", "270"),
    ],
)
def test_a_270_is_the_wrong_transaction_with_no_benefits(name, kind):
    response = parse_271(sample(name))

    assert not response.ok
    assert codes_of(response.errors) == ["wrong_transaction"]
    assert response.transaction_set == kind
    assert response.sources == ()
    assert "eligibility inquiry (270)" in response.errors[0].message


def test_an_835_is_the_wrong_transaction():
    segments = read_segments(sample(SUBSCRIBER_271).decode()).segments
    remittance = [
        segments[0],
        ["GS", "HP", "000000005", "54321", "20131031", "1147", "1", "X", "005010X221A1"],
        ["ST", "835", "0001"],
        ["BPR", "I", "1734.53", "C", "CHK"],
        ["TRN", "1", "0922121677", "1661318600"],
        ["CLP", "PCN000001", "1", "1797.81", "1258.47", "", "CH", "148194179472"],
        ["SE", "5", "0001"],
        ["GE", "1", "1"],
        ["IEA", "1", "000000907"],
    ]

    response = parse_271(write_segments(remittance))

    assert not response.ok
    assert codes_of(response.errors) == ["wrong_transaction"]
    assert response.transaction_set == "835"
    assert "remittance advice (835)" in response.errors[0].message
    assert response.sources == ()
    assert response.warnings == ()


def test_an_interchange_with_no_transaction_set_is_an_error():
    segments = read_segments(sample(SUBSCRIBER_271).decode()).segments

    response = parse_271(write_segments([segments[0], ["IEA", "0", "000000907"]]))

    assert not response.ok
    assert codes_of(response.errors) == ["no_transaction"]


def test_envelope_counts_and_control_numbers_that_disagree_are_warnings():
    data = (
        sample(SUBSCRIBER_271)
        .replace(b"SE*22*4321", b"SE*21*4322")
        .replace(b"GE*1*1", b"GE*2*9")
        .replace(b"IEA*1*000000907", b"IEA*3*000000908")
    )

    response = parse_271(data)

    assert response.ok
    assert len(patient(response).benefits) == 5
    assert codes_of(response.warnings) == [
        "segment_count",
        "control_number",
        "transaction_count",
        "control_number",
        "group_count",
        "control_number",
    ]
    assert response.warnings[0].message == "SE01 says '21' segments but the transaction set has 22."


def test_it_reads_every_271_of_a_batch_and_says_so():
    segments = read_segments(sample(SUBSCRIBER_271).decode()).segments
    st_at = next(i for i, s in enumerate(segments) if s[0] == "ST")
    se_at = next(i for i, s in enumerate(segments) if s[0] == "SE")
    second = [list(s) for s in segments[st_at : se_at + 1]]
    second[0][2] = second[-1][2] = "4322"
    batch = segments[: se_at + 1] + second + [["GE", "2", "1"], segments[-1]]

    response = parse_271(write_segments(batch))

    assert response.ok
    assert codes_of(response.warnings) == ["multiple_transactions"]
    assert len(response.sources) == 2
    assert response.transaction_control_number == "4321"


def test_a_dependent_goes_under_the_subscriber_its_hl02_names_whatever_the_order():
    segments = read_segments(sample(DEPENDENT_271).decode()).segments
    se_at = next(i for i, s in enumerate(segments) if s[0] == "SE")
    # A second subscriber (HL 5 under receiver 2) between the first subscriber and its dependent.
    dependent_at = next(i for i, s in enumerate(segments) if s[:4] == ["HL", "4", "3", "23"])
    segments[dependent_at:dependent_at] = [["HL", "5", "2", "22", "0"], ["NM1", "IL", "1", "ROE", "RICHARD"]]
    segments[se_at + 2][1] = str(int(segments[se_at + 2][1]) + 2)

    response = parse_271(write_segments(segments))

    assert response.ok
    assert response.warnings == ()
    assert [(m.level, m.name and m.name.first_name) for m in response.members] == [
        ("subscriber", "JOHN"), ("dependent", "MARY"), ("subscriber", "RICHARD"),
    ]  # fmt: skip


def test_a_dependent_whose_parent_is_missing_is_attached_to_the_subscriber_before_it_with_a_warning():
    response = parse_271(sample(DEPENDENT_271).replace(b"HL*4*3*23*0", b"HL*4*9*23*0"))

    assert response.ok
    assert codes_of(response.warnings) == ["hl_parent"]
    assert [member.level for member in response.members] == ["subscriber", "dependent"]
    assert len(patient(response).benefits) == 5


@pytest.mark.parametrize(
    ("segment", "code"),
    [
        ("EB*B**MH*HM**27*10.OO", "bad_number"),
        ("EB*B**MH*HM**27*NaN", "bad_number"),
        ("EB*A**MH****1E+2", "bad_number"),
    ],
)
def test_a_bad_number_is_a_warning_and_none(segment, code):
    response = parse_271(with_segment(sample(SUBSCRIBER_271), "EB*1**30", segment))

    assert response.ok
    assert codes_of(response.warnings) == [code]
    benefit = patient(response).benefits[1]
    assert benefit.amount is None
    assert benefit.percent is None
    assert benefit.service_types == ("MH",)
    assert len(patient(response).benefits) == 6


def test_a_percent_sent_as_a_whole_number_is_kept_with_a_warning():
    response = parse_271(with_segment(sample(SUBSCRIBER_271), "EB*1**30", "EB*A**MH***23**20"))

    assert codes_of(response.warnings) == ["percent_scale"]
    assert patient(response).benefits[1].percent == 20


@pytest.mark.parametrize(
    ("dtp", "start", "end"),
    [
        ("DTP*346*D8*20061301", None, None),
        ("DTP*346*D8*2006010", None, None),
        ("DTP*346*RD8*20060101", None, None),
        ("DTP*346*RD8*20060101-2006XX31", None, None),
        ("DTP*346*RD8*20061231-20060101", date(2006, 12, 31), date(2006, 1, 1)),
    ],
)
def test_a_bad_date_is_a_warning_and_its_raw_text_is_kept(dtp, start, end):
    data = sample(SUBSCRIBER_271).replace(b"DTP*346*D8*20060101", dtp.encode())

    response = parse_271(data)

    assert response.ok
    assert codes_of(response.warnings) == ["bad_date"]
    (period,) = patient(response).dates
    assert (period.start, period.end, period.raw) == (start, end, dtp.split("*")[3])


def test_a_bad_birth_date_is_a_warning():
    response = parse_271(sample(SUBSCRIBER_271).replace(b"DMG*D8*19630519", b"DMG*D8*19630230"))

    assert codes_of(response.warnings) == ["bad_date"]
    assert patient(response).birth_date is None


def test_an_unexpected_exception_becomes_an_internal_error(monkeypatch):
    def explode(self, body):
        raise RuntimeError("boom")

    monkeypatch.setattr(LoopReader, "read", explode)

    response = parse_271(sample(SUBSCRIBER_271))

    assert not response.ok
    assert codes_of(response.errors) == ["internal"]
    assert response.sources == ()
    assert "RuntimeError" in response.errors[0].message


# --- never raises -----------------------------------------------------------------------------------

X12ISH = "ISAGSTEBHLNM1AQ*~^:>|0123456789 \r\n\x1d\x1e"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=2000), st.text(alphabet=X12ISH, max_size=600)))
def test_random_input_never_raises(data):
    response = parse_271(data)

    json.dumps(response.to_dict())
    assert response.ok is (not response.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SAMPLES_271),
    cuts=st.lists(st.tuples(st.integers(0, 1200), st.integers(0, 40)), max_size=4),
    noise=st.binary(max_size=8),
)
def test_damaged_samples_never_raise(name, cuts, noise):
    data = bytearray(sample(name))
    for at, length in cuts:
        at = min(at, len(data))
        data[at : at + length] = noise

    response = parse_271(bytes(data))

    json.dumps(response.to_dict())
    assert response.ok is (not response.errors)
    if {"not_x12", "wrong_transaction", "no_transaction"} & set(codes_of(response.errors)):
        assert response.sources == ()
