"""In a real browser, an admissions user's morning: a referral becomes a patient, who signs a
consent for the payer, gets a coverage checked by uploading the payer's 271, an intake
appointment, and an admission to PHP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import LevelOfCare
from clinic.roles import Role
from insurance.models import CheckStatus, Coverage, EligibilityCheck, Payer
from patients.models import Consent, Patient, Referral
from scheduling.models import Booking
from tests.clinic.factories import LocationFactory, RoomFactory, StaffProfileFactory, UserFactory
from tests.insurance.conftest import X12_SAMPLES

pytestmark = pytest.mark.django_db(transaction=True)

# The TR3 example's subscriber, so that the sample 271 is about this patient.
FIRST, LAST, BORN, MEMBER = "John", "Smith", "1963-05-19", "123456789"


@pytest.fixture
def morning(settings):
    settings.ELIGIBILITY_PROVIDER_NAME = "Bone and Join Clinic"
    settings.ELIGIBILITY_PROVIDER_NPI = "1467857193"
    desk = UserFactory.create(roles=[Role.ADMISSIONS], first_name="Dee", last_name="Desk")
    assessor = StaffProfileFactory.create(
        user=UserFactory.create(roles=[Role.CLINICIAN], first_name="Ina", last_name="Assessor")
    )
    location = LocationFactory.create(name="Main office")
    RoomFactory.create(location=location, name="Office 2", capacity=2)
    Payer.objects.create(name="ABC Company", payer_id="842610001")
    Referral.objects.create(
        source="physician",
        referrer_name="Dr. Ana Cruz, primary care",
        received_at=timezone.now(),
        reason="Long-term clonazepam; wants to taper",
        first_name=FIRST,
        last_name=LAST,
        date_of_birth=BORN,
        phone="+16175550142",
    )
    return desk, assessor.user, location


def pick(page: Page, field: str, search: str, option: str) -> None:
    """Choose in one of the admin's autocomplete (select2) boxes, as a person does."""
    page.locator(f"#id_{field} + .select2 .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(search)
    page.locator(".select2-results__option", has_text=option).first.click()


def run_action(page: Page, row_text: str, action: str) -> None:
    page.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", label=action)
    page.get_by_role("button", name="Go").first.click()


def test_admissions_takes_a_referral_to_a_php_admission(login, morning):
    desk, assessor, location = morning
    page = login(desk)
    expect(page.locator("tr[data-panel=referrals-waiting] .desk-count")).to_have_text("1")

    # The referral becomes a patient.
    page.locator("tr[data-panel=referrals-waiting] a").first.click()
    run_action(page, LAST, "Convert to a patient (issues the MRN)")
    expect(page.get_by_text(re.compile(rf"{LAST}: registered as MRN\d+"))).to_be_visible()
    patient = Patient.objects.get(legal_last_name=LAST)

    # The patient signs a consent for the payer, for payment.
    page.goto(f"/admin/patients/patient/{patient.pk}/change/")
    page.get_by_role("link", name="Add a consent").click()
    page.select_option("#id_recipient_type", "payer")
    page.fill("#id_recipient_name", "ABC Company")
    page.get_by_label("Billing and coverage information").check()
    page.fill("#id_amount_and_kind", "Identity, coverage and the services billed")
    page.get_by_label("Payment", exact=True).check()
    today = timezone.localdate()
    page.fill("#id_effective_on", f"{today:%Y-%m-%d}")
    page.fill("#id_expires_on", f"{today + timedelta(days=365):%Y-%m-%d}")
    page.fill("#id_signed_at_0", f"{today:%Y-%m-%d}")
    page.fill("#id_signed_at_1", "09:00:00")
    page.select_option("#id_signature_method", "electronic")
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert Consent.objects.filter(patient=patient, recipient_name="ABC Company").exists()

    # A coverage, added from the patient page.
    page.goto(f"/admin/patients/patient/{patient.pk}/change/")
    page.get_by_role("link", name="Add a coverage").click()
    pick(page, "payer", "ABC", "ABC Company")
    page.fill("#id_member_id", MEMBER)
    page.fill("#id_effective_on", f"{today - timedelta(days=30):%Y-%m-%d}")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    coverage = Coverage.objects.get(patient=patient)

    # Eligibility: the check is opened, the payer's 271 uploaded, the benefits read.
    page.goto("/admin/insurance/coverage/")
    run_action(page, MEMBER, "Check eligibility (clearinghouse, or the payer's 271 to upload)")
    page.get_by_role("link", name="upload the payer's 271").click()
    page.set_input_files("#id_file", str(X12_SAMPLES / "271_lfh_tr3_subscriber_active_copay_MH.271"))
    page.get_by_role("button", name="Record the answer").click()
    expect(page.get_by_text("Answer recorded.")).to_be_visible()
    benefits = page.locator("table", has=page.locator("th", has_text="Co-pay"))
    expect(benefits.locator("tr", has_text="Partial hospitalization")).to_contain_text("$10.00")
    assert EligibilityCheck.objects.get(coverage=coverage).status == CheckStatus.ANSWERED

    # The intake, with the assessor, tomorrow at 10:00 at the main office.
    page.goto(f"/admin/scheduling/session/schedule/?patient={patient.pk}&session_type=intake_assessment")
    pick(page, "staff", "Assessor", "Ina Assessor")
    page.select_option("#id_location", label=location.name)
    page.select_option("#id_room", label="Main office: Office 2")
    page.fill("#id_date", f"{today + timedelta(days=1):%Y-%m-%d}")
    page.fill("#id_time", "10:00")
    page.get_by_role("button", name="Schedule appointment").click()
    expect(page.get_by_text(re.compile(rf"Booked: Intake assessment for {LAST}, {FIRST}"))).to_be_visible()
    intake = Booking.objects.get(patient=patient, session__session_type__code="intake_assessment")
    assert list(intake.session.staff.values_list("user", flat=True)) == [assessor.pk]

    # Admitted to PHP.
    page.goto(f"/admin/patients/patient/{patient.pk}/change/")
    page.get_by_role("link", name="Admit to a level of care").click()
    page.select_option("#id_level", "php")
    page.fill("#id_reason", "Daily structure for the first weeks of the taper")
    page.get_by_role("button", name="Admit").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    stay = patient.episodes.get().stays.get()
    assert stay.level == LevelOfCare.objects.get(code="php")
