from datetime import date

import pytest

from clinic.roles import Role
from patients.services import mrn_next
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN])
def test_front_office_roles_read_every_patients_demographics(make_user, client_for, patient, role):
    response = client_for(make_user(role)).get(f"/api/v1/patients/{patient.public_id}/")
    assert response.status_code == 200
    assert response.json()["mrn"] == patient.mrn
    assert response.json()["id"] == str(patient.public_id)


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.PRESCRIBER, Role.NURSE])
def test_clinical_roles_see_only_their_care_team_patients(make_user, client_for, role):
    user = make_user(role)
    mine, other = PatientFactory.create(), PatientFactory.create()
    put_on_care_team(mine, user)
    client = client_for(user)
    assert client.get(f"/api/v1/patients/{mine.public_id}/").status_code == 200
    off_team = client.get(f"/api/v1/patients/{other.public_id}/")
    assert off_team.status_code == 404
    assert other.legal_last_name not in off_team.content.decode()
    assert [row["id"] for row in client.get("/api/v1/patients/").json()["results"]] == [str(mine.public_id)]


def test_an_ended_membership_closes_the_record(make_user, client_for):
    nurse = make_user(Role.NURSE)
    patient = PatientFactory.create()
    membership = put_on_care_team(patient, nurse)
    membership.ended_on = date(2026, 2, 1)
    membership.save()
    assert client_for(nurse).get(f"/api/v1/patients/{patient.public_id}/").status_code == 404


def test_unauthenticated_callers_get_401_and_no_data(api_client, patient):
    response = api_client.get(f"/api/v1/patients/{patient.public_id}/")
    assert response.status_code == 401
    assert patient.legal_last_name not in response.content.decode()


def test_the_list_filters_by_status(make_user, client_for):
    admitted = PatientFactory.create(status="admitted")
    PatientFactory.create(status="referred")
    response = client_for(make_user(Role.ADMISSIONS)).get("/api/v1/patients/?status=admitted")
    assert [row["id"] for row in response.json()["results"]] == [str(admitted.public_id)]


def test_an_unknown_status_filter_is_a_400(clinician_client):
    response = clinician_client.get("/api/v1/patients/?status=asleep")
    assert response.status_code == 400
    assert "status" in response.json()["extra"]["fields"]


def test_patients_cannot_be_deleted_through_the_api(make_user, client_for, patient):
    for role in Role:
        assert client_for(make_user(role)).delete(f"/api/v1/patients/{patient.public_id}/").status_code == 405


def test_a_patient_prints_as_the_mrn_only(patient):
    # str() ends up in the admin's change log and in exception reports: no names there.
    assert str(patient) == patient.mrn
    assert patient.legal_last_name not in str(patient)


def test_mrns_are_never_reused():
    first, second = mrn_next(), mrn_next()
    assert first != second
    assert int(second[3:]) > int(first[3:])


def test_the_list_filters_by_current_level_primary_clinician_and_search(make_user, client_for):
    from clinic.models import LevelOfCare
    from patients.models import CareTeamMember, EpisodeOfCare, LevelOfCareStay
    from tests.clinic.factories import StaffProfileFactory, UserFactory

    therapist = StaffProfileFactory.create(user=UserFactory.create(roles=[Role.CLINICIAN]))
    in_iop = PatientFactory.create(legal_last_name="Okafor")
    in_php = PatientFactory.create(legal_last_name="Lindqvist")
    for patient, code in [(in_iop, "iop"), (in_php, "php")]:
        episode = EpisodeOfCare.objects.create(patient=patient, admitted_on=date(2026, 11, 1))
        LevelOfCareStay.objects.create(
            episode=episode,
            level=LevelOfCare.objects.get(code=code),
            started_on=date(2026, 11, 1),
            kind="admission",
            reason="r",
            decided_by=therapist.user,
        )
    CareTeamMember.objects.create(
        patient=in_iop, member=therapist.user, team_role="primary_clinician", started_on=date(2026, 11, 1)
    )
    desk = client_for(make_user(Role.ADMISSIONS))

    def ids(query):
        return [row["id"] for row in desk.get(f"/api/v1/patients/?{query}").json()["results"]]

    assert ids("level_of_care=iop") == [str(in_iop.public_id)]
    assert ids(f"primary_clinician={therapist.public_id}") == [str(in_iop.public_id)]
    assert ids("search=lindq") == [str(in_php.public_id)]
    assert ids(f"search={in_iop.mrn}") == [str(in_iop.public_id)]
    detail = desk.get(f"/api/v1/patients/{in_iop.public_id}/").json()
    assert detail["current_level"] == "iop"
    assert [(m["member"], m["team_role"]) for m in detail["care_team"]] == [
        (str(therapist.public_id), "primary_clinician")
    ]
