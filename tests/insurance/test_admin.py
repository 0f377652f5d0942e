"""The insurance admin: admissions and billing keep coverages, check eligibility, read the
answers and work authorizations and the billing queue, through the same services as the API."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent, LevelOfCare
from insurance.models import (
    AlertKind,
    Authorization,
    AuthorizationStatus,
    BillingAlert,
    CheckStatus,
    Coverage,
    EligibilityCheck,
    Payer,
    PaymentPlan,
)
from insurance.services.authorizations import authorization_create
from insurance.services.eligibility import eligibility_check_request
from tests.insurance.conftest import X12_SAMPLES
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

SAMPLE_271 = X12_SAMPLES / "271_lfh_tr3_subscriber_active_copay_MH.271"
REJECTED_271 = X12_SAMPLES / "271_lfh_tr3_AAA50_provider_ineligible.271"


def no_inline_rows(*prefixes: str) -> dict[str, str]:
    """The management forms of inlines posted with no rows."""
    data: dict[str, str] = {}
    for prefix in prefixes:
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def coverage_form(patient, payer, **fields) -> dict[str, str]:
    return {
        "patient": str(patient.pk),
        "payer": str(payer.pk),
        "member_id": "W199966066",
        "group_number": "",
        "plan_name": "",
        "priority": "1",
        "effective_on": "2026-01-01",
        "terminates_on": "",
        "subscriber_relationship": "18",
        "subscriber_first_name": "",
        "subscriber_last_name": "",
        "subscriber_date_of_birth": "",
        "subscriber_sex": "",
        **no_inline_rows("eligibility_checks"),
        **fields,
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def upload(client, check, sample):
    with sample.open("rb") as file:
        return client.post(f"/admin/insurance/eligibilitycheck/{check.pk}/upload-271/", {"file": file}, follow=True)


@pytest.fixture
def smith(db):
    """The member of the TR3 sample 271: John Smith, born 19 May 1963, member 123456789."""
    return PatientFactory.create(legal_first_name="John", legal_last_name="Smith", date_of_birth=date(1963, 5, 19))


@pytest.fixture
def awaiting_check(smith, make_coverage, payer_consent, billing):
    payer_consent(smith)
    return eligibility_check_request(coverage=make_coverage(smith, member_id="123456789"), by=billing, mode="file")


# --- payers and coverages ----------------------------------------------------------------------


def test_billing_adds_a_payer_and_a_duplicate_name_is_a_form_error(client, billing, payer):
    client.force_login(billing)
    form = {"name": "Northwind Health", "payer_id": "NW001", "phone": "", "portal_url": "", "is_active": "on"}
    assert client.post("/admin/insurance/payer/add/", form).status_code == 302
    assert Payer.objects.get(name="Northwind Health").payer_id == "NW001"
    duplicate = client.post("/admin/insurance/payer/add/", {**form, "name": payer.name})
    assert duplicate.status_code == 200
    assert "name" in duplicate.context["adminform"].form.errors
    assert "Northwind" in client.get("/admin/insurance/payer/?q=NW001").content.decode()


def test_a_coverage_cannot_be_given_an_inactive_payer(client, admissions, payer):
    payer.is_active = False
    payer.save()
    client.force_login(admissions)
    response = client.post("/admin/insurance/coverage/add/", coverage_form(PatientFactory.create(), payer))
    assert response.status_code == 200
    assert "payer" in response.context["adminform"].form.errors
    assert not Coverage.objects.exists()


def test_admissions_adds_a_coverage_through_the_service(client, admissions, payer):
    patient = PatientFactory.create()
    client.force_login(admissions)
    response = client.post("/admin/insurance/coverage/add/", coverage_form(patient, payer))
    assert response.status_code == 302, response.content.decode()[:3000]
    coverage = Coverage.objects.get()
    assert (coverage.patient, coverage.payer, coverage.created_by) == (patient, payer, admissions)
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="insurance.Coverage")
    assert (event.patient_id, event.via) == (patient.public_id, "admin")


def test_a_dependent_coverage_without_the_subscriber_is_a_form_error_and_nothing_is_saved(client, admissions, payer):
    patient = PatientFactory.create()
    client.force_login(admissions)
    response = client.post(
        "/admin/insurance/coverage/add/", coverage_form(patient, payer, subscriber_relationship="G8")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert "give the subscriber's name and date of birth" in errors[0]
    assert not Coverage.objects.exists()


def test_a_refusal_the_form_cannot_foresee_shows_the_form_again_with_the_services_message(
    client, admissions, payer, make_coverage
):
    patient = PatientFactory.create()
    make_coverage(patient)
    secondary = make_coverage(patient, member_id="SECOND", priority=2)
    client.force_login(admissions)
    # The patient is read-only on the change form, so only the service sees the primary it clashes with.
    response = client.post(
        f"/admin/insurance/coverage/{secondary.pk}/change/",
        coverage_form(patient, payer, member_id="SECOND-NEW", priority="1"),
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "already has a coverage of this priority" in form.non_field_errors()[0]
    assert form["member_id"].value() == "SECOND-NEW"  # what was typed is kept
    secondary.refresh_from_db()
    assert (secondary.priority, secondary.member_id) == (2, "SECOND")


def test_the_patient_page_shows_the_coverages_and_is_audited(client, admissions, make_coverage):
    patient = PatientFactory.create()
    coverage = make_coverage(patient, member_id="MEMBER-77")
    client.force_login(admissions)
    response = client.get(f"/admin/patients/patient/{patient.pk}/change/")
    page = response.content.decode()
    assert "MEMBER-77" in page
    assert f"/admin/insurance/coverage/{coverage.pk}/change/" in page
    assert f"/admin/insurance/coverage/add/?patient={patient.pk}" in page
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, object_type="patients.Patient", patient_id=patient.public_id, via="admin"
    ).exists()


def test_the_patient_add_page_has_no_coverage_table(client, admissions):
    client.force_login(admissions)
    page = client.get("/admin/patients/patient/add/").content.decode()
    assert "contacts-TOTAL_FORMS" in page
    assert "coverages-TOTAL_FORMS" not in page


def test_a_clinician_sees_the_patient_page_without_coverages(client, clinician, patient, make_coverage):
    make_coverage(patient, member_id="MEMBER-77")
    client.force_login(clinician)
    response = client.get(f"/admin/patients/patient/{patient.pk}/change/")
    assert response.status_code == 200
    assert "MEMBER-77" not in response.content.decode()


def test_a_coverages_history_is_read_and_never_reverted_past_the_service(client, admissions, make_coverage):
    coverage = make_coverage(PatientFactory.create(), member_id="FIRST")
    client.force_login(admissions)
    client.post(
        f"/admin/insurance/coverage/{coverage.pk}/change/",
        coverage_form(coverage.patient, coverage.payer, member_id="SECOND"),
    )
    assert "SECOND" in client.get(f"/admin/insurance/coverage/{coverage.pk}/history/").content.decode()
    first = coverage.history.earliest("history_date")
    url = f"/admin/insurance/coverage/{coverage.pk}/history/{first.history_id}/"
    assert client.get(url).status_code == 200
    assert client.post(url, coverage_form(coverage.patient, coverage.payer, member_id="FIRST")).status_code == 403
    coverage.refresh_from_db()
    assert coverage.member_id == "SECOND"


# --- eligibility -------------------------------------------------------------------------------


def test_check_eligibility_without_a_payer_consent_says_which_consent_is_missing(client, admissions, make_coverage):
    coverage = make_coverage(PatientFactory.create())
    client.force_login(admissions)
    response = client.post(
        "/admin/insurance/coverage/",
        {"action": "check_eligibility", "_selected_action": [coverage.pk]},
        follow=True,
    )
    [message] = messages_of(response)
    assert "No current consent lets us disclose billing to ABC Company (payer) for payment" in message
    assert not EligibilityCheck.objects.exists()


def test_check_eligibility_with_a_payer_consent_opens_a_check_to_upload_the_271_to(
    client, admissions, make_coverage, payer_consent
):
    patient = PatientFactory.create()
    coverage = make_coverage(patient)
    payer_consent(patient)
    client.force_login(admissions)
    response = client.post(
        "/admin/insurance/coverage/",
        {"action": "check_eligibility", "_selected_action": [coverage.pk]},
        follow=True,
    )
    check = EligibilityCheck.objects.get()
    assert (check.coverage, check.mode, check.status) == (coverage, "file", CheckStatus.AWAITING)
    [message] = messages_of(response)
    assert "eligibility check opened" in message
    assert f"/admin/insurance/eligibilitycheck/{check.pk}/upload-271/" in message


def test_an_uploaded_271_shows_its_benefits_per_level(client, admissions, awaiting_check):
    client.force_login(admissions)
    url = f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/upload-271/"
    assert client.get(url).status_code == 200
    with SAMPLE_271.open("rb") as upload:
        response = client.post(url, {"file": upload})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/change/"
    awaiting_check.refresh_from_db()
    assert (awaiting_check.status, awaiting_check.member_mismatch) == (CheckStatus.ANSWERED, False)
    page = client.get(response["Location"]).content.decode()
    assert '<table class="insurance-benefits">' in page
    assert "<th>Co-pay</th>" in page
    assert "<td>$10.00 per visit</td>" in page  # EB*B ... MH ... 27*10.00, in network
    assert "Download the 271" in page
    assert "Upload the payer&#x27;s 271" not in page  # answered: nothing more to record


def test_the_raw_271_downloads_as_received_and_is_audited_as_an_export(client, billing, awaiting_check, admissions):
    client.force_login(admissions)
    with SAMPLE_271.open("rb") as upload:
        client.post(f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/upload-271/", {"file": upload})
    client.force_login(billing)
    response = client.get(f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/raw/271/")
    assert response.status_code == 200
    assert response.content == SAMPLE_271.read_bytes()
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{awaiting_check.trace_number}.271"'
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (event.actor, event.patient_id, event.via) == (billing, awaiting_check.coverage.patient.public_id, "admin")
    assert (
        client.get(f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/raw/270/").status_code == 404
    )  # no NPI: no 270


def test_a_rejected_inquiry_shows_the_payers_reason_and_no_benefits(client, admissions, awaiting_check):
    client.force_login(admissions)
    response = upload(client, awaiting_check, REJECTED_271)
    page = response.content.decode()
    assert "The payer rejected the inquiry" in messages_of(response)[0]
    awaiting_check.refresh_from_db()
    assert awaiting_check.status == CheckStatus.REJECTED
    assert "What went wrong" in page
    assert "2100B: " in page  # the AAA's loop, then its reason, code and follow-up
    assert "insurance-benefits" not in page


def test_a_271_about_someone_else_is_kept_but_not_summarised(client, admissions, make_coverage, payer_consent, billing):
    patient = PatientFactory.create(legal_last_name="Jones", date_of_birth=date(1990, 1, 2))
    payer_consent(patient)
    check = eligibility_check_request(coverage=make_coverage(patient, member_id="123456789"), by=billing, mode="file")
    client.force_login(admissions)
    response = upload(client, check, SAMPLE_271)
    assert "may be about someone else" in messages_of(response)[0]
    page = response.content.decode()
    assert "The 271 names &#x27;SMITH&#x27;, not &#x27;Jones&#x27;." in page
    assert "insurance-benefits" not in page
    check.refresh_from_db()
    assert (check.member_mismatch, check.summary) == (True, {})


def test_an_answered_check_takes_no_second_answer(client, admissions, awaiting_check):
    client.force_login(admissions)
    upload(client, awaiting_check, SAMPLE_271)
    response = upload(client, awaiting_check, SAMPLE_271)
    assert "already answered" in messages_of(response)[0]
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, object_type="insurance.EligibilityCheck").count() == 1


def test_a_phone_answer_is_recorded_per_level(client, admissions, awaiting_check):
    client.force_login(admissions)
    response = client.post(
        f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/phone-answer/",
        {
            "payer_contact": "Dana at provider services",
            "payer_reference": "REF-1",
            "notes": "",
            "iop_active": "true",
            "iop_copay": "25",
            "iop_coinsurance": "20",
            "iop_authorization_required": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    awaiting_check.refresh_from_db()
    assert awaiting_check.status == CheckStatus.ANSWERED
    assert set(awaiting_check.summary) == {"iop"}
    page = client.get(response["Location"]).content.decode()
    assert "<td>$25.00</td>" in page
    assert "<td>20 %</td>" in page


def test_a_phone_answer_without_the_payers_contact_is_a_form_error(client, admissions, awaiting_check):
    client.force_login(admissions)
    response = client.post(
        f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}/phone-answer/",
        {"payer_contact": "", "iop_active": "true"},
    )
    assert response.status_code == 200
    assert "payer_contact" in response.context["form"].errors
    awaiting_check.refresh_from_db()
    assert awaiting_check.status == CheckStatus.AWAITING


# --- authorizations and the billing queue ------------------------------------------------------


def test_authorizations_are_listed_soonest_run_out_first(client, billing, make_coverage):
    iop = LevelOfCare.objects.get(code="iop")

    def authorization(runs_out_on):
        coverage = make_coverage(PatientFactory.create())
        made = authorization_create(
            coverage=coverage,
            level=iop,
            by=billing,
            starts_on=date(2026, 11, 23),
            ends_on=date(2026, 12, 31),
            unit="day",
        )
        # The forecast itself is tested in test_authorizations; here only the list's order.
        Authorization.objects.filter(pk=made.pk).update(runs_out_on=runs_out_on)
        return made

    late, unknown, soon = authorization(date(2026, 12, 20)), authorization(None), authorization(date(2026, 12, 5))
    client.force_login(billing)
    response = client.get("/admin/insurance/authorization/")
    assert list(response.context["cl"].result_list) == [soon, late, unknown]


def test_a_review_recorded_in_the_admin_approves_and_adds_units(client, billing, make_coverage):
    coverage = make_coverage(PatientFactory.create())
    requested = authorization_create(
        coverage=coverage,
        level=LevelOfCare.objects.get(code="iop"),
        by=billing,
        starts_on=date(2026, 11, 23),
        ends_on=date(2026, 12, 31),
        unit="day",
    )
    client.force_login(billing)
    response = client.post(
        f"/admin/insurance/authorization/{requested.pk}/review/",
        {
            "review_type": "initial",
            "review_on": "2026-11-23",
            "outcome": "approved",
            "units_added": "12",
            "number": "AUTH-9",
            "next_review_on": "2026-12-07",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    requested.refresh_from_db()
    assert (requested.status, requested.number, requested.units_authorized) == (
        AuthorizationStatus.APPROVED,
        "AUTH-9",
        12,
    )
    assert "AUTH-9" in client.get(response["Location"]).content.decode()


def test_recount_units_now_refreshes_the_forecast(client, billing, make_coverage):
    coverage = make_coverage(PatientFactory.create())
    made = authorization_create(
        coverage=coverage,
        level=LevelOfCare.objects.get(code="iop"),
        by=billing,
        starts_on=date(2026, 11, 23),
        ends_on=date(2026, 12, 31),
        unit="day",
    )
    Authorization.objects.filter(pk=made.pk).update(units_used=99, runs_out_on=date(2026, 11, 24))  # stale
    client.force_login(billing)
    response = client.post(
        "/admin/insurance/authorization/", {"action": "recount_units", "_selected_action": [made.pk]}, follow=True
    )
    assert messages_of(response) == ["Units recounted for 1 authorization(s)."]
    made.refresh_from_db()
    assert (made.units_used, made.runs_out_on) == (0, None)  # nothing attended, nothing booked


def test_the_resolve_action_asks_what_was_done_and_resolves(client, billing):
    patient = PatientFactory.create()
    alert = BillingAlert.objects.create(
        kind=AlertKind.NO_AUTHORIZATION,
        patient=patient,
        level=LevelOfCare.objects.get(code="iop"),
        due_on=date(2026, 11, 30),
        message="Scheduled at IOP from 2026-11-30 with no approved authorization.",
    )
    client.force_login(billing)
    assert patient.mrn in client.get("/admin/insurance/billingalert/").content.decode()  # open: in the queue
    action = {"action": "resolve", "_selected_action": [alert.pk]}
    asked = client.post("/admin/insurance/billingalert/", action)
    assert asked.status_code == 200
    assert "Resolved in the admin" in asked.content.decode()  # the suggested text
    response = client.post(
        "/admin/insurance/billingalert/", {**action, "resolution": "Authorization requested by phone"}, follow=True
    )
    assert messages_of(response) == ["1 alert(s) resolved."]
    alert.refresh_from_db()
    assert (alert.resolved_by, alert.resolution) == (billing, "Authorization requested by phone")
    assert patient.mrn not in response.content.decode()  # the queue shows open items
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, object_type="insurance.BillingAlert").exists()


def test_a_payment_plan_is_set_up_with_its_instalments_which_must_add_up(client, billing):
    patient = PatientFactory.create()
    client.force_login(billing)
    form = {
        "patient": str(patient.pk),
        "total": "300.00",
        "agreed_on": "2026-11-23",
        "notes": "",
        "instalments-TOTAL_FORMS": "2",
        "instalments-INITIAL_FORMS": "0",
        "instalments-0-due_on": "2026-12-01",
        "instalments-0-amount": "150.00",
        "instalments-1-due_on": "2027-01-01",
        "instalments-1-amount": "100.00",
    }
    short = client.post("/admin/insurance/paymentplan/add/", form)
    assert short.status_code == 200
    assert "add up to 250.00, not the plan's total of 300.00" in short.context["adminform"].form.non_field_errors()[0]
    assert not PaymentPlan.objects.exists()
    response = client.post("/admin/insurance/paymentplan/add/", {**form, "instalments-1-amount": "150.00"})
    assert response.status_code == 302, response.content.decode()[:3000]
    plan = PaymentPlan.objects.get()
    assert [(i.due_on, str(i.amount)) for i in plan.instalments.all()] == [
        (date(2026, 12, 1), "150.00"),
        (date(2027, 1, 1), "150.00"),
    ]


# --- who may ----------------------------------------------------------------------------------


INSURANCE_PAGES = [
    "/admin/insurance/coverage/",
    "/admin/insurance/payer/",
    "/admin/insurance/eligibilitycheck/",
    "/admin/insurance/authorization/",
    "/admin/insurance/billingalert/",
    "/admin/insurance/paymentplan/",
]


@pytest.mark.parametrize("url", INSURANCE_PAGES)
def test_a_clinician_cannot_open_the_insurance_admin(client, clinician, url):
    client.force_login(clinician)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", INSURANCE_PAGES)
def test_billing_opens_the_insurance_admin(client, billing, url):
    client.force_login(billing)
    assert client.get(url).status_code == 200


def test_a_clinician_cannot_download_a_raw_file_or_record_an_answer(client, clinician, awaiting_check):
    client.force_login(clinician)
    base = f"/admin/insurance/eligibilitycheck/{awaiting_check.pk}"
    assert client.get(f"{base}/raw/271/").status_code == 403
    assert client.get(f"{base}/upload-271/").status_code == 403
    assert client.get(f"{base}/change/").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_the_list_pages_are_audited_per_patient_shown(client, billing, awaiting_check):
    client.force_login(billing)
    client.get("/admin/insurance/eligibilitycheck/")
    event = AuditEvent.objects.get(action=AuditAction.LIST, object_type="insurance.EligibilityCheck")
    assert event.patient_id == awaiting_check.coverage.patient.public_id


@pytest.fixture
def insurance_rows(make_coverage, payer_consent, billing):
    """One patient's coverage, answered check, authorization, open alert and payment plan."""
    from insurance.services.coverage import payment_plan_create

    iop = LevelOfCare.objects.get(code="iop")

    def make():
        patient = PatientFactory.create()
        payer_consent(patient)
        coverage = make_coverage(patient)
        eligibility_check_request(coverage=coverage, by=billing, mode="file")
        authorization = authorization_create(
            coverage=coverage,
            level=iop,
            by=billing,
            starts_on=date(2026, 11, 23),
            ends_on=date(2026, 12, 31),
            unit="day",
        )
        BillingAlert.objects.create(
            kind=AlertKind.REVIEW_DUE,
            patient=patient,
            authorization=authorization,
            due_on=date(2026, 12, 1),
            message="-",
        )
        payment_plan_create(
            patient=patient,
            by=billing,
            total=Decimal(100),
            agreed_on=date(2026, 11, 23),
            instalments=[(date(2026, 12, 1), Decimal(100))],
        )

    return make


@pytest.mark.parametrize("url", INSURANCE_PAGES)
def test_a_list_costs_the_same_queries_for_one_row_or_three(client, billing, insurance_rows, url):
    client.force_login(billing)
    insurance_rows()
    client.get(url)  # warm the session and content types

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    one = count()
    insurance_rows()
    insurance_rows()
    assert count() == one
