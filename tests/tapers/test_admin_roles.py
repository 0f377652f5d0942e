"""Who sees the tapers admin (DESIGN.md, Roles): taper plans, withdrawal checks, the ledger and
communications are clinical records. Admissions and billing see none of it, neither in the app list
nor by URL; clinical staff see their care teams' patients only, and every page shown is audited.
Nothing clinical is edited here, nor reverted from its history."""

from __future__ import annotations

import pytest
from django.test import Client

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from tapers.models import Medication, Prescription, TaperPlan, WithdrawalCheck
from tapers.services import checks as check_services
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_coordination import OutsidePrescriberFactory, consent_for, fax_letter
from tests.tapers.factories_ledger import record
from tests.tapers.factories_plans import active

pytestmark = pytest.mark.usefixtures("clock", "catalogue")

# Every clinical page of the tapers admin: plans and checks, the ledger, coordination.
CLINICAL = [
    "taperplan",
    "taperplanversion",
    "taperstep",
    "withdrawalcheck",
    "prescription",
    "pdmpimport",
    "pdmpcheck",
    "riskflag",
    "prescriberofrecord",
    "communication",
]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plan(team_patient, prescriber, nurse) -> TaperPlan:
    """The team patient's active plan, and a withdrawal check recorded by the nurse."""
    plan = active(team_patient, prescriber)
    check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=[1] * 20, by=nurse)
    return plan


@pytest.fixture
def prescription(team_patient, prescriber) -> Prescription:
    return record(team_patient, prescriber, drug="diazepam", daily="20")


@pytest.fixture
def letter(team_patient, clinician):
    outside = OutsidePrescriberFactory.create()
    consent_for(team_patient, outside.name, by=clinician)
    return fax_letter(team_patient, outside, by=clinician)


def test_billing_gets_403_on_taper_plans_and_withdrawal_checks(make_user, plan):
    client = signed_in(make_user(Role.BILLING))
    check = WithdrawalCheck.objects.get()
    for url in (
        "/admin/tapers/taperplan/",
        f"/admin/tapers/taperplan/{plan.pk}/change/",
        "/admin/tapers/withdrawalcheck/",
        f"/admin/tapers/withdrawalcheck/{check.pk}/change/",
    ):
        assert client.get(url).status_code == 403, url
    assert not AuditEvent.objects.filter(via="admin", action=AuditAction.READ).exists()


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_the_front_office_sees_no_tapers_app_and_no_clinical_page(make_user, plan, prescription, letter, role):
    client = signed_in(make_user(role))
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "tapers" not in {app["app_label"] for app in index.context["app_list"]}
    assert "Tapers" not in index.content.decode()
    assert client.get("/admin/tapers/").status_code == 404  # no page of the app for them
    for page in CLINICAL:
        assert client.get(f"/admin/tapers/{page}/").status_code == 403, page
    assert client.get(f"/admin/tapers/prescription/{prescription.pk}/history/").status_code == 403
    assert client.get(f"/admin/tapers/communication/{letter.pk}/change/").status_code == 403


def test_a_clinician_off_the_care_team_gets_a_404_on_the_patients_taper_plan(make_user, plan, prescription):
    client = signed_in(make_user(Role.CLINICIAN))
    assert list(client.get("/admin/tapers/taperplan/").context["cl"].result_list) == []
    # Not found, as for a plan that does not exist: nothing says the patient is one of ours.
    assert client.get(f"/admin/tapers/taperplan/{plan.pk}/change/").status_code == 404
    assert client.get("/admin/tapers/taperplan/999999/change/").status_code == 404
    check = WithdrawalCheck.objects.get()
    assert client.get(f"/admin/tapers/withdrawalcheck/{check.pk}/change/").status_code == 404
    assert client.get(f"/admin/tapers/prescription/{prescription.pk}/change/").status_code == 404


def test_a_clinician_off_the_care_team_cannot_read_a_records_history(make_user, prescription):
    # simple_history's own history pages fall back to the history table for a row the admin's
    # queryset does not hold: without the care-team check, any clinician could read any patient's.
    client = signed_in(make_user(Role.CLINICIAN))
    version = prescription.history.latest()
    assert client.get(f"/admin/tapers/prescription/{prescription.pk}/history/").status_code == 404
    page = client.get(f"/admin/tapers/prescription/{prescription.pk}/history/{version.history_id}/")
    assert page.status_code == 404


def test_a_clinician_on_the_care_team_sees_the_plan_and_the_view_is_audited(clinician, plan, team_patient):
    client = signed_in(clinician)
    listed = client.get("/admin/tapers/taperplan/")
    assert [p.pk for p in listed.context["cl"].result_list] == [plan.pk]
    page = client.get(f"/admin/tapers/taperplan/{plan.pk}/change/")
    assert page.status_code == 200
    assert str(plan.public_id) in page.content.decode()
    events = AuditEvent.objects.filter(actor=clinician, via="admin", patient_id=team_patient.public_id)
    assert events.filter(action=AuditAction.LIST).exists()
    assert events.filter(action=AuditAction.READ, object_id=str(plan.public_id)).exists()


def test_the_care_team_reads_a_records_history_audited_and_cannot_revert_it(prescriber, prescription, team_patient):
    client = signed_in(prescriber)
    version = prescription.history.latest()
    versions = prescription.history.count()
    assert client.get(f"/admin/tapers/prescription/{prescription.pk}/history/").status_code == 200
    assert AuditEvent.objects.filter(
        actor=prescriber, via="admin", action=AuditAction.READ, object_id=str(prescription.public_id)
    ).exists()
    url = f"/admin/tapers/prescription/{prescription.pk}/history/{version.history_id}/"
    assert client.get(url).status_code == 200
    # A posted "revert" would save the old version past the ledger's services.
    assert client.post(url, {}).status_code == 403
    assert prescription.history.count() == versions


def test_the_catalogue_is_reverted_only_by_who_may_change_it(nurse):
    medication = Medication.objects.get(generic_name="diazepam")
    medication.brand_names = ["Valium", "Diastat"]
    medication.save()
    old = medication.history.earliest()
    versions = medication.history.count()
    client = signed_in(nurse)  # reads the catalogue, may not change it
    url = f"/admin/tapers/medication/{medication.pk}/history/{old.history_id}/"
    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 403
    medication.refresh_from_db()
    assert medication.brand_names == ["Valium", "Diastat"]
    assert medication.history.count() == versions


@pytest.mark.parametrize("page", ["taperplan", "taperplanversion", "taperstep", "withdrawalcheck"])
def test_the_plan_lists_keep_their_query_count(prescriber, nurse, plan, page, django_assert_max_num_queries):
    client = signed_in(nurse)
    url = f"/admin/tapers/{page}/"
    with django_assert_max_num_queries(40) as one:
        assert client.get(url).status_code == 200
    count = len(one.captured_queries)
    for _ in range(3):
        patient = PatientFactory.create()
        put_on_care_team(patient, prescriber)
        put_on_care_team(patient, nurse)
        more = active(patient, prescriber)
        check_services.withdrawal_check_record(patient=patient, plan=more, items=[1] * 20, by=nurse)
    with django_assert_max_num_queries(count):
        response = client.get(url)
    assert len(response.context["cl"].result_list) >= 4
