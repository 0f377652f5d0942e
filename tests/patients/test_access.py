from datetime import date

import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import CareTeamMember
from tests.clinic.factories import StaffProfileFactory, UserFactory
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

REASON = "Covering the on-call shift; patient called in crisis."


def test_break_the_glass_opens_the_record_for_a_while_and_is_audited(make_user, client_for, settings):
    settings.BREAK_GLASS_MINUTES = 60
    clinician = make_user(Role.CLINICIAN)
    patient = PatientFactory.create()
    client = client_for(clinician)
    url = f"/api/v1/patients/{patient.public_id}/"
    assert client.get(url).status_code == 404
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False):
        response = client.post(f"{url}break-glass/", {"reason": REASON}, format="json")
        assert response.status_code == 201
        assert response.json()["expires_at"].startswith("2026-11-23T06:00:00")  # 11:00 UTC in New York
        assert client.get(url).status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.BREAK_GLASS)
    assert (event.actor, event.patient_id, event.reason) == (clinician, patient.public_id, REASON)
    with time_machine.travel("2026-11-23 11:00:01+00:00", tick=False):
        assert client.get(url).status_code == 404


def test_break_the_glass_needs_a_real_reason(make_user, client_for):
    patient = PatientFactory.create()
    client = client_for(make_user(Role.NURSE))
    response = client.post(f"/api/v1/patients/{patient.public_id}/break-glass/", {"reason": "need"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["extra"]["fields"]
    missing = client.post(f"/api/v1/patients/{patient.public_id}/break-glass/", {}, format="json")
    assert missing.json()["extra"]["fields"] == {"reason": ["This field is required."]}
    assert not AuditEvent.objects.filter(action=AuditAction.BREAK_GLASS).exists()


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_front_office_cannot_break_the_glass(make_user, client_for, role):
    patient = PatientFactory.create()
    response = client_for(make_user(role)).post(
        f"/api/v1/patients/{patient.public_id}/break-glass/", {"reason": REASON}, format="json"
    )
    assert response.status_code == 403
    assert "break the glass" in response.json()["message"]


def test_break_the_glass_on_an_unknown_patient_is_a_404(make_user, client_for):
    response = client_for(make_user(Role.CLINICIAN)).post(
        "/api/v1/patients/0b5e6a9e-8d51-4c43-a5f5-6d3f0a1a9b2c/break-glass/", {"reason": REASON}, format="json"
    )
    assert response.status_code == 404


@pytest.fixture
def admissions_client(make_user, client_for):
    return client_for(make_user(Role.ADMISSIONS))


def add(client, patient, staff, team_role="primary_clinician"):
    return client.post(
        "/api/v1/care-team-members/",
        {
            "patient": str(patient.public_id),
            "member": str(staff.public_id),
            "team_role": team_role,
            "started_on": "2026-11-01",
        },
        format="json",
    )


def test_admissions_builds_the_care_team_and_it_opens_the_record(admissions_client, client_for):
    patient = PatientFactory.create()
    staff = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.CLINICIAN]))
    response = add(admissions_client, patient, staff)
    assert response.status_code == 201
    assert response.json()["member"] == str(staff.public_id)
    assert client_for(staff.user).get(f"/api/v1/patients/{patient.public_id}/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, patient_id=patient.public_id).exists()


def test_one_prescriber_of_record_at_a_time(admissions_client):
    patient = PatientFactory.create()
    first = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.PRESCRIBER]))
    second = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.PRESCRIBER]))
    assert add(admissions_client, patient, first, "prescriber_of_record").status_code == 201
    clash = add(admissions_client, patient, second, "prescriber_of_record")
    assert clash.status_code == 409
    assert "prescriber of record" in clash.json()["message"]
    membership_id = CareTeamMember.objects.get().public_id
    ended = admissions_client.post(
        f"/api/v1/care-team-members/{membership_id}/end/", {"ended_on": "2026-11-20"}, format="json"
    )
    assert ended.status_code == 200
    assert add(admissions_client, patient, second, "prescriber_of_record").status_code == 201


def test_only_clinical_staff_join_a_care_team(admissions_client):
    patient = PatientFactory.create()
    desk = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.BILLING]))
    response = add(admissions_client, patient, desk)
    assert response.status_code == 400
    assert "member" in response.json()["extra"]["fields"]
    assert not CareTeamMember.objects.exists()


def test_clinicians_cannot_change_care_teams(make_user, client_for):
    clinician = make_user(Role.CLINICIAN)
    patient = PatientFactory.create()
    CareTeamMember.objects.create(patient=patient, member=clinician, team_role="other", started_on=date(2026, 1, 1))
    colleague = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.CLINICIAN]))
    response = add(client_for(clinician), patient, colleague)
    assert response.status_code == 403
    assert CareTeamMember.objects.count() == 1


def test_an_end_before_the_start_is_refused(admissions_client):
    patient = PatientFactory.create()
    staff = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.NURSE]))
    membership_id = add(admissions_client, patient, staff, "nurse").json()["id"]
    response = admissions_client.post(
        f"/api/v1/care-team-members/{membership_id}/end/", {"ended_on": "2026-10-01"}, format="json"
    )
    assert response.status_code == 400
    assert CareTeamMember.objects.get().ended_on is None


def test_the_admin_applies_the_care_team_rule_too(client, make_user):
    clinician = make_user(Role.CLINICIAN)
    mine, other = PatientFactory.create(), PatientFactory.create()
    CareTeamMember.objects.create(patient=mine, member=clinician, team_role="other", started_on=date(2026, 1, 1))
    client.force_login(clinician)
    assert client.get(f"/admin/patients/patient/{mine.pk}/change/").status_code == 200
    # Django's admin answers a record outside the queryset with a redirect and a "doesn't exist" message.
    assert client.get(f"/admin/patients/patient/{other.pk}/change/").status_code == 302
    listing = client.get("/admin/patients/patient/").content.decode()
    assert mine.mrn in listing
    assert other.mrn not in listing


def test_a_care_team_membership_opens_the_record_from_its_first_day(make_user, client_for):
    patient = PatientFactory.create()
    clinician = make_user(Role.CLINICIAN)
    CareTeamMember.objects.create(patient=patient, member=clinician, team_role="other", started_on=date(2026, 12, 1))
    client = client_for(clinician)
    with time_machine.travel("2026-11-30 15:00:00+00:00", tick=False):
        assert client.get(f"/api/v1/patients/{patient.public_id}/").status_code == 404
    with time_machine.travel("2026-12-01 15:00:00+00:00", tick=False):
        assert client_for(clinician).get(f"/api/v1/patients/{patient.public_id}/").status_code == 200
