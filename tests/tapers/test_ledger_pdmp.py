"""PDMP imports (idempotent, all or nothing) and the PDMP check log with its recheck reminders."""

from datetime import date

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.celery import app
from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import CareTeamRole
from tapers.models import (
    Medication,
    PdmpCheck,
    PdmpImport,
    Pharmacy,
    Prescriber,
    PrescriberOfRecord,
    Prescription,
    RiskFlag,
)
from tapers.pdmp import REQUIRED_COLUMNS
from tapers.services.ledger import pdmp_check_record, pdmp_recheck_reminders_send
from tapers.tasks.ledger import pdmp_recheck_remind
from tests.patients.factories import put_on_care_team
from tests.tapers.factories import PrescriberFactory
from tests.tapers.factories_coordination import EpisodeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

HEADER = ",".join(REQUIRED_COLUMNS)
NPI_A, NPI_B = "1234567893", "1245319599"
PHARMACY_NPI = "1679576722"


def row(
    drug="ALPRAZOLAM",
    strength="0.5 MG",
    quantity="60",
    days="30",
    written="2026-11-01",
    filled="11/02/2026",
    prescriber="Jane Roe MD",
    prescriber_npi=NPI_A,
    pharmacy="Main St Pharmacy",
    pharmacy_npi=PHARMACY_NPI,
    rx="RX1",
):
    return ",".join(
        [drug, strength, quantity, days, written, filled, prescriber, prescriber_npi, pharmacy, pharmacy_npi, rx]
    )


def upload(client, patient, *lines, header=HEADER, state="MA"):
    content = "\n".join([header, *lines]).encode()
    return client.post(
        "/api/v1/pdmp-imports/",
        {"patient": str(patient.public_id), "state": state, "file": SimpleUploadedFile("report.csv", content)},
        format="multipart",
    )


# --- imports ------------------------------------------------------------------------------


def test_it_imports_a_report_matching_drugs_and_npis_and_says_what_it_derived(client_for, doctor, patient):
    known = PrescriberFactory.create(npi=NPI_A, name="Dr Jane Roe")
    response = upload(
        client_for(doctor),
        patient,
        row(),
        row(
            drug="OXYCODONE-ACETAMINOPHEN",
            strength="5-325 MG",
            quantity="40",
            days="10",
            rx="RX2",
            prescriber="Bob Poe DO",
            prescriber_npi=NPI_B,
        ),
        row(drug="PREGABALIN", strength="75 MG", rx="RX3"),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["rows_read"], body["rows_added"], body["rows_already_recorded"], body["state"]) == (3, 3, 0, "MA")
    assert (
        "line 2: daily dose derived as quantity x strength / days' supply = 60 x 0.5 MG / 30 = 1 mg." in body["notes"]
    )
    assert any("line 4: 'PREGABALIN' is not in the catalogue" in note for note in body["notes"])
    rows = {rx.rx_number: rx for rx in Prescription.objects.filter(patient=patient)}
    assert rows["RX1"].medication == Medication.objects.get(generic_name="alprazolam")
    assert rows["RX1"].prescriber == known  # matched by NPI, not created again
    assert rows["RX2"].medication == Medication.objects.get(generic_name="oxycodone")
    assert rows["RX2"].daily_dose_mg == 20
    assert rows["RX3"].medication is None
    assert Prescriber.objects.filter(npi=NPI_B, name="Bob Poe DO").exists()  # created
    assert Pharmacy.objects.filter(npi=PHARMACY_NPI).count() == 1
    assert {rx.source for rx in rows.values()} == {"pdmp_import"}
    # The import re-evaluated the flags: alprazolam with oxycodone.
    assert RiskFlag.objects.filter(patient=patient, code="benzodiazepine_opioid_overlap").exists()
    audited = AuditEvent.objects.filter(action=AuditAction.CREATE, patient_id=patient.public_id)
    assert audited.count() == 4  # the import and its three rows


def test_importing_the_same_or_an_overlapping_file_adds_nothing_twice(client_for, doctor, patient):
    client = client_for(doctor)
    assert upload(client, patient, row(), row(rx="RX2")).json()["rows_added"] == 2
    again = upload(client, patient, row(), row(rx="RX2"))
    assert (again.json()["rows_added"], again.json()["rows_already_recorded"]) == (0, 2)
    future = upload(client, patient, row(rx="RX2"), row(rx="RX2", filled="2026-12-01"))
    assert future.status_code == 400  # a fill after today is a typo: the whole file waits
    assert future.json()["extra"]["problems"][0]["column"] == "fill_date"
    overlapping = upload(client, patient, row(rx="RX2"), row(rx="RX2", filled="2026-11-20"))  # the refill
    assert (overlapping.json()["rows_added"], overlapping.json()["rows_already_recorded"]) == (1, 1)
    assert Prescription.objects.filter(patient=patient).count() == 3
    assert PdmpImport.objects.filter(patient=patient).count() == 3


def test_an_import_costs_the_same_queries_however_many_rows_and_keeps_each_rows_history(client_for, doctor, patient):
    # Known parties, and a drug the rules ignore: only the number of rows differs.
    PrescriberFactory.create(npi=NPI_A)
    Pharmacy.objects.create(name="Main St Pharmacy", npi=PHARMACY_NPI)
    client = client_for(doctor)
    with CaptureQueriesContext(connection) as one:
        assert upload(client, patient, row(drug="PREGABALIN", rx="RX1")).json()["rows_added"] == 1
    with CaptureQueriesContext(connection) as four:
        rows = [row(drug="PREGABALIN", rx=f"RX{n}") for n in range(2, 6)]
        assert upload(client, patient, *rows).json()["rows_added"] == 4
    assert len(one) == len(four)
    for rx in Prescription.objects.filter(patient=patient):
        assert [(h.history_type, h.history_user) for h in rx.history.all()] == [("+", doctor)]


def test_a_row_entered_in_error_is_not_brought_back_by_a_reimport(client_for, doctor, patient):
    client = client_for(doctor)
    upload(client, patient, row())
    rx = Prescription.objects.get(patient=patient)
    client.post(
        f"/api/v1/prescriptions/{rx.public_id}/entered-in-error/", {"reason": "not this patient"}, format="json"
    )
    assert upload(client, patient, row()).json()["rows_added"] == 0


def test_a_missing_column_is_rejected_on_line_one_and_nothing_is_imported(client_for, doctor, patient):
    response = upload(client_for(doctor), patient, "ALPRAZOLAM", header="drug")
    assert response.status_code == 400
    problems = response.json()["extra"]["problems"]
    assert {"line": 1, "column": "rx_number", "message": "this column is missing"} in problems
    assert "line 1, column strength: this column is missing" in response.json()["message"]
    assert not PdmpImport.objects.exists()


def test_one_bad_line_rejects_the_whole_file_with_its_line_and_column(client_for, doctor, patient):
    response = upload(client_for(doctor), patient, row(), row(rx="RX2"), row(rx="RX3", quantity="lots"))
    assert response.status_code == 400
    assert response.json()["extra"]["problems"] == [
        {"line": 4, "column": "quantity", "message": "'lots' is not a number; write the units dispensed, e.g. 60"}
    ]
    assert not Prescription.objects.exists()
    assert not PdmpImport.objects.exists()


def test_a_benzodiazepine_whose_daily_dose_cannot_be_derived_is_refused(client_for, doctor, patient):
    response = upload(client_for(doctor), patient, row(strength="see label"))
    assert response.status_code == 400
    [problem] = response.json()["extra"]["problems"]
    assert (problem["line"], problem["column"]) == (2, "strength")
    assert "daily_dose_mg" in problem["message"]


def test_the_import_is_for_the_care_team_only(make_user, client_for, patient):
    assert upload(client_for(make_user(Role.CLINICIAN)), patient, row()).status_code == 404
    assert upload(client_for(make_user(Role.ADMISSIONS)), patient, row()).status_code == 403
    assert not Prescription.objects.exists()


def test_a_file_over_the_size_limit_is_refused(client_for, doctor, patient, settings):
    settings.PDMP_IMPORT_MAX_BYTES = 100
    response = upload(client_for(doctor), patient, row(), row(rx="RX2"))
    assert response.status_code == 413
    assert "PDMP_IMPORT_MAX_BYTES" in response.json()["message"]


# --- the check log -----------------------------------------------------------------------------


def test_a_check_is_due_again_after_pdmp_recheck_days_by_default(client_for, doctor, patient, settings):
    client = client_for(doctor)
    created = client.post(
        "/api/v1/pdmp-checks/",
        {"patient": str(patient.public_id), "state": "ma", "result_summary": "One prescriber, one pharmacy."},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["state"], created.json()["next_due_on"]) == ("MA", "2027-02-21")  # + 90 days
    settings.PDMP_RECHECK_DAYS = 30
    later = client.post(
        "/api/v1/pdmp-checks/",
        {"patient": str(patient.public_id), "state": "NH", "result_summary": "Nothing found."},
        format="json",
    )
    assert later.json()["next_due_on"] == "2026-12-23"
    listed = client.get(f"/api/v1/pdmp-checks/?patient={patient.public_id}").json()["results"]
    assert [c["state"] for c in listed] == ["NH", "MA"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "Massachusetts", "result_summary": "x"}, "state"),
        ({"state": "MA"}, "result_summary"),
        ({"state": "MA", "result_summary": "x", "checked_at": "2026-11-24T10:00:00Z"}, "checked_at"),
        ({"state": "MA", "result_summary": "x", "checked_at": "0235-01-01T10:00:00Z"}, "checked_at"),  # the fuzzer's
        ({"state": "MA", "result_summary": "x", "next_due_on": "2026-11-23"}, "next_due_on"),
    ],
)
def test_a_bad_check_is_a_400_naming_the_field(client_for, doctor, patient, body, field):
    response = client_for(doctor).post(
        "/api/v1/pdmp-checks/", {"patient": str(patient.public_id), **body}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not PdmpCheck.objects.exists()


def _check(patient, by, *, on: str, due: str) -> PdmpCheck:
    with time_machine.travel(f"{on} 15:00:00+00:00", tick=False):
        return pdmp_check_record(
            patient=patient, by=by, state="MA", result_summary="ok", next_due_on=date.fromisoformat(due)
        )


def test_the_reminder_goes_to_internal_prescribers_on_the_team_once(make_user, doctor, patient):
    nurse = make_user(Role.NURSE)
    put_on_care_team(patient, nurse)
    check = _check(patient, doctor, on="2026-08-20", due="2026-11-18")
    assert pdmp_recheck_reminders_send(today=date(2026, 11, 23)) == 1
    [email] = mail.outbox
    assert email.to == [doctor.email]  # the prescriber, not the nurse
    assert email.subject == "A PDMP recheck is due"
    assert patient.legal_last_name not in email.subject + email.body
    assert f"/api/v1/pdmp-checks/{check.public_id}/" in email.body
    # Idempotent: a second run the same day sends nothing more.
    assert pdmp_recheck_reminders_send(today=date(2026, 11, 23)) == 0
    assert len(mail.outbox) == 1


def test_no_reminder_before_it_is_due_nor_when_a_newer_check_exists(doctor, patient):
    _check(patient, doctor, on="2026-08-20", due="2026-11-24")
    assert pdmp_recheck_reminders_send(today=date(2026, 11, 23)) == 0
    _check(patient, doctor, on="2026-05-01", due="2026-08-01")  # older, overdue, but superseded
    assert pdmp_recheck_reminders_send(today=date(2026, 11, 23)) == 0
    assert mail.outbox == []


def test_the_episodes_prescriber_of_record_is_reminded_first(make_user, doctor, patient):
    of_record = make_user(Role.PRESCRIBER)
    put_on_care_team(patient, of_record, team_role=CareTeamRole.OTHER)
    episode = EpisodeFactory.create(patient=patient)
    PrescriberOfRecord.objects.create(
        episode=episode,
        prescriber=PrescriberFactory.create(staff=of_record),
        started_on=date(2026, 11, 19),
        set_by=doctor,
    )
    _check(patient, doctor, on="2026-08-20", due="2026-11-18")
    pdmp_recheck_reminders_send(today=date(2026, 11, 23))
    assert [m.to for m in mail.outbox] == [[of_record.email]]


@pytest.mark.parametrize(("ended_on", "reminded"), [(date(2026, 11, 23), "of_record"), (date(2026, 11, 22), "doctor")])
def test_the_care_teams_prescriber_of_record_is_reminded_through_their_last_day(
    make_user, doctor, patient, ended_on, reminded
):
    # No episode prescriber of record: the care team's one comes next, then its prescribers.
    # `ended_on` is a membership's last day on the team, as the access rule reads it.
    of_record = make_user(Role.PRESCRIBER)
    membership = put_on_care_team(patient, of_record, team_role=CareTeamRole.PRESCRIBER_OF_RECORD)
    membership.ended_on = ended_on
    membership.save()
    _check(patient, doctor, on="2026-08-20", due="2026-11-18")
    pdmp_recheck_reminders_send(today=date(2026, 11, 23))
    assert [m.to for m in mail.outbox] == [[{"of_record": of_record, "doctor": doctor}[reminded].email]]


def test_the_task_is_in_the_daily_beat_schedule_and_takes_no_patient_data():
    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == pdmp_recheck_remind.name)
    assert entry["schedule"].hour == {12}
    assert entry["schedule"].minute == {0}
    assert "args" not in entry
    assert "kwargs" not in entry


def test_the_task_calls_the_service(doctor, patient):
    _check(patient, doctor, on="2026-08-20", due="2026-11-18")
    assert pdmp_recheck_remind() == 1
    assert pdmp_recheck_remind() == 0
