import pytest

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import Patient, PatientContact
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"
VALID = {
    "legal_first_name": "Dana",
    "legal_last_name": "Rivera",
    "date_of_birth": "1988-04-02",
    "time_zone": "America/Chicago",
    "phone": "+16175550123",
    "reminder_channel": "sms",
    "pronouns": "she/her",
    "sex_assigned_at_birth": "female",
}


@pytest.fixture
def admissions(make_user):
    return make_user(Role.ADMISSIONS)


def test_admissions_registers_a_patient_with_a_new_mrn(client_for, admissions):
    response = client_for(admissions).post(URL, VALID, format="json")
    assert response.status_code == 201
    body = response.json()
    patient = Patient.objects.get(public_id=body["id"])
    assert body["mrn"] == patient.mrn
    assert body["mrn"].startswith("MRN")
    assert (body["phone"], body["time_zone"], body["reminder_channel"]) == ("+16175550123", "America/Chicago", "sms")
    event = AuditEvent.objects.get(action=AuditAction.CREATE)
    assert (event.actor, event.patient_id) == (admissions, patient.public_id)


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.BILLING])
def test_other_roles_cannot_register_patients(make_user, client_for, role):
    response = client_for(make_user(role)).post(URL, VALID, format="json")
    assert response.status_code == 403
    assert "register patients" in response.json()["message"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "555-0123"}, "phone"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"reminder_channel": "pigeon"}, "reminder_channel"),
        ({"state": "Massachusetts"}, "state"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(client_for, admissions, change, field):
    response = client_for(admissions).post(URL, VALID | change, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.exists()


def test_text_reminders_need_a_phone_number(client_for, admissions):
    response = client_for(admissions).post(URL, VALID | {"phone": ""}, format="json")
    assert response.status_code == 400
    assert "need a phone number" in response.json()["message"]
    assert not Patient.objects.exists()


def test_the_detail_lists_contacts(client_for, admissions):
    patient = PatientFactory.create()
    PatientContact.objects.create(
        patient=patient, name="Sam", relationship="sibling", phone="+16175550199", is_emergency_contact=True
    )
    body = client_for(admissions).get(f"{URL}{patient.public_id}/").json()
    assert body["contacts"] == [
        {
            "id": str(patient.contacts.get().public_id),
            "name": "Sam",
            "relationship": "sibling",
            "phone": "+16175550199",
            "email": "",
            "is_emergency_contact": True,
            "is_support_person": False,
        }
    ]


def test_a_contact_must_be_reachable():
    from django.core.exceptions import ValidationError

    contact = PatientContact(patient=PatientFactory.create(), name="Lee", relationship="friend")
    with pytest.raises(ValidationError, match="phone number or an email"):
        contact.full_clean()
