"""Payers, coverages and self-pay plans through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from clinic.roles import Role
from insurance.models import Coverage, PaymentPlan
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def coverage_body(patient, payer, **overrides):
    return {
        "patient": str(patient.public_id),
        "payer": str(payer.public_id),
        "member_id": "W199966066",
        "group_number": "G-1000",
        "plan_name": "Gold PPO",
        "effective_on": "2026-01-01",
    } | overrides


def test_it_records_a_coverage_and_audits_it(billing_client, patient, payer):
    response = billing_client.post("/api/v1/coverages/", coverage_body(patient, payer), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["priority"] == 1
    assert body["payer"]["name"] == "ABC Company"
    coverage = Coverage.objects.get(public_id=body["id"])
    assert AuditEvent.objects.filter(object_id=str(coverage.public_id), action="create").count() == 1


def test_a_dependent_coverage_needs_the_subscriber(billing_client, patient, payer):
    response = billing_client.post(
        "/api/v1/coverages/", coverage_body(patient, payer, subscriber_relationship="19"), format="json"
    )
    assert response.status_code == 400
    assert "subscriber's name and date of birth" in response.json()["message"]
    assert not Coverage.objects.exists()


def test_two_primaries_at_once_are_a_conflict(billing_client, patient, payer, make_coverage):
    make_coverage(patient)
    response = billing_client.post(
        "/api/v1/coverages/", coverage_body(patient, payer, member_id="OTHER"), format="json"
    )
    assert response.status_code == 409
    assert "already has a coverage of this priority" in response.json()["message"]
    secondary = billing_client.post(
        "/api/v1/coverages/", coverage_body(patient, payer, member_id="OTHER", priority=2), format="json"
    )
    assert secondary.status_code == 201


def test_a_terminated_coverage_frees_its_priority(billing_client, patient, payer, make_coverage):
    old = make_coverage(patient)
    response = billing_client.patch(
        f"/api/v1/coverages/{old.public_id}/", {"terminates_on": "2026-10-31"}, format="json"
    )
    assert response.status_code == 200
    new = billing_client.post(
        "/api/v1/coverages/", coverage_body(patient, payer, member_id="NEW", effective_on="2026-11-01"), format="json"
    )
    assert new.status_code == 201


def test_termination_before_effect_is_refused(billing_client, patient, make_coverage):
    coverage = make_coverage(patient)
    response = billing_client.patch(
        f"/api/v1/coverages/{coverage.public_id}/", {"terminates_on": "2025-12-31"}, format="json"
    )
    assert response.status_code == 400
    assert "cannot terminate before" in response.json()["message"]


def test_clinicians_read_their_patients_coverage_but_not_others(clinician_client, patient, make_coverage):
    mine = make_coverage(patient)
    theirs = make_coverage(PatientFactory.create())
    assert clinician_client.get(f"/api/v1/coverages/{mine.public_id}/").status_code == 200
    assert clinician_client.get(f"/api/v1/coverages/{theirs.public_id}/").status_code == 404
    listed = clinician_client.get("/api/v1/coverages/").json()["results"]
    assert [row["id"] for row in listed] == [str(mine.public_id)]


def test_clinicians_do_not_record_coverage(clinician_client, patient, payer):
    response = clinician_client.post("/api/v1/coverages/", coverage_body(patient, payer), format="json")
    assert response.status_code == 403


def test_it_needs_a_login(api_client):
    assert api_client.get("/api/v1/coverages/").status_code == 401


def test_the_coverage_list_costs_the_same_for_more_rows(billing_client, make_coverage):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert billing_client.get("/api/v1/coverages/").status_code == 200
        return len(queries)

    make_coverage(PatientFactory.create())
    few = count()
    for _ in range(5):
        make_coverage(PatientFactory.create())
    assert count() == few


def test_payers_are_kept_by_the_desk_and_billing(billing_client, clinician_client):
    response = billing_client.post("/api/v1/payers/", {"name": "Aetna", "payer_id": "60054"}, format="json")
    assert response.status_code == 201
    duplicate = billing_client.post("/api/v1/payers/", {"name": "Aetna", "payer_id": "X"}, format="json")
    assert duplicate.status_code == 409
    assert (
        clinician_client.post("/api/v1/payers/", {"name": "Cigna", "payer_id": "62308"}, format="json").status_code
        == 403
    )


def test_a_payment_plan_adds_up_and_takes_payments(billing_client, patient):
    body = {
        "patient": str(patient.public_id),
        "total": "900.00",
        "agreed_on": "2026-11-23",
        "instalments": [
            {"due_on": "2026-12-01", "amount": "300.00"},
            {"due_on": "2027-01-01", "amount": "300.00"},
            {"due_on": "2027-02-01", "amount": "300.00"},
        ],
    }
    short = billing_client.post("/api/v1/payment-plans/", body | {"total": "1000.00"}, format="json")
    assert short.status_code == 400
    assert "add up to 900.00, not the plan's total of 1000.00" in short.json()["message"]
    assert not PaymentPlan.objects.exists()

    plan = billing_client.post("/api/v1/payment-plans/", body, format="json").json()
    paid = billing_client.post(
        f"/api/v1/payment-plans/{plan['id']}/payments/",
        {"due_on": "2026-12-01", "amount": "300.00", "paid_on": "2026-11-30"},
        format="json",
    )
    assert paid.status_code == 200
    assert paid.json()["paid"] == "300.00"
    assert paid.json()["instalments"][0]["paid_on"] == "2026-11-30"
    too_much = billing_client.post(
        f"/api/v1/payment-plans/{plan['id']}/payments/",
        {"due_on": "2027-01-01", "amount": "400.00", "paid_on": "2026-11-30"},
        format="json",
    )
    assert too_much.status_code == 400


def test_clinicians_see_no_payment_plans(clinician_client, make_user, client_for):
    assert clinician_client.get("/api/v1/payment-plans/").status_code == 403
    assert client_for(make_user(Role.ADMISSIONS)).get("/api/v1/payment-plans/").status_code == 200


def test_coverage_dates_are_whole_days(billing_client, patient, payer):
    response = billing_client.post(
        "/api/v1/coverages/", coverage_body(patient, payer, effective_on="2026-13-01"), format="json"
    )
    assert response.status_code == 400
    assert "effective_on" in response.json()["extra"]["fields"]


def test_a_payer_filter_that_is_not_true_or_false_is_a_400(billing_client, payer):
    # Found by the schema fuzzer: django-filter's BooleanFilter ignored "null" and listed every payer.
    response = billing_client.get("/api/v1/payers/?is_active=null")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"is_active"}
