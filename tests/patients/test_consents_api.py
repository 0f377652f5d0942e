import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.consents import REDISCLOSURE_NOTICE
from patients.models import Consent, Disclosure
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

CONSENT = {
    "recipient_type": "outside_prescriber",
    "recipient_name": "Dr. Lee Park",
    "information": ["medications", "attendance"],
    "amount_and_kind": "Current taper plan and attendance for the past month",
    "purposes": ["care_coordination"],
    "effective_on": "2026-11-01",
    "expires_on": "2027-11-01",
    "signed_at": "2026-11-01T10:00:00-05:00",
    "signature_method": "electronic",
}
DISCLOSURE = {
    "recipient_type": "outside_prescriber",
    "recipient_name": "Dr. Lee Park",
    "information": ["medications"],
    "purpose": "care_coordination",
    "description": "Letter with the current taper step",
}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel("2026-11-23 15:00:00+00:00", tick=False):
        yield


@pytest.fixture
def desk(make_user, client_for):
    return client_for(make_user(Role.ADMISSIONS))


def record(client, patient, **changes):
    return client.post("/api/v1/consents/", CONSENT | {"patient": str(patient.public_id)} | changes, format="json")


def disclose(client, patient, **changes):
    return client.post(
        "/api/v1/disclosures/", DISCLOSURE | {"patient": str(patient.public_id)} | changes, format="json"
    )


def test_a_disclosure_under_a_covering_consent_is_recorded_with_the_notice(desk):
    patient = PatientFactory.create()
    consent = record(desk, patient)
    assert consent.status_code == 201
    assert "revoke" in consent.json()["right_to_revoke_statement"]
    response = disclose(desk, patient)
    assert response.status_code == 201
    body = response.json()
    assert body["consent"] == consent.json()["id"]
    assert body["redisclosure_notice"] == REDISCLOSURE_NOTICE
    assert AuditEvent.objects.filter(action=AuditAction.DISCLOSE, patient_id=patient.public_id).count() == 1


def test_without_a_covering_consent_the_disclosure_is_refused_naming_what_is_missing(desk):
    patient = PatientFactory.create()
    record(desk, patient)
    response = disclose(desk, patient, information=["toxicology"])
    assert response.status_code == 403
    body = response.json()
    assert "toxicology to Dr. Lee Park (outside prescriber) for care coordination" in body["message"]
    assert body["extra"]["missing_consent"]["information"] == ["toxicology"]
    assert not Disclosure.objects.exists()


def test_revocation_blocks_further_disclosures_at_once(desk):
    patient = PatientFactory.create()
    consent_id = record(desk, patient).json()["id"]
    assert disclose(desk, patient).status_code == 201
    assert desk.post(f"/api/v1/consents/{consent_id}/revoke/").status_code == 200
    assert disclose(desk, patient).status_code == 403
    assert desk.post(f"/api/v1/consents/{consent_id}/revoke/").status_code == 409


def test_an_expired_consent_covers_nothing(desk):
    patient = PatientFactory.create()
    record(desk, patient, effective_on="2026-01-01", expires_on="2026-11-22")
    assert disclose(desk, patient).status_code == 403


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires_on": None}, "expiry date or an expiry event"),
        ({"signature_method": "verbal_witnessed"}, "witness"),
        ({"expires_on": "2026-10-01"}, "cannot expire before"),
        # Found by the schema fuzzer: a year-109 signature was stored and read back with a
        # -04:56:02 offset (New York's local mean time), which is no RFC 3339 date-time.
        ({"signed_at": "0109-06-03T19:57:06Z"}, "before the patient was born"),
        ({"signed_at": "2026-11-24T10:00:00-05:00"}, "signed in the future"),
    ],
)
def test_an_incomplete_consent_is_refused(desk, changes, message):
    response = record(desk, PatientFactory.create(), **changes)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not Consent.objects.exists()


def test_the_accounting_covers_the_last_three_years(desk):
    patient = PatientFactory.create()
    record(desk, patient, effective_on="2022-01-01", expires_on="2030-01-01")
    with time_machine.travel("2023-06-01 15:00:00+00:00", tick=False):
        Disclosure.objects.create(
            patient=patient,
            consent=Consent.objects.get(),
            recipient_type="outside_prescriber",
            recipient_name="Dr. Lee Park",
            information=["medications"],
            purpose="care_coordination",
            description="Old letter",
            disclosed_at="2023-06-01T12:00:00Z",
            disclosed_by=Consent.objects.get().recorded_by,
            redisclosure_notice=REDISCLOSURE_NOTICE,
        )
    disclose(desk, patient)
    rows = desk.get(f"/api/v1/disclosures/accounting/{patient.public_id}/").json()
    assert [row["description"] for row in rows] == ["Letter with the current taper step"]


def test_a_patient_off_the_care_team_is_a_404_for_a_clinician(make_user, client_for):
    patient = PatientFactory.create()
    response = record(client_for(make_user(Role.CLINICIAN)), patient)
    assert response.status_code == 404


def test_the_desk_sees_consents_on_the_patient_page_and_the_disclosure_log(desk, make_user, client):
    patient = PatientFactory.create()
    record(desk, patient)
    disclose(desk, patient)
    client.force_login(make_user(Role.ADMISSIONS))
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/")
    assert page.status_code == 200
    assert "Dr. Lee Park" in page.content.decode()
    log = client.get("/admin/patients/disclosure/")
    assert log.status_code == 200
    assert "Dr. Lee Park" in log.content.decode()


def test_a_revocation_that_wins_the_race_stops_the_disclosure(desk, make_user, monkeypatch):
    from patients.services import consents as consent_services

    patient = PatientFactory.create()
    consent = Consent.objects.get(public_id=record(desk, patient).json()["id"])
    checked = consent_services.consent_check

    def check_then_revoked_elsewhere(**kwargs):
        # The covering consent is found, then revoked by another desk before the lock is taken.
        found = checked(**kwargs)
        Consent.objects.filter(pk=found.pk).update(revoked_at="2026-11-23T14:59:00Z")
        return found

    monkeypatch.setattr(consent_services, "consent_check", check_then_revoked_elsewhere)
    response = disclose(desk, patient)
    assert response.status_code == 403
    assert "revoked a moment ago" in response.json()["message"]
    assert response.json()["extra"]["revoked_consent"] == str(consent.public_id)
    assert not Disclosure.objects.exists()


def test_a_malformed_patient_id_in_the_accounting_url_is_a_404(desk):
    # Found by the schema fuzzer: the URL took 32-36 hex digits and dashes anywhere, and UUID() raised.
    response = desk.get("/api/v1/disclosures/accounting/-3d83Ef2CD08A-262fc4bEdC5-74Cd3-/")
    assert response.status_code == 404
    assert set(response.json()) == {"message", "extra"}
