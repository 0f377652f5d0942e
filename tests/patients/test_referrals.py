import pytest

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import Patient, Referral

pytestmark = pytest.mark.django_db

REFERRAL = {
    "source": "physician",
    "referrer_name": "Dr. Ana Cruz, primary care",
    "received_at": "2026-11-20T09:30:00-05:00",
    "reason": "Long-term clonazepam; wants to taper",
    "first_name": "Morgan",
    "last_name": "Ellis",
    "date_of_birth": "1979-08-14",
    "phone": "+16175550142",
    "time_zone": "America/New_York",
}


@pytest.fixture
def desk(make_user, client_for):
    return client_for(make_user(Role.ADMISSIONS))


def test_admissions_takes_a_referral_and_converts_it_without_retyping(desk):
    created = desk.post("/api/v1/referrals/", REFERRAL, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "new"
    converted = desk.post(f"/api/v1/referrals/{created.json()['id']}/convert/")
    assert converted.status_code == 201
    patient = Patient.objects.get(public_id=converted.json()["id"])
    assert (patient.legal_first_name, patient.legal_last_name, str(patient.date_of_birth), str(patient.phone)) == (
        "Morgan",
        "Ellis",
        "1979-08-14",
        "+16175550142",
    )
    referral = Referral.objects.get()
    assert (referral.status, referral.converted_patient) == ("converted", patient)
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, patient_id=patient.public_id).exists()
    again = desk.post(f"/api/v1/referrals/{created.json()['id']}/convert/")
    assert again.status_code == 409
    assert Patient.objects.count() == 1


def test_a_referral_without_a_date_of_birth_cannot_be_converted(desk):
    created = desk.post("/api/v1/referrals/", REFERRAL | {"date_of_birth": None}, format="json")
    response = desk.post(f"/api/v1/referrals/{created.json()['id']}/convert/")
    assert response.status_code == 400
    assert "date_of_birth" in response.json()["extra"]["fields"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.BILLING, Role.NURSE])
def test_referrals_are_the_admissions_desks(make_user, client_for, role):
    assert client_for(make_user(role)).get("/api/v1/referrals/").status_code == 403


def test_a_bad_phone_on_a_referral_is_named(desk):
    response = desk.post("/api/v1/referrals/", REFERRAL | {"phone": "12"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["extra"]["fields"]


def test_the_admin_action_converts_with_the_same_service(client, make_user, desk):
    referral_id = desk.post("/api/v1/referrals/", REFERRAL, format="json").json()["id"]
    referral = Referral.objects.get(public_id=referral_id)
    client.force_login(make_user(Role.ADMISSIONS))
    response = client.post(
        "/admin/patients/referral/", {"action": "convert_to_patient", "_selected_action": [referral.pk]}, follow=True
    )
    assert response.status_code == 200
    referral.refresh_from_db()
    assert referral.converted_patient is not None
    assert f"registered as {referral.converted_patient.mrn}" in response.content.decode()
