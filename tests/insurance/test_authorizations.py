"""Authorizations: units used from attendance, scheduled from bookings, the run-out forecast,
reviews, and the billing work queue the beat task and level changes fill."""

from datetime import date, time

import pytest
from django.core import mail

from clinic.models import LevelOfCare
from insurance.models import AlertKind, Authorization, AuthorizationStatus, BillingAlert
from insurance.services.authorizations import authorization_create, billing_alerts_refresh
from patients.services.episodes import episode_transition
from scheduling.models import Booking
from scheduling.services.bookings import attendance_record
from scheduling.services.tracks import enrollment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def iop_patient(admitted, make_track, therapist, make_coverage):
    """Admitted to IOP on Monday 23 November, enrolled in a Mon/Wed/Thu track, insured."""
    track, _ = make_track()
    patient = admitted("iop")
    enrollment_create(track=track, patient=patient, by=therapist.user)
    make_coverage(patient)
    return patient


def authorize(patient, billing, **fields) -> Authorization:
    coverage = patient.coverages.get()
    values: dict = {
        "number": "AUTH-1",
        "status": AuthorizationStatus.APPROVED,
        "starts_on": date(2026, 11, 23),
        "ends_on": date(2026, 12, 31),
        "unit": "day",
        "units_authorized": 6,
    } | fields
    return authorization_create(coverage=coverage, level=LevelOfCare.objects.get(code="iop"), by=billing, **values)


def attend(patient, therapist, on: str, attendance: str) -> None:
    booking = Booking.objects.get(patient=patient, starts_at__date=on)
    attendance_record(booking=booking, attendance=attendance, by=therapist.user)


def test_the_forecast_is_the_scheduled_day_that_uses_the_last_unit(iop_patient, billing):
    authorization = authorize(iop_patient, billing)
    # Wed 25, Thu 26, Mon 30, Wed 2, Thu 3, Mon 7 December: the sixth day.
    assert (authorization.units_used, authorization.runs_out_on) == (0, date(2026, 12, 7))
    assert authorization.units_scheduled == 17  # every Mon/Wed/Thu from 25 November to 31 December


def test_attendance_uses_units_and_moves_the_forecast(iop_patient, billing, therapist, clock, client_for):
    authorization = authorize(iop_patient, billing)
    clock.move_to("2026-11-26 20:00:00+00:00")  # Thursday evening
    attend(iop_patient, therapist, "2026-11-25", "present")
    attend(iop_patient, therapist, "2026-11-26", "absent")
    response = client_for(billing).get(f"/api/v1/authorizations/{authorization.public_id}/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["units_used"], body["units_remaining"]) == (1, 5)
    # Five left: Mon 30, Wed 2, Thu 3, Mon 7, Wed 9.
    assert body["runs_out_on"] == "2026-12-09"


def test_the_list_puts_the_soonest_run_out_first(
    iop_patient, billing, billing_client, admitted, make_coverage, therapist, make_track
):
    later = authorize(iop_patient, billing, units_authorized=12)
    other = admitted("iop")
    track, _ = make_track(name="IOP evening", start_time=time(18))
    enrollment_create(track=track, patient=other, by=therapist.user)
    make_coverage(other, member_id="OTHER")
    sooner = authorize(other, billing, number="AUTH-2", units_authorized=3)
    rows = billing_client.get("/api/v1/authorizations/").json()["results"]
    assert [row["id"] for row in rows] == [str(sooner.public_id), str(later.public_id)]


def test_an_approval_needs_its_number_and_units(iop_patient, billing_client):
    coverage = iop_patient.coverages.get()
    body = {
        "coverage": str(coverage.public_id),
        "level": "iop",
        "status": "approved",
        "starts_on": "2026-11-23",
        "ends_on": "2026-12-31",
        "unit": "day",
    }
    response = billing_client.post("/api/v1/authorizations/", body, format="json")
    assert response.status_code == 400
    assert "needs the payer's number and the units approved" in response.json()["message"]
    assert not Authorization.objects.exists()
    requested = billing_client.post("/api/v1/authorizations/", body | {"status": "requested"}, format="json")
    assert requested.status_code == 201


def test_two_approvals_for_the_same_days_are_a_conflict(iop_patient, billing, billing_client):
    authorize(iop_patient, billing)
    body = {
        "coverage": str(iop_patient.coverages.get().public_id),
        "level": "iop",
        "status": "approved",
        "number": "AUTH-9",
        "units_authorized": 3,
        "starts_on": "2026-12-15",
        "ends_on": "2027-01-15",
        "unit": "day",
    }
    response = billing_client.post("/api/v1/authorizations/", body, format="json")
    assert response.status_code == 409
    assert "already covers some of these dates" in response.json()["message"]


def test_a_concurrent_review_adds_units_and_days(iop_patient, billing, billing_client):
    authorization = authorize(iop_patient, billing, ends_on=date(2026, 12, 4), next_review_on=date(2026, 12, 3))
    response = billing_client.post(
        f"/api/v1/authorizations/{authorization.public_id}/reviews/",
        {
            "review_type": "concurrent",
            "review_on": "2026-12-03",
            "outcome": "approved",
            "units_added": 6,
            "extended_to": "2026-12-18",
            "next_review_on": "2026-12-17",
            "reviewer": "Dr Payer",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["units_authorized"], body["ends_on"], body["next_review_on"]) == (12, "2026-12-18", "2026-12-17")
    assert body["reviews"][0]["outcome"] == "approved"


def test_a_denial_adds_no_units(iop_patient, billing, billing_client):
    authorization = authorize(iop_patient, billing)
    response = billing_client.post(
        f"/api/v1/authorizations/{authorization.public_id}/reviews/",
        {"review_type": "concurrent", "review_on": "2026-12-03", "outcome": "denied", "units_added": 3},
        format="json",
    )
    assert response.status_code == 400
    denied = billing_client.post(
        f"/api/v1/authorizations/{authorization.public_id}/reviews/",
        {"review_type": "peer_to_peer", "review_on": "2026-12-03", "outcome": "denied"},
        format="json",
    )
    assert denied.json()["status"] == "denied"


def test_billing_is_alerted_before_a_review_and_before_the_units_run_out(iop_patient, billing, clock):
    billing.email = "billing@clinic.example"
    billing.save()
    authorize(iop_patient, billing, units_authorized=2, next_review_on=date(2026, 11, 25))
    opened = billing_alerts_refresh(today=date(2026, 11, 23))
    kinds = {alert.kind for alert in opened}
    assert kinds == {AlertKind.REVIEW_DUE, AlertKind.UNITS_RUNNING_OUT}
    run_out = BillingAlert.objects.get(kind=AlertKind.UNITS_RUNNING_OUT)
    assert run_out.due_on == date(2026, 11, 26)  # Wed 25, Thu 26: within INSURANCE_RUNOUT_ALERT_DAYS (5)
    # One email with counts, and nothing that names the patient.
    assert len(mail.outbox) == 1
    assert iop_patient.legal_last_name not in mail.outbox[0].body
    assert "Concurrent review due: 1" in mail.outbox[0].body
    # Running again opens nothing new and sends nothing.
    assert billing_alerts_refresh(today=date(2026, 11, 23)) == []
    assert len(mail.outbox) == 1


def test_a_recorded_review_clears_its_alerts(iop_patient, billing, billing_client):
    authorization = authorize(iop_patient, billing, next_review_on=date(2026, 11, 25))
    billing_alerts_refresh(today=date(2026, 11, 23))
    billing_client.post(
        f"/api/v1/authorizations/{authorization.public_id}/reviews/",
        {
            "review_type": "concurrent",
            "review_on": "2026-11-25",
            "outcome": "approved",
            "units_added": 6,
            "next_review_on": "2026-12-09",
        },
        format="json",
    )
    assert not BillingAlert.objects.filter(kind=AlertKind.REVIEW_DUE, resolved_at__isnull=True).exists()


def test_a_patient_scheduled_without_an_approved_authorization_is_flagged(iop_patient, billing):
    opened = billing_alerts_refresh(today=date(2026, 11, 23))
    assert [(a.kind, a.patient_id, a.due_on) for a in opened] == [
        (AlertKind.NO_AUTHORIZATION, iop_patient.pk, date(2026, 11, 25))
    ]
    authorize(iop_patient, billing)
    billing_alerts_refresh(today=date(2026, 11, 23))
    assert not BillingAlert.objects.filter(kind=AlertKind.NO_AUTHORIZATION, resolved_at__isnull=True).exists()


def test_an_authorization_that_ended_expires(iop_patient, billing):
    authorization = authorize(iop_patient, billing, starts_on=date(2026, 10, 1), ends_on=date(2026, 11, 22))
    billing_alerts_refresh(today=date(2026, 11, 23))
    authorization.refresh_from_db()
    assert authorization.status == AuthorizationStatus.EXPIRED


def test_a_level_change_opens_an_authorization_needed_item(
    iop_patient, billing, therapist, clock, django_capture_on_commit_callbacks
):
    clock.move_to("2026-11-24 15:00:00+00:00")
    with django_capture_on_commit_callbacks(execute=True):
        episode_transition(
            episode=iop_patient.episodes.get(),
            to_level=LevelOfCare.objects.get(code="php"),
            effective_on=date(2026, 11, 24),
            reason="Withdrawal symptoms need daily structure",
            by=therapist.user,
        )
    item = BillingAlert.objects.get(kind=AlertKind.AUTHORIZATION_NEEDED)
    php = LevelOfCare.objects.get(code="php")
    assert (item.patient_id, item.level_id, item.due_on) == (iop_patient.pk, php.pk, date(2026, 11, 24))
    authorization_create(
        coverage=iop_patient.coverages.get(),
        level=LevelOfCare.objects.get(code="php"),
        by=billing,
        starts_on=date(2026, 11, 24),
        ends_on=date(2026, 12, 8),
        unit="day",
    )
    item.refresh_from_db()
    assert item.resolved_at is not None


def test_an_uninsured_patients_level_change_needs_no_authorization(
    admitted, therapist, clock, django_capture_on_commit_callbacks
):
    patient = admitted("iop")
    clock.move_to("2026-11-24 15:00:00+00:00")
    with django_capture_on_commit_callbacks(execute=True):
        episode_transition(
            episode=patient.episodes.get(),
            to_level=LevelOfCare.objects.get(code="php"),
            effective_on=date(2026, 11, 24),
            reason="Needs more structure",
            by=therapist.user,
        )
    assert not BillingAlert.objects.exists()


def test_billing_resolves_an_alert_once(iop_patient, billing_client):
    billing_alerts_refresh(today=date(2026, 11, 23))
    alert = BillingAlert.objects.get()
    url = f"/api/v1/billing-alerts/{alert.public_id}/resolve/"
    assert billing_client.post(url, {"resolution": ""}, format="json").status_code == 400
    assert billing_client.post(url, {"resolution": "Requested from the payer"}, format="json").status_code == 200
    assert billing_client.post(url, {"resolution": "Again"}, format="json").status_code == 409
    open_only = billing_client.get("/api/v1/billing-alerts/?open=true").json()["results"]
    assert open_only == []
