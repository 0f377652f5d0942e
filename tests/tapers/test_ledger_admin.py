"""The ledger's read-only admin: clinical roles on the care team only, audited."""

import pytest
from django.test import Client

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_ledger import days_ago, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

PAGES = ["prescription", "pdmpimport", "pdmpcheck", "riskflag"]


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_care_teams_prescriber_reads_the_ledger_and_it_is_audited(make_user):
    doctor = make_user(Role.PRESCRIBER)
    patient, elsewhere = PatientFactory.create(), PatientFactory.create()
    put_on_care_team(patient, doctor)
    mine = record(patient, doctor, drug="diazepam", daily="20", written=days_ago(3))
    record(elsewhere, doctor, drug="lorazepam", written=days_ago(3))
    client = browser(doctor)
    page = client.get("/admin/tapers/prescription/")
    assert page.status_code == 200
    assert [rx.pk for rx in page.context["cl"].result_list] == [mine.pk]  # not the other patient's
    assert client.get(f"/admin/tapers/prescription/{mine.pk}/change/").status_code == 200
    assert AuditEvent.objects.filter(via="admin", action=AuditAction.READ, object_id=str(mine.public_id)).exists()
    assert client.get("/admin/tapers/riskflag/").status_code == 200
    assert client.get("/admin/tapers/prescription/add/").status_code == 403
    assert client.post(f"/admin/tapers/prescription/{mine.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN])
def test_non_clinical_roles_see_none_of_the_ledger_in_the_admin(make_user, role):
    client = browser(make_user(role))
    for page in PAGES:
        assert client.get(f"/admin/tapers/{page}/").status_code == 403, page
    assert "prescription" not in client.get("/admin/").content.decode().lower()
