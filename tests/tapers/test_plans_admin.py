"""The read-only admin of plans, versions, steps and checks: the care team only, audited."""

from __future__ import annotations

import pytest
from django.test import Client

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from tapers.models import WithdrawalCheck
from tapers.services import checks as check_services
from tests.tapers.factories_plans import active, in_force

pytestmark = pytest.mark.usefixtures("clock", "catalogue")

PAGES = ["taperplan", "taperplanversion", "taperstep", "withdrawalcheck"]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plan(team_patient, prescriber, nurse):
    plan = active(team_patient, prescriber)
    check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=[1] * 20, by=nurse)
    return plan


def test_the_care_team_reads_every_page_and_each_read_is_audited(nurse, plan, team_patient):
    client = logged_in(nurse)
    for page in PAGES:
        response = client.get(f"/admin/tapers/{page}/")
        assert response.status_code == 200, page
        assert len(response.context["cl"].result_list) >= 1, page
    version = in_force(plan)
    assert client.get(f"/admin/tapers/taperplanversion/{version.pk}/change/").status_code == 200
    check = WithdrawalCheck.objects.get()
    assert client.get(f"/admin/tapers/withdrawalcheck/{check.pk}/change/").status_code == 200
    events = AuditEvent.objects.filter(actor=nurse, via="admin", patient_id=team_patient.public_id)
    assert events.filter(action=AuditAction.LIST).count() >= 4
    assert events.filter(action=AuditAction.READ, object_id=str(version.public_id)).exists()


def test_nothing_can_be_added_changed_or_deleted(nurse, prescriber, plan):
    client = logged_in(prescriber)
    assert client.get("/admin/tapers/taperplan/add/").status_code == 403
    response = client.post(f"/admin/tapers/taperplan/{plan.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN])
def test_the_front_office_and_administrators_see_none_of_it(make_user, plan, role):
    client = logged_in(make_user(role))
    for page in PAGES:
        assert client.get(f"/admin/tapers/{page}/").status_code == 403, page
    assert client.get(f"/admin/tapers/taperplan/{plan.pk}/change/").status_code == 403
    assert "Taper plans" not in client.get("/admin/").content.decode()


def test_clinical_staff_off_the_care_team_see_an_empty_list(make_user, plan):
    client = logged_in(make_user(Role.NURSE))
    assert list(client.get("/admin/tapers/taperplan/").context["cl"].result_list) == []
    assert client.get(f"/admin/tapers/taperplan/{plan.pk}/change/").status_code == 404  # as if it did not exist
