"""`manage.py eligibility_parse`: what billing staff read off a payer's file. No database."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from insurance.x12 import parse_271
from tests.insurance.x12_helpers import AAA_271, DEPENDENT_271, SUBSCRIBER_271, X12_SAMPLES, sample, with_segment


def run(*args, stdin=None):
    out = io.StringIO()
    call_command("eligibility_parse", *args, stdout=out, stdin=stdin)
    return out.getvalue()


def test_it_summarises_the_payer_the_member_and_each_benefit_in_words():
    out = run(str(X12_SAMPLES / SUBSCRIBER_271))

    assert "Transaction set 271 (005010X279A1); interchange 000000907, group 1, transaction 4321" in out
    assert "Payer: ABC COMPANY [PR Payer], PI 841610001" in out
    assert "Receiver: BONE AND JOIN CLINIC [1P Provider], SV 2000035" in out
    assert "Subscriber: SMITH, JOHN [IL Insured or Subscriber], MI 123456789, born 1963-05-19, M" in out
    assert "Plan Begin (346): 2006-01-01" in out
    assert "- 1 Active Coverage | 30 Health Benefit Plan Coverage | GOLD 123 PLAN" in out
    assert "Entity: JONES, MARCUS [P3 Primary Care Provider], SV 0202034" in out
    assert (
        "- B Co-Payment | 1 Medical Care, 33 Chiropractic, 35 Dental Care, 47 Hospital, 86 Emergency Services, "
        "88 Pharmacy, 98 Professional (Physician) Visit - Office, AL Vision (Optometry), MH Mental Health, "
        "UC Urgent Care | Health Maintenance Organization (HMO) | GOLD 123 PLAN | $10.00 | per Visit | in network"
    ) in out
    assert "$30.00 | per Visit | out of network" in out
    assert out.rstrip().endswith("Errors: none")
    assert "Result: OK" in out


def test_it_shows_a_rejection_with_its_reason_and_follow_up_and_the_envelope_warning():
    out = run(str(X12_SAMPLES / AAA_271))

    assert (
        "Rejected: loop 2100B: 50 Provider Ineligible for Inquiries; follow-up N Resubmission Not Allowed; "
        "valid request"
    ) in out
    assert "- [control_number] SE02 '4323' does not match ST02 '4321'. (segment 10)" in out


def test_it_shows_benefit_details_under_the_dependent():
    data = with_segment(sample(DEPENDENT_271), "EB*1**30", "MSG*CALL FOR PRIOR AUTHORIZATION")
    data = with_segment(data, "EB*1**30", "AAA*N**63*C", occurrence=1)

    out = run("-", stdin=io.BytesIO(data))

    assert "Dependent: SMITH, MARY [03 Dependent], born 1998-10-14, F" in out
    assert "Relationship (INS02): 19" in out
    assert "Message: CALL FOR PRIOR AUTHORIZATION" in out
    assert "Rejected: loop 2110D: 63 Date of Service in Future; follow-up C Please Correct and Resubmit" in out


def test_json_prints_to_dict():
    out = run(str(X12_SAMPLES / SUBSCRIBER_271), "--json")

    assert json.loads(out) == parse_271(sample(SUBSCRIBER_271)).to_dict()
    assert json.loads(out)["sources"][0]["members"][0]["benefits"][3]["amount"] == "10.00"


def test_dash_reads_standard_input_as_bytes_or_text():
    assert "Payer: ABC COMPANY" in run("-", stdin=io.BytesIO(sample(SUBSCRIBER_271)))
    assert "Payer: ABC COMPANY" in run("-", stdin=io.StringIO(sample(SUBSCRIBER_271).decode()))


def test_errors_fail_the_command_with_their_messages_after_printing_the_summary():
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"\[wrong_transaction\] This file is an eligibility inquiry \(270\)"):
        call_command("eligibility_parse", str(X12_SAMPLES / "270_lfh_tr3_subscriber_EQ30.270"), stdout=out)

    assert "Result: NOT USABLE (errors below)" in out.getvalue()
    assert "- [wrong_transaction]" in out.getvalue()


def test_errors_fail_the_command_in_json_mode_too():
    out = io.StringIO()
    with pytest.raises(CommandError, match="not_x12"):
        call_command("eligibility_parse", "-", "--json", stdout=out, stdin=io.BytesIO(b"not an interchange"))

    assert json.loads(out.getvalue())["ok"] is False


def test_a_truncated_file_fails_the_command():
    data = sample(SUBSCRIBER_271)

    with pytest.raises(CommandError, match="truncated"):
        run("-", stdin=io.BytesIO(data[: data.index(b"SE*")]))


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(str(tmp_path / "nope.271"))
