"""simple_history's pages under each admin's own rules: no record seen through its history
outside the user's queryset, no revert without the change permission, none at all of records
written only through services."""

import pytest
from django.test import Client

from clinic.roles import Role
from patients.models import Patient
from tests.clinic.factories import LocationFactory
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def version_url(obj, app_model: str) -> str:
    version = obj.history.latest("history_id")
    return f"/admin/{app_model}/{obj.pk}/history/{version.history_id}/"


def test_billing_may_read_a_patients_history_but_not_revert_it(make_user):
    patient = PatientFactory.create(legal_last_name="Before")
    Patient.objects.filter(pk=patient.pk).update(legal_last_name="After")
    client = logged_in(make_user(Role.BILLING))
    url = version_url(patient, "patients/patient")
    assert client.get(url).status_code == 200
    form = {
        "legal_first_name": patient.legal_first_name,
        "legal_last_name": "Before",
        "date_of_birth": "1980-05-17",
        "time_zone": "America/New_York",
        "preferred_language": "en",
        "reminder_channel": "none",
        "status": patient.status,
    }
    assert client.post(url, form).status_code == 403
    patient.refresh_from_db()
    assert patient.legal_last_name == "After"


def test_a_clinician_off_the_care_team_cannot_read_a_patients_history(make_user):
    patient = PatientFactory.create()
    outsider, member = make_user(Role.CLINICIAN), make_user(Role.CLINICIAN)
    put_on_care_team(patient, member)
    assert logged_in(outsider).get(f"/admin/patients/patient/{patient.pk}/history/").status_code == 404
    assert logged_in(outsider).get(version_url(patient, "patients/patient")).status_code == 404
    assert logged_in(member).get(f"/admin/patients/patient/{patient.pk}/history/").status_code == 200


def test_reference_data_is_reverted_only_by_who_may_change_it(make_user):
    location = LocationFactory.create(name="Old name")
    location.name = "New name"
    location.save()
    url = f"/admin/clinic/location/{location.pk}/history/{location.history.earliest('history_id').history_id}/"
    assert logged_in(make_user(Role.ADMISSIONS)).post(url, {"name": "Old name"}).status_code == 403
    location.refresh_from_db()
    assert location.name == "New name"
