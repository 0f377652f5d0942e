"""The whole path through the API, each step by the role that does it in a clinic: referral,
conversion, care team, intake, proposed level, admission to PHP, step down to IOP and then
outpatient, discharge with aftercare."""

import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import Patient
from patients.signals import level_of_care_changed
from tests.clinic.factories import StaffProfileFactory
from tests.patients.test_intake import NO_RISK_ANSWERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def travel():
    with time_machine.travel("2026-09-01 14:00:00+00:00", tick=False) as traveller:
        yield traveller


def ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def test_referral_to_discharge(make_user, client_for, travel, django_capture_on_commit_callbacks):
    desk_user = make_user(Role.ADMISSIONS)
    desk = client_for(desk_user)
    billing_user = make_user(Role.BILLING)
    billing = client_for(billing_user)
    therapist = StaffProfileFactory.create(user=make_user(Role.CLINICIAN))
    prescriber = StaffProfileFactory.create(user=make_user(Role.PRESCRIBER))
    clinician = client_for(therapist.user)

    changes = []

    def listener(sender, **kwargs):
        changes.append((kwargs["kind"], kwargs["effective_on"].isoformat()))

    level_of_care_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            # Admissions: the referral, the patient, the care team.
            referral = ok(
                desk.post(
                    "/api/v1/referrals/",
                    {
                        "source": "physician",
                        "received_at": "2026-09-01T09:00:00-04:00",
                        "reason": "Alprazolam for 4 years, wants to stop",
                        "first_name": "Robin",
                        "last_name": "Okafor",
                        "date_of_birth": "1971-03-02",
                        "phone": "+16175550177",
                    },
                    format="json",
                ),
                201,
            )
            patient = ok(desk.post(f"/api/v1/referrals/{referral['id']}/convert/"), 201)
            for staff, team_role in ((therapist, "primary_clinician"), (prescriber, "prescriber_of_record")):
                ok(
                    desk.post(
                        "/api/v1/care-team-members/",
                        {
                            "patient": patient["id"],
                            "member": str(staff.public_id),
                            "team_role": team_role,
                            "started_on": "2026-09-01",
                        },
                        format="json",
                    ),
                    201,
                )

            # The primary clinician: intake, proposal, decision.
            intake = ok(
                clinician.post(
                    "/api/v1/intake-assessments/",
                    {
                        "patient": patient["id"],
                        "assessed_on": "2026-09-01",
                        **NO_RISK_ANSWERS,
                        "co_occurring": ["anxiety", "panic"],
                        "benzodiazepines": [
                            {
                                "drug": "Xanax",
                                "daily_dose_mg": "2",
                                "duration_months": 48,
                                "days_per_week": 7,
                                "source": "prescribed",
                                "prescriber_name": "Dr. Lee",
                            }
                        ],
                    },
                    format="json",
                ),
                201,
            )
            assert (intake["proposed_level"], intake["total_daily_dze_high_mg"]) == ("php", "40.00")
            ok(clinician.post(f"/api/v1/intake-assessments/{intake['id']}/decision/", {"level": "php"}, format="json"))

            # Admissions admits as decided; billing sees the level but not the intake.
            episode = ok(
                desk.post(
                    "/api/v1/episodes/",
                    {"patient": patient["id"], "intake_assessment": intake["id"], "admitted_on": "2026-09-01"},
                    format="json",
                ),
                201,
            )
            assert episode["current_level"] == "php"
            assert ok(billing.get(f"/api/v1/patients/{patient['id']}/"))["current_level"] == "php"
            assert billing.get(f"/api/v1/intake-assessments/{intake['id']}/").status_code == 404

            travel.move_to("2026-09-22 14:00:00+00:00")
            # Tokens expire (knox TTL); people sign in again on the day.
            clinician, desk = client_for(therapist.user), client_for(desk_user)
            step = {"to_level": "iop", "effective_on": "2026-09-22", "reason": "Stable on taper; PHQ-9 down to 8"}
            assert (
                ok(clinician.post(f"/api/v1/episodes/{episode['id']}/transitions/", step, format="json"))[
                    "current_level"
                ]
                == "iop"
            )
            # The desk may admit, but changing the level is the care team's.
            assert desk.post(f"/api/v1/episodes/{episode['id']}/transitions/", step, format="json").status_code == 403

            travel.move_to("2026-10-27 14:00:00+00:00")
            clinician = client_for(therapist.user)
            step = {"to_level": "outpatient", "effective_on": "2026-10-27", "reason": "Met IOP goals"}
            ok(clinician.post(f"/api/v1/episodes/{episode['id']}/transitions/", step, format="json"))

            travel.move_to("2026-11-23 14:00:00+00:00")
            clinician = client_for(therapist.user)
            discharged = ok(
                clinician.post(
                    f"/api/v1/episodes/{episode['id']}/discharge/",
                    {
                        "discharged_on": "2026-11-23",
                        "reason": "completed",
                        "follow_up_appointments": "Dr. Lee, 2026-12-01 10:00",
                        "community_resources": "SMART Recovery, Tuesdays",
                        "relapse_prevention_plan": "Triggers: sleep loss. Call sponsor.",
                        "safety_plan": "Call or text 988 (Suicide & Crisis Lifeline) any time.",
                    },
                    format="json",
                )
            )
    finally:
        level_of_care_changed.disconnect(listener)

    assert [(s["level"], s["started_on"], s["ended_on"], s["kind"]) for s in discharged["stays"]] == [
        ("php", "2026-09-01", "2026-09-22", "admission"),
        ("iop", "2026-09-22", "2026-10-27", "step_down"),
        ("outpatient", "2026-10-27", "2026-11-23", "step_down"),
    ]
    assert (discharged["discharged_on"], discharged["discharge_reason"], discharged["current_level"]) == (
        "2026-11-23",
        "completed",
        None,
    )
    assert "988" in discharged["safety_plan"]
    assert Patient.objects.get(public_id=patient["id"]).status == "discharged"
    assert changes == [
        ("admission", "2026-09-01"),
        ("step_down", "2026-09-22"),
        ("step_down", "2026-10-27"),
        ("discharge", "2026-11-23"),
    ]
    # Reads leave a trail too: billing's look at the patient is there.
    assert AuditEvent.objects.filter(action=AuditAction.READ, patient_id=patient["id"], actor=billing_user).exists()
