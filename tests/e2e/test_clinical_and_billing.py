"""In a real browser: a clinician on the care team records attendance from the roster, one off the
team cannot open the patient; billing sees authorizations but no taper plan or withdrawal check."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import AuditAction, AuditEvent, LevelOfCare
from clinic.roles import Role
from insurance.models import Authorization, Coverage, Payer
from patients.services.episodes import episode_admit
from scheduling.models import Booking, Session, SessionStaff, SessionType
from tapers.services import checks as check_services
from tests.clinic.factories import LocationFactory, RoomFactory, UserFactory
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_plans import draft, make_prescriber, stock_all

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group_under_way(db):
    """An IOP group that started 30 minutes ago, with one patient booked and their clinician
    on the care team; a second clinician is not on it."""
    on_team = UserFactory.create(roles=[Role.CLINICIAN], first_name="Cara", last_name="Team")
    off_team = UserFactory.create(roles=[Role.CLINICIAN], first_name="Olly", last_name="Other")
    patient = PatientFactory.create(legal_first_name="Robin", legal_last_name="Ashby")
    put_on_care_team(patient, on_team, "primary_clinician")
    iop = LevelOfCare.objects.get(code="iop")
    episode_admit(patient=patient, level=iop, admitted_on=timezone.localdate(), reason="", by=on_team)
    location = LocationFactory.create(name="Main office")
    room = RoomFactory.create(location=location, name="Group room", capacity=12)
    now = timezone.now()
    session = Session.objects.create(
        session_type=SessionType.objects.get(code="group_therapy"),
        location=location,
        room=room,
        starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(minutes=150),
        capacity=12,
    )
    SessionStaff.objects.create(session=session, user=on_team, starts_at=session.starts_at, ends_at=session.ends_at)
    booking = Booking.objects.create(
        session=session, patient=patient, starts_at=session.starts_at, ends_at=session.ends_at, booked_by=on_team
    )
    return on_team, off_team, patient, session, booking


def test_a_clinician_on_the_care_team_records_attendance_from_the_roster(login, group_under_way):
    on_team, _, patient, _, booking = group_under_way
    page = login(on_team)
    page.goto("/admin/scheduling/session/")
    page.get_by_role("link", name="Roster").first.click()
    expect(page.get_by_role("heading", name=re.compile("Roster: Group therapy"))).to_be_visible()
    row = page.locator("tr", has_text=patient.mrn)
    row.locator(f"select[name='attendance-{booking.pk}']").select_option("present")
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_text("Attendance saved for 1 patient(s).")).to_be_visible()
    booking.refresh_from_db()
    assert booking.attendance == "present"
    assert booking.attendance_recorded_by == on_team


def test_a_clinician_off_the_care_team_cannot_open_the_patient(login, group_under_way):
    _, off_team, patient, _, _ = group_under_way
    page = login(off_team)
    page.goto("/admin/patients/patient/")
    expect(page.get_by_text(patient.mrn)).to_have_count(0)
    page.goto(f"/admin/patients/patient/{patient.pk}/change/")
    # Django's admin says the object does not exist (and sends the user home): it never shows it.
    expect(page.get_by_text(patient.legal_last_name)).to_have_count(0)
    assert not AuditEvent.objects.filter(actor=off_team, patient_id=patient.public_id, action=AuditAction.READ).exists()


@pytest.fixture
def billing_case(db):
    """A patient with an approved IOP authorization, an active taper draft and a withdrawal check."""
    stock_all()
    prescriber = make_prescriber()
    nurse = UserFactory.create(roles=[Role.NURSE])
    patient = PatientFactory.create(legal_first_name="Sam", legal_last_name="Reyes")
    put_on_care_team(patient, prescriber, "prescriber_of_record")
    put_on_care_team(patient, nurse, "nurse")
    plan = draft(patient, prescriber, start_date=timezone.localdate())
    check_services.withdrawal_check_record(patient=patient, plan=plan, items=[1] * 20, by=nurse)
    billing = UserFactory.create(roles=[Role.BILLING])
    payer = Payer.objects.create(name="ABC Company", payer_id="842610001")
    coverage = Coverage.objects.create(
        patient=patient, payer=payer, member_id="W1", effective_on=date(2026, 1, 1), created_by=billing
    )
    today = timezone.localdate()
    Authorization.objects.create(
        coverage=coverage,
        level=LevelOfCare.objects.get(code="iop"),
        number="AUTH-77",
        status="approved",
        requested_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=30),
        unit="day",
        units_authorized=12,
        created_by=billing,
    )
    return billing


def test_billing_sees_authorizations_but_no_taper_plan_or_withdrawal_check(login, billing_case):
    page = login(billing_case)
    expect(page.get_by_role("link", name="Authorizations", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Taper plans")).to_have_count(0)
    expect(page.get_by_role("link", name="Withdrawal checks")).to_have_count(0)
    page.get_by_role("link", name="Authorizations", exact=True).click()
    expect(page.get_by_text("AUTH-77")).to_be_visible()
    for url in ("/admin/tapers/taperplan/", "/admin/tapers/withdrawalcheck/"):
        response = page.goto(url)
        assert response is not None
        assert response.status == 403, url
