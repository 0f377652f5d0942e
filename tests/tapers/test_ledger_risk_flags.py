"""Risk flags as records: each rule at the edge of its threshold through the service (the pure
rules are tested in test_risk.py), re-evaluation, clearing and acknowledgement."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from tapers.models import RiskFlag
from tapers.models.ledger import check_ledger_risk_settings
from tapers.services.ledger import prescription_mark_entered_in_error, prescription_update, risk_flags_evaluate
from tapers.tasks.ledger import risk_flags_refresh_all
from tests.patients.factories import put_on_care_team
from tests.tapers.factories import PharmacyFactory, PrescriberFactory
from tests.tapers.factories_ledger import days_ago, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


def open_codes(patient) -> list[str]:
    return sorted(RiskFlag.objects.filter(patient=patient, cleared_at__isnull=True).values_list("code", flat=True))


# --- each rule at its edge ---------------------------------------------------------------------


@pytest.mark.parametrize(("second_starts_after", "flagged"), [(29, True), (30, False)])
def test_overlapping_benzodiazepines_from_two_prescribers_flag_from_one_shared_day(
    doctor, patient, second_starts_after, flagged
):
    first = record(patient, doctor, drug="alprazolam", daily="0.25", written=days_ago(40), days=30)
    record(
        patient, doctor, drug="clonazepam", daily="0.25", written=first.written_on + timedelta(days=second_starts_after)
    )
    assert open_codes(patient) == (["overlapping_benzodiazepine_supply"] if flagged else [])


def test_the_minimum_overlap_is_a_setting(doctor, patient, settings):
    settings.LEDGER_RISK_MIN_OVERLAP_DAYS = 2
    first = record(patient, doctor, drug="alprazolam", daily="0.25", written=days_ago(40), days=30)
    record(patient, doctor, drug="clonazepam", daily="0.25", written=first.written_on + timedelta(days=29))
    assert open_codes(patient) == []


def _five_prescribers(doctor, patient, oldest_days_ago: int, count: int = 5) -> None:
    # A stimulant every 18 days, 14 days' supply: no overlap, no early refill; only the count.
    starts = [oldest_days_ago - 18 * n for n in range(count)]
    for start in starts:
        record(patient, doctor, drug="methylphenidate", daily=None, days=14, written=days_ago(start), quantity="28")


@pytest.mark.parametrize(("oldest", "flagged"), [(89, True), (90, False)])
def test_five_prescribers_and_five_pharmacies_in_90_days_is_a_multiple_provider_episode(
    doctor, patient, oldest, flagged
):
    _five_prescribers(doctor, patient, oldest)
    assert open_codes(patient) == (["multiple_provider_episode"] if flagged else [])
    if flagged:
        flag = RiskFlag.objects.get(patient=patient)
        assert "Delcher" in flag.source
        assert flag.prescriptions.count() == 5


def test_four_prescribers_are_not_an_episode_by_default_but_are_under_katz(doctor, patient, settings):
    _five_prescribers(doctor, patient, 80, count=4)
    assert open_codes(patient) == []
    settings.LEDGER_RISK_MULTIPLE_PROVIDER_DEFINITION = "katz_4x4x365d"
    risk_flags_evaluate(patient=patient)
    assert open_codes(patient) == ["multiple_provider_episode"]


@pytest.mark.parametrize(("refill_after", "flagged"), [(22, True), (23, False)])
def test_a_refill_with_more_than_a_quarter_left_is_early(doctor, patient, refill_after, flagged):
    same = PrescriberFactory.create()
    first = record(patient, doctor, drug="lorazepam", daily="0.5", written=days_ago(30), prescriber=same)
    record(
        patient,
        doctor,
        drug="lorazepam",
        daily="0.5",
        written=first.written_on + timedelta(days=refill_after),
        prescriber=same,
    )
    assert open_codes(patient) == (["early_refill"] if flagged else [])


@pytest.mark.parametrize(("opioid_starts_after", "flagged"), [(29, True), (30, False)])
def test_a_benzodiazepine_with_an_opioid_is_high_with_a_naloxone_prompt(doctor, patient, opioid_starts_after, flagged):
    benzo = record(patient, doctor, drug="alprazolam", daily="0.25", written=days_ago(40))
    record(
        patient, doctor, drug="oxycodone", daily="20", written=benzo.written_on + timedelta(days=opioid_starts_after)
    )
    flags = list(RiskFlag.objects.filter(patient=patient))
    assert [(f.code, f.severity, "naloxone" in f.naloxone_prompt) for f in flags] == (
        [("benzodiazepine_opioid_overlap", "high", True)] if flagged else []
    )


@pytest.mark.parametrize(("daily", "flagged"), [("15", False), ("15.01", True)])
def test_a_total_over_15_mg_diazepam_equivalent_flags(doctor, patient, daily, flagged):
    record(patient, doctor, drug="diazepam", daily=daily, written=days_ago(5))
    assert open_codes(patient) == (["high_total_daily_dze"] if flagged else [])


def test_the_total_threshold_and_the_equivalence_table_are_settings(doctor, patient, settings):
    record(patient, doctor, drug="alprazolam", daily="1", written=days_ago(5))  # Ashton 20 mg, VA/DoD 10 mg
    assert open_codes(patient) == ["high_total_daily_dze"]
    settings.LEDGER_RISK_EQUIVALENCE_TABLE = "va_dod"
    risk_flags_evaluate(patient=patient)
    assert open_codes(patient) == []
    settings.LEDGER_RISK_EQUIVALENCE_TABLE = "ashton"
    settings.LEDGER_RISK_HIGH_TOTAL_DZE_MG = "20"
    risk_flags_evaluate(patient=patient)
    assert open_codes(patient) == []


# --- the records ---------------------------------------------------------------------------


def _overlap(doctor, patient):
    a = record(patient, doctor, drug="alprazolam", daily="0.25", written=days_ago(20))
    b = record(patient, doctor, drug="clonazepam", daily="0.25", written=days_ago(10))
    return a, b


def test_re_evaluation_updates_instead_of_duplicating(doctor, patient):
    a, b = _overlap(doctor, patient)
    flag = RiskFlag.objects.get(patient=patient)
    history = flag.history.count()
    assert [f.pk for f in risk_flags_evaluate(patient=patient)] == [flag.pk]
    risk_flags_evaluate(patient=patient)
    assert RiskFlag.objects.filter(patient=patient).count() == 1
    assert flag.history.count() == history  # nothing changed: no history row
    assert sorted(flag.prescriptions.values_list("pk", flat=True)) == sorted([a.pk, b.pk])


def test_re_evaluation_costs_the_same_queries_however_many_flags_it_raises(doctor, patient):
    _overlap(doctor, patient)
    with CaptureQueriesContext(connection) as one_flag:
        risk_flags_evaluate(patient=patient)
    record(patient, doctor, drug="diazepam", daily="20", written=days_ago(5))
    record(patient, doctor, drug="oxycodone", daily="20", written=days_ago(5))
    assert len(open_codes(patient)) >= 3
    with CaptureQueriesContext(connection) as more_flags:
        risk_flags_evaluate(patient=patient)
    assert len(one_flag) == len(more_flags)


def test_new_flags_name_their_prescriptions_and_only_theirs(doctor, patient):
    a, b = _overlap(doctor, patient)
    opioid = record(patient, doctor, drug="oxycodone", daily="20", written=days_ago(5))
    linked = {
        flag.code: sorted(flag.prescriptions.values_list("pk", flat=True))
        for flag in RiskFlag.objects.filter(patient=patient)
    }
    assert linked["overlapping_benzodiazepine_supply"] == sorted([a.pk, b.pk])
    assert linked["benzodiazepine_opioid_overlap"] == sorted([a.pk, b.pk, opioid.pk])


def test_a_flag_clears_when_its_prescription_is_entered_in_error_and_the_row_stays(doctor, patient):
    a, _ = _overlap(doctor, patient)
    prescription_mark_entered_in_error(prescription=a, reason="duplicate", by=doctor)
    flag = RiskFlag.objects.get(patient=patient)
    assert flag.cleared_at is not None
    assert open_codes(patient) == []


def test_a_flag_clears_when_a_correction_removes_the_overlap(doctor, patient):
    a, b = _overlap(doctor, patient)
    prescription_update(
        prescription=b, by=doctor, days_supply=5, written_on=a.written_on - timedelta(days=10), filled_on=None
    )
    assert open_codes(patient) == []


def test_an_acknowledgement_stays_until_the_flags_prescriptions_change(doctor, patient, client_for):
    benzo = record(patient, doctor, drug="alprazolam", daily="0.25", written=days_ago(20))
    record(patient, doctor, drug="oxycodone", daily="20", written=days_ago(10))
    flag = RiskFlag.objects.get(patient=patient)
    client = client_for(doctor)
    acked = client.post(f"/api/v1/risk-flags/{flag.public_id}/acknowledge/", {"note": "naloxone given"}, format="json")
    assert acked.status_code == 200
    assert (acked.json()["acknowledged_by"], acked.json()["acknowledgement_note"]) == (
        doctor.username,
        "naloxone given",
    )
    # Something else changes in the ledger: the same flag, still acknowledged.
    record(patient, doctor, drug="methylphenidate", daily=None, written=days_ago(3))
    flag.refresh_from_db()
    assert (flag.cleared_at, flag.acknowledged_by) == (None, doctor)
    # A second opioid joins the overlap: a new flag to look at; the acknowledged one clears.
    record(patient, doctor, drug="hydrocodone", daily="10", written=days_ago(2), pharmacy=PharmacyFactory.create())
    flag.refresh_from_db()
    new = RiskFlag.objects.get(patient=patient, cleared_at__isnull=True)
    assert flag.cleared_at is not None
    assert (new.code, new.acknowledged_at) == ("benzodiazepine_opioid_overlap", None)
    assert new.prescriptions.count() == 3
    assert benzo in new.prescriptions.all()


def test_the_flag_list_filters_open_flags_and_is_audited(doctor, patient, client_for):
    a, b = _overlap(doctor, patient)
    prescription_mark_entered_in_error(prescription=a, reason="duplicate", by=doctor)
    record(patient, doctor, drug="diazepam", daily="20", written=days_ago(1), prescriber=b.prescriber)
    client = client_for(doctor)
    everything = client.get(f"/api/v1/risk-flags/?patient={patient.public_id}").json()["results"]
    still = client.get(f"/api/v1/risk-flags/?patient={patient.public_id}&open=true").json()["results"]
    assert sorted(f["code"] for f in everything) == ["high_total_daily_dze", "overlapping_benzodiazepine_supply"]
    assert [f["code"] for f in still] == ["high_total_daily_dze"]
    assert AuditEvent.objects.filter(action=AuditAction.LIST, patient_id=patient.public_id).count() == 3


def test_only_prescribers_and_clinicians_on_the_team_acknowledge(doctor, patient, make_user, client_for):
    _overlap(doctor, patient)
    flag = RiskFlag.objects.get(patient=patient)
    nurse = make_user(Role.NURSE)
    put_on_care_team(patient, nurse)
    url = f"/api/v1/risk-flags/{flag.public_id}/acknowledge/"
    assert client_for(nurse).post(url, {}, format="json").status_code == 403
    assert client_for(make_user(Role.CLINICIAN)).post(url, {}, format="json").status_code == 404
    assert client_for(make_user(Role.BILLING)).post(url, {}, format="json").status_code == 403
    clinician = make_user(Role.CLINICIAN)
    put_on_care_team(patient, clinician)
    assert client_for(clinician).post(url, {}, format="json").status_code == 200
    assert client_for(doctor).post(url, {}, format="json").status_code == 409


def test_the_nightly_refresh_clears_a_flag_once_its_overlap_leaves_the_window(doctor, patient):
    _overlap(doctor, patient)  # the supplies share 11-13 to 12-02
    assert risk_flags_refresh_all() == 1
    assert open_codes(patient) == ["overlapping_benzodiazepine_supply"]
    with time_machine.travel("2027-03-03 15:00:00+00:00", tick=False):  # 12-02 is 91 days back
        assert risk_flags_refresh_all() == 1
    assert open_codes(patient) == []
    assert risk_flags_refresh_all() == 0  # nothing open, nothing to do


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("LEDGER_RISK_MULTIPLE_PROVIDER_DEFINITION", "nope", "is not one of delcher_5x5x90d"),
        ("LEDGER_RISK_MULTIPLE_PROVIDER_CLASSES", ["opioid", "pills"], "'pills' is not one of"),
        ("LEDGER_RISK_HIGH_TOTAL_DZE_MG", "abc", "must be a number"),
        ("LEDGER_RISK_EQUIVALENCE_TABLE", "who", "Unknown equivalence table"),
    ],
)
def test_a_bad_risk_setting_stops_the_start_with_a_message(settings, setting, value, message):
    setattr(settings, setting, value)
    [error] = check_ledger_risk_settings()
    assert error.id == "tapers.E101"
    assert message in error.msg
