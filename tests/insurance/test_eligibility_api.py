"""Eligibility checks through the API: the consent gate, the 270 kept, a 271 uploaded, sent
through the clearinghouse (a real CORE HTTP server on loopback), or answered on the phone."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clinic.models import AuditEvent
from insurance.models import CheckMode, CheckStatus, EligibilityCheck
from insurance.tasks import eligibility_check_send
from patients.models import Disclosure
from tests.fakes.clearinghouse import clearinghouse_fake_fixture  # noqa: F401  (the fixture)
from tests.insurance.conftest import X12_SAMPLES
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

SUBSCRIBER_271 = X12_SAMPLES / "271_lfh_tr3_subscriber_active_copay_MH.271"
DEPENDENT_271 = X12_SAMPLES / "271_lfh_tr3_dependent_active_copay_MH.271"
REJECTED_271 = X12_SAMPLES / "271_lfh_tr3_AAA50_provider_ineligible.271"


@pytest.fixture(autouse=True)
def _provider(settings):
    settings.ELIGIBILITY_PROVIDER_NAME = "Bone and Join Clinic"
    settings.ELIGIBILITY_PROVIDER_NPI = "1467857193"


@pytest.fixture
def john(clinician):
    """The TR3 example's subscriber, as our patient (on the clinician's care team)."""
    from tests.patients.factories import put_on_care_team

    patient = PatientFactory.create(
        legal_first_name="John", legal_last_name="Smith", date_of_birth=date(1963, 5, 19), sex_assigned_at_birth="male"
    )
    put_on_care_team(patient, clinician)
    return patient


@pytest.fixture
def coverage(john, make_coverage, payer_consent):
    payer_consent(john)
    return make_coverage(john, member_id="123456789")


def ask(client, coverage, **body):
    return client.post("/api/v1/eligibility-checks/", {"coverage": str(coverage.public_id)} | body, format="json")


def test_asking_the_payer_needs_a_consent_naming_it(billing_client, john, make_coverage):
    coverage = make_coverage(john, member_id="123456789")
    response = ask(billing_client, coverage, mode="file")
    assert response.status_code == 403
    body = response.json()
    assert "No current consent lets us disclose billing to ABC Company (payer) for payment" in body["message"]
    assert body["extra"]["missing_consent"]["recipient_type"] == "payer"
    assert not EligibilityCheck.objects.exists()
    assert not Disclosure.objects.exists()


def test_a_check_keeps_its_270_and_accounts_for_the_disclosure(billing_client, coverage):
    response = ask(billing_client, coverage, mode="file", service_date="2026-11-23")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "awaiting"
    check = EligibilityCheck.objects.get(public_id=body["id"])
    assert check.raw_270.startswith("ISA*")
    assert "EQ*AI~" in check.raw_270
    assert "NM1*IL*1*SMITH*JOHN****MI*123456789~" in check.raw_270
    disclosure = Disclosure.objects.get(patient=coverage.patient)
    assert (disclosure.recipient_name, disclosure.purpose) == ("ABC Company", "payment")
    raw = billing_client.get(f"/api/v1/eligibility-checks/{check.public_id}/raw/270/")
    assert raw.status_code == 200
    assert raw.content.decode() == check.raw_270
    assert AuditEvent.objects.filter(object_id=str(check.public_id), action="export").count() == 1


def test_an_uploaded_271_is_summarised_per_level_of_care(billing_client, coverage):
    check = ask(billing_client, coverage, mode="file").json()
    upload = SimpleUploadedFile("answer.271", SUBSCRIBER_271.read_bytes(), content_type="application/edi-x12")
    response = billing_client.post(f"/api/v1/eligibility-checks/{check['id']}/response/", {"file": upload})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["member_mismatch"]) == ("answered", False)
    for level in ("php", "iop", "outpatient"):
        summary = body["summary"][level]
        assert summary["active"] is True
        # EB*B ... MH ... *27*10.00*****Y: a 10.00 co-pay a visit in network (the 30.00 is out of network).
        assert summary["copay"] == "10.00"
        assert summary["matched_service_type"] == "MH"
    assert body["summary"]["outpatient"]["estimate"]["per_unit"] == "10.00"
    assert body["parsed"]["ok"] is True
    raw = billing_client.get(f"/api/v1/eligibility-checks/{check['id']}/raw/271/")
    assert raw.content == SUBSCRIBER_271.read_bytes()


def test_a_271_about_someone_else_is_flagged_and_not_summarised(billing_client, john, make_coverage, payer_consent):
    payer_consent(john)
    coverage = make_coverage(john, member_id="999999999")
    check = ask(billing_client, coverage, mode="file").json()
    response = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/response/", {"x12": SUBSCRIBER_271.read_text()}, format="json"
    )
    body = response.json()
    assert body["member_mismatch"] is True
    assert "member id '123456789' is not the coverage's '999999999'" in body["mismatch_reasons"][0]
    assert body["summary"] == {}


def test_a_rejection_says_why_and_what_to_do(billing_client, coverage):
    check = ask(billing_client, coverage, mode="file").json()
    body = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/response/", {"x12": REJECTED_271.read_text()}, format="json"
    ).json()
    assert body["status"] == "rejected"
    assert body["summary"] == {}
    assert "Provider" in body["failure"]  # AAA03 50: provider ineligible for inquiries
    assert any(w["code"] for w in body["parsed"]["warnings"])  # SE02 4323 != ST02 4321


@pytest.mark.parametrize(
    "garbage",
    [
        "this is not X12 at all",
        SUBSCRIBER_271.read_text()[:300],
        (X12_SAMPLES / "270_lfh_tr3_subscriber_EQ30.270").read_text(),
    ],
    ids=["not-x12", "truncated", "a-270"],
)
def test_an_unreadable_answer_is_kept_and_never_guessed(billing_client, coverage, garbage):
    check = ask(billing_client, coverage, mode="file").json()
    response = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/response/", {"x12": garbage}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["summary"]) == ("unreadable", {})
    assert body["failure"]
    assert body["parsed"]["errors"]


def test_an_answered_check_takes_no_second_answer(billing_client, coverage):
    check = ask(billing_client, coverage, mode="file").json()
    url = f"/api/v1/eligibility-checks/{check['id']}/response/"
    billing_client.post(url, {"x12": SUBSCRIBER_271.read_text()}, format="json")
    again = billing_client.post(url, {"x12": SUBSCRIBER_271.read_text()}, format="json")
    assert again.status_code == 409


def test_an_upload_needs_a_file_or_text(billing_client, coverage):
    check = ask(billing_client, coverage, mode="file").json()
    response = billing_client.post(f"/api/v1/eligibility-checks/{check['id']}/response/", {}, format="json")
    assert response.status_code == 400
    assert "Send the 271" in response.json()["message"]


def test_a_dependent_patient_is_asked_about_under_the_subscriber(
    billing_client, make_user, payer_consent, make_coverage
):
    mary = PatientFactory.create(legal_first_name="Mary", legal_last_name="Smith", date_of_birth=date(1998, 10, 14))
    payer_consent(mary)
    coverage = make_coverage(
        mary,
        member_id="123456789",
        subscriber_relationship="19",
        subscriber_first_name="John",
        subscriber_last_name="Smith",
        subscriber_date_of_birth=date(1963, 5, 19),
        subscriber_sex="M",
    )
    check = ask(billing_client, coverage, mode="file").json()
    raw_270 = EligibilityCheck.objects.get(public_id=check["id"]).raw_270
    assert "NM1*IL*1*SMITH*JOHN****MI*123456789~" in raw_270
    assert "NM1*03*1*SMITH*MARY" in raw_270
    body = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/response/", {"x12": DEPENDENT_271.read_text()}, format="json"
    ).json()
    assert (body["status"], body["member_mismatch"]) == ("answered", False)
    assert body["summary"]["iop"]["copay"] == "10.00"


def test_the_phone_answer_is_recorded_per_level(billing_client, coverage):
    check = ask(billing_client, coverage, mode="manual").json()
    response = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/manual/",
        {
            "levels": {
                "php": {
                    "active": True,
                    "coinsurance": "0.2",
                    "deductible_remaining": "500.00",
                    "authorization_required": True,
                },
                "outpatient": {"active": True, "copay": "25.00"},
            },
            "payer_contact": "Dana at provider services",
            "payer_reference": "CALL-778",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "answered"
    assert body["summary"]["php"]["authorization_required"] is True
    # One PHP day at the default charge of 1200: 500 of deductible, then 20 % of the other 700.
    assert body["summary"]["php"]["estimate"]["per_unit"] == "640.00"
    assert body["summary"]["outpatient"]["estimate"]["per_unit"] == "25.00"
    assert "iop" not in body["summary"]


def test_the_clearinghouse_answers_through_the_task(
    billing_client, coverage, clearinghouse_fake, settings, django_capture_on_commit_callbacks
):
    options = clearinghouse_fake.backend_options()
    settings.CLEARINGHOUSE_URL = options["url"]
    settings.CLEARINGHOUSE_USERNAME = options["username"]
    settings.CLEARINGHOUSE_PASSWORD = options["password"]
    check = ask(billing_client, coverage).json()
    assert check["mode"] == "http"
    eligibility_check_send.run(EligibilityCheck.objects.get(public_id=check["id"]).pk)
    fresh = billing_client.get(f"/api/v1/eligibility-checks/{check['id']}/").json()
    assert fresh["status"] == "answered"
    assert fresh["summary"]["php"]["copay"] == "10.00"
    (sent,) = clearinghouse_fake.requests
    assert sent.fields["Payload"] == EligibilityCheck.objects.get(public_id=check["id"]).raw_270
    # Run again (a redelivered task): the check is answered, nothing is sent twice.
    eligibility_check_send.run(EligibilityCheck.objects.get(public_id=check["id"]).pk)
    assert len(clearinghouse_fake.requests) == 1


def test_a_check_whose_send_was_never_enqueued_is_sent_once_owed(
    billing_client, coverage, clearinghouse_fake, settings, clock, published
):
    from datetime import timedelta

    from clinic.tasks import requeue_owed_work

    options = clearinghouse_fake.backend_options()
    settings.CLEARINGHOUSE_URL = options["url"]
    settings.CLEARINGHOUSE_USERNAME = options["username"]
    settings.CLEARINGHOUSE_PASSWORD = options["password"]
    settings.CLEARINGHOUSE_RETRY_BASE_SECONDS, settings.CLEARINGHOUSE_MAX_RETRIES = 30, 4
    # Opened inside the test's transaction, which never commits: its on-commit enqueue never
    # happens, as when the broker was down at the commit.
    check = EligibilityCheck.objects.get(public_id=ask(billing_client, coverage).json()["id"])

    # Its task's whole retry schedule (30 + 60 + 120 + 240 s) and REQUEUE_AFTER_MINUTES (15) later.
    clock.shift(timedelta(minutes=15, seconds=449))
    assert requeue_owed_work() == 0  # it may still be retrying
    clock.shift(timedelta(seconds=2))
    assert requeue_owed_work() == 1
    assert [(m["task"], m["args"]) for m in published] == [("insurance.tasks.eligibility_check_send", [check.pk])]
    eligibility_check_send.run(check.pk)
    check.refresh_from_db()
    assert check.status == CheckStatus.ANSWERED
    assert requeue_owed_work() == 0  # answered: owed nothing

    # A backend that leaves the answer to staff: the check's one send makes it theirs (its
    # mode says so), and it is not owed a send again.
    settings.CLEARINGHOUSE_BACKEND = "insurance.clearinghouse.ManualBackend"
    EligibilityCheck.objects.filter(pk=check.pk).update(status=CheckStatus.AWAITING)
    assert requeue_owed_work() == 1
    eligibility_check_send.run(check.pk)
    check.refresh_from_db()
    assert (check.mode, check.status) == (CheckMode.MANUAL, CheckStatus.AWAITING)
    assert requeue_owed_work() == 0


def test_a_clearinghouse_refusal_fails_the_check_for_staff(billing_client, coverage, clearinghouse_fake, settings):
    options = clearinghouse_fake.backend_options()
    settings.CLEARINGHOUSE_URL = options["url"]
    settings.CLEARINGHOUSE_USERNAME = options["username"]
    settings.CLEARINGHOUSE_PASSWORD = "wrong"
    check = ask(billing_client, coverage).json()
    eligibility_check_send.run(EligibilityCheck.objects.get(public_id=check["id"]).pk)
    failed = EligibilityCheck.objects.get(public_id=check["id"])
    assert failed.status == CheckStatus.FAILED
    assert failed.failure


def test_without_a_clearinghouse_http_mode_is_refused(billing_client, coverage):
    response = ask(billing_client, coverage, mode="http")
    assert response.status_code == 400
    assert "No clearinghouse is configured" in response.json()["message"]


def test_clinicians_read_checks_but_do_not_run_them(clinician_client, billing_client, coverage):
    check = ask(billing_client, coverage, mode="file").json()
    assert clinician_client.get(f"/api/v1/eligibility-checks/{check['id']}/").status_code == 200
    assert ask(clinician_client, coverage, mode="file").status_code == 403


def test_a_271_for_the_subscriber_when_the_patient_is_a_dependent_still_matches_the_subscriber(
    billing_client, payer_consent, make_coverage
):
    # Some payers answer a dependent's inquiry at the subscriber level only.
    mary = PatientFactory.create(legal_first_name="Mary", legal_last_name="Smith", date_of_birth=date(1998, 10, 14))
    payer_consent(mary)
    coverage = make_coverage(
        mary,
        member_id="123456789",
        subscriber_relationship="19",
        subscriber_first_name="John",
        subscriber_last_name="Smith",
        subscriber_date_of_birth=date(1963, 5, 19),
    )
    check = ask(billing_client, coverage, mode="file").json()
    body = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/response/", {"x12": SUBSCRIBER_271.read_text()}, format="json"
    ).json()
    assert (body["member_mismatch"], body["mismatch_reasons"]) == (False, [])


def test_a_271_with_another_date_of_birth_is_a_mismatch(billing_client, payer_consent, make_coverage):
    namesake = PatientFactory.create(legal_first_name="John", legal_last_name="Smith", date_of_birth=date(1990, 1, 1))
    payer_consent(namesake)
    coverage = make_coverage(namesake, member_id="123456789")
    check = ask(billing_client, coverage, mode="file").json()
    body = billing_client.post(
        f"/api/v1/eligibility-checks/{check['id']}/response/", {"x12": SUBSCRIBER_271.read_text()}, format="json"
    ).json()
    assert body["member_mismatch"] is True
    assert body["mismatch_reasons"] == ["The 271's date of birth 1963-05-19 is not the member's."]
    assert body["summary"] == {}


def test_a_latin_1_271_downloads_as_the_very_bytes_received(billing_client, coverage):
    # A payer's extended character set is a single-byte one: "Ñ" is one byte here, not UTF-8.
    data = SUBSCRIBER_271.read_text().replace("NM1*P3*1*JONES*MARCUS", "NM1*P3*1*NUÑEZ*MARCUS").encode("latin-1")
    check = ask(billing_client, coverage, mode="file").json()
    upload = SimpleUploadedFile("answer.271", data, content_type="application/edi-x12")
    body = billing_client.post(f"/api/v1/eligibility-checks/{check['id']}/response/", {"file": upload}).json()
    assert body["status"] == "answered"
    raw = billing_client.get(f"/api/v1/eligibility-checks/{check['id']}/raw/271/")
    assert raw.content == data
