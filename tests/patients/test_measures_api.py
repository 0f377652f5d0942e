import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.measures import GAD7, PHQ9
from patients.models import MeasureResponse
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-23 15:00:00+00:00", tick=False):
        yield


def phq9(total_per_item: int) -> dict[str, int]:
    return dict.fromkeys(PHQ9.items, total_per_item)


def post(client, patient, instrument, answers, on):
    return client.post(
        "/api/v1/measures/",
        {"patient": str(patient.public_id), "instrument": instrument, "answers": answers, "administered_on": on},
        format="json",
    )


def test_the_care_team_records_measures_and_reads_the_trend(make_user, client_for):
    nurse = make_user(Role.NURSE)
    patient = PatientFactory.create()
    put_on_care_team(patient, nurse)
    client = client_for(nurse)
    first = post(client, patient, "phq9", phq9(2), "2026-11-02")
    assert first.status_code == 201
    assert (first.json()["total"], first.json()["band"]) == (18, "moderately severe")
    assert first.json()["flags"] == ["self-harm thoughts reported: assess safety today"]
    post(client, patient, "phq9", phq9(1), "2026-11-16")
    post(client, patient, "gad7", dict.fromkeys(GAD7.items, 1), "2026-11-16")
    trend = client.get(f"/api/v1/measures/?patient__public_id={patient.public_id}&instrument=phq9").json()["results"]
    assert [(row["administered_on"], row["total"], row["band"]) for row in trend] == [
        ("2026-11-02", 18, "moderately severe"),
        ("2026-11-16", 9, "mild"),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, patient_id=patient.public_id).count() == 3


@pytest.mark.parametrize(
    ("answers", "field"),
    [({**phq9(0), "mood": 4}, "answers"), ({"mood": 1}, "answers"), ({**phq9(0), "mood": "often"}, "answers")],
)
def test_an_answer_out_of_range_or_missing_is_a_400_and_nothing_is_stored(make_user, client_for, answers, field):
    clinician = make_user(Role.CLINICIAN)
    patient = PatientFactory.create()
    put_on_care_team(patient, clinician)
    response = post(client_for(clinician), patient, "phq9", answers, "2026-11-20")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not MeasureResponse.objects.exists()


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_measures_are_clinical_records_the_front_office_never_sees(make_user, client_for, role):
    clinician = make_user(Role.CLINICIAN)
    patient = PatientFactory.create()
    put_on_care_team(patient, clinician)
    post(client_for(clinician), patient, "phq9", phq9(1), "2026-11-20")
    desk = client_for(make_user(role))
    assert desk.get("/api/v1/measures/").json()["results"] == []
    assert post(desk, patient, "phq9", phq9(1), "2026-11-20").status_code == 404


def test_a_clinician_off_the_team_gets_a_404(make_user, client_for):
    patient = PatientFactory.create()
    assert post(client_for(make_user(Role.CLINICIAN)), patient, "phq9", phq9(1), "2026-11-20").status_code == 404
