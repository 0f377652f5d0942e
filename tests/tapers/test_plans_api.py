"""The taper plan API: drafting, preview, versions, steps, approval, hold and resume, and who
may do what (care team, prescribers only for approval, never admissions or billing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.services import break_glass_grant
from tapers.models import TaperPlan
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_plans import (
    ALPRAZOLAM_6_MG,
    DIAZEPAM_20_MG,
    TODAY,
    active,
    approved,
    draft,
    in_force,
    make_prescriber,
)

pytestmark = pytest.mark.usefixtures("clock", "catalogue")

URL = "/api/v1/taper-plans/"


def body(patient, **kwargs):
    return {"patient": str(patient.public_id), "regimen": DIAZEPAM_20_MG, "start_date": "2026-11-23", **kwargs}


# --- drafting and preview ------------------------------------------------------------------------


def test_a_prescriber_drafts_a_plan_that_waits_for_approval(client_for, prescriber, team_patient):
    response = client_for(prescriber).post(
        URL, body(team_patient, regimen=ALPRAZOLAM_6_MG, policy={"switch_to_diazepam": True}), format="json"
    )
    assert response.status_code == 201, response.json()
    plan = response.json()
    assert plan["status"] == "draft"
    assert plan["current_version"] is None
    assert plan["pending_version"]["number"] == 1
    assert plan["hold_band"] == "moderate"
    assert len(plan["pending_version"]["digest"]) == 64

    steps = client_for(prescriber).get(f"{URL}{plan['id']}/steps/").json()
    assert [s["rule"] for s in steps[:4]] == ["substitution", "substitution", "substitution", "reduction"]
    assert steps[-1]["rule"] == "stop"


def test_a_dose_the_strengths_cannot_make_is_a_400_naming_the_rule(client_for, prescriber, team_patient):
    regimen = [{"drug": "diazepam", "mg": "0.25", "time_of_day": "bedtime"}]
    response = client_for(prescriber).post(URL, body(team_patient, regimen=regimen), format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["extra"]["code"] == "unmakeable_dose"
    assert error["message"].startswith("The current regimen: diazepam 0.25 mg (bedtime) cannot be made")
    assert error["extra"]["fields"]["regimen"] == [error["message"]]
    assert not TaperPlan.objects.exists()


def test_bad_input_is_a_400_in_the_one_shape(client_for, prescriber, team_patient):
    response = client_for(prescriber).post(
        URL, body(team_patient, regimen=[{"drug": "diazepam", "mg": "5", "time_of_day": "noonish"}]), format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Some fields are invalid; see extra.fields."
    assert "regimen" in response.json()["extra"]["fields"]


def test_preview_proposes_without_saving(client_for, clinician, team_patient):
    data = {"regimen": DIAZEPAM_20_MG, "start_date": "2026-11-23", "policy": {"interval_days": 28}}
    response = client_for(clinician).post(f"{URL}preview/", data, format="json")
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert preview["baseline_dze_low_mg"] == "20.00"
    assert preview["steps"][1]["starts_on"] == "2026-12-21"  # 28 days apart
    assert preview["inputs"]["policy"]["interval_days"] == 28
    assert not TaperPlan.objects.exists()


def test_an_unknown_policy_setting_or_one_outside_the_guideline_is_refused(client_for, prescriber):
    data = {"regimen": DIAZEPAM_20_MG, "start_date": "2026-11-23", "policy": {"interval_days": 7}}
    response = client_for(prescriber).post(f"{URL}preview/", data, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["code"] == "bad_policy"
    assert "interval_days must be 14 to 28" in response.json()["message"]


# --- approval ------------------------------------------------------------------------------------


def test_approval_carries_the_digest_read_and_a_stale_one_is_a_409(client_for, prescriber, team_patient):
    plan = draft(team_patient, prescriber)
    api = client_for(prescriber)
    versions = api.get(f"{URL}{plan.public_id}/versions/").json()
    read = versions[0]["digest"]
    # Someone changes the plan after it was read.
    api.post(
        f"{URL}{plan.public_id}/versions/",
        {"regimen": [{"drug": "diazepam", "mg": "15", "time_of_day": "bedtime"}], "start_date": "2026-11-23"},
        format="json",
    )
    stale = api.post(f"{URL}{plan.public_id}/approve/", {"digest": read}, format="json")
    assert stale.status_code == 409
    assert stale.json()["extra"] == {"version": 2}

    fresh = api.get(f"{URL}{plan.public_id}/versions/").json()
    assert [v["withdrawn_at"] is not None for v in fresh] == [True, False]
    ok = api.post(f"{URL}{plan.public_id}/approve/", {"digest": fresh[1]["digest"], "note": "Seen"}, format="json")
    assert ok.status_code == 200, ok.json()
    assert ok.json()["status"] == "approved"
    assert ok.json()["current_version"]["number"] == 2
    assert ok.json()["current_version"]["approved_by"] == prescriber.username


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.NURSE])
def test_a_clinician_or_nurse_approving_is_a_403_that_says_so(client_for, prescriber, team_patient, role, request):
    user = request.getfixturevalue({Role.CLINICIAN: "clinician", Role.NURSE: "nurse"}[role])
    plan = draft(team_patient, prescriber)
    response = client_for(user).post(
        f"{URL}{plan.public_id}/approve/", {"digest": plan.versions.get().digest}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["message"] == (
        "Only prescriber staff may approve taper plans (a clinician or nurse cannot)."
    )


def test_a_prescriber_without_a_prescriber_record_cannot_approve(client_for, prescriber, team_patient):
    unlinked = make_prescriber(linked=False)
    put_on_care_team(team_patient, unlinked)
    plan = draft(team_patient, prescriber)
    response = client_for(unlinked).post(
        f"{URL}{plan.public_id}/approve/", {"digest": plan.versions.get().digest}, format="json"
    )
    assert response.status_code == 403
    assert "not linked to an active prescriber record" in response.json()["message"]


def test_a_malformed_digest_is_a_400(client_for, prescriber, team_patient):
    plan = draft(team_patient, prescriber)
    response = client_for(prescriber).post(f"{URL}{plan.public_id}/approve/", {"digest": "abc"}, format="json")
    assert response.status_code == 400
    assert "digest" in response.json()["extra"]["fields"]


# --- manual steps --------------------------------------------------------------------------------


def test_a_manual_step_over_the_ceiling_is_a_400_saying_which_step_and_why(client_for, prescriber, team_patient):
    plan = approved(team_patient, prescriber)
    steps = [
        {"starts_on": "2026-11-23", "doses": [{"drug": "diazepam", "mg": "18", "time_of_day": "bedtime"}]},
        {"starts_on": "2026-11-30", "doses": [{"drug": "diazepam", "mg": "10", "time_of_day": "bedtime"}]},
    ]
    response = client_for(prescriber).post(f"{URL}{plan.public_id}/steps/", {"steps": steps}, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["extra"]["code"] == "over_ceiling"
    assert error["extra"]["step"] == 2
    assert error["message"].startswith("Step 2 (2026-11-30) cuts the daily dose to 10 mg diazepam-equivalent")


def test_edited_steps_make_a_new_version_and_the_approved_one_stays_in_force(client_for, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    steps = [
        {"starts_on": "2026-11-30", "doses": [{"drug": "diazepam", "mg": "18", "time_of_day": "bedtime"}]},
        {"starts_on": "2026-12-14", "doses": [{"drug": "diazepam", "mg": "16", "time_of_day": "bedtime"}]},
    ]
    api = client_for(prescriber)
    response = api.post(f"{URL}{plan.public_id}/steps/", {"steps": steps, "note": "Simpler"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == 2
    assert response.json()["approved_at"] is None
    shown = api.get(f"{URL}{plan.public_id}/").json()
    assert shown["current_version"]["number"] == 1
    assert shown["pending_version"]["number"] == 2
    assert api.get(f"{URL}{plan.public_id}/steps/").json()[0]["version"] == 1
    assert [s["manual"] for s in api.get(f"{URL}{plan.public_id}/steps/?version=2").json()] == [True, True]


# --- activation, hold, resume --------------------------------------------------------------------


def test_hold_and_resume_through_the_api_show_the_days_shifted(client_for, prescriber, nurse, team_patient, clock):
    plan = approved(team_patient, prescriber)
    api = client_for(prescriber)
    assert api.post(f"{URL}{plan.public_id}/activate/").json()["status"] == "active"
    before = api.get(f"{URL}{plan.public_id}/steps/").json()
    assert before[0]["status"] == "current"

    held = client_for(nurse).post(f"{URL}{plan.public_id}/hold/", {"reason": "Dizzy, fell"}, format="json")
    assert held.status_code == 201, held.json()
    assert held.json()["step"] == 2
    shown = api.get(f"{URL}{plan.public_id}/").json()
    assert shown["status"] == "held"
    assert shown["open_hold"]["why"] == ["Dizzy, fell"]

    clock.move_to("2026-11-30 15:00:00+00:00")
    api = client_for(prescriber)  # a week on: a new token (they expire after hours unused)
    resumed = api.post(f"{URL}{plan.public_id}/resume/", {"note": "Steady"}, format="json")
    assert resumed.status_code == 200, resumed.json()
    assert resumed.json()["days_shifted"] == 7
    after = api.get(f"{URL}{plan.public_id}/steps/").json()
    assert [s["days_shifted"] for s in after] == [0] + [7] * (len(after) - 1)
    assert [s["planned_on"] for s in after] == [s["planned_on"] for s in before]
    assert api.get(f"{URL}{plan.public_id}/").json()["holds"][0]["days_shifted"] == 7


def test_resuming_is_for_prescribers(client_for, prescriber, nurse, team_patient):
    plan = active(team_patient, prescriber)
    client_for(nurse).post(f"{URL}{plan.public_id}/hold/", {"reason": "Unwell"}, format="json")
    response = client_for(nurse).post(f"{URL}{plan.public_id}/resume/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "Only prescriber staff may resume taper plans."


def test_activating_a_draft_is_a_409(client_for, prescriber, team_patient):
    plan = draft(team_patient, prescriber)
    response = client_for(prescriber).post(f"{URL}{plan.public_id}/activate/")
    assert response.status_code == 409
    assert response.json()["message"].startswith("Only an approved plan that has not started can be started")


def test_stop_and_complete(client_for, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    api = client_for(prescriber)
    assert api.post(f"{URL}{plan.public_id}/complete/", {}, format="json").status_code == 409
    assert api.post(f"{URL}{plan.public_id}/stop/", {}, format="json").status_code == 400
    stopped = api.post(f"{URL}{plan.public_id}/stop/", {"reason": "Admitted to detox"}, format="json")
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["end_reason"] == "Admitted to detox"


# --- access --------------------------------------------------------------------------------------


def every_endpoint(plan_id):
    return [
        ("get", URL, None),
        ("get", f"{URL}{plan_id}/", None),
        ("post", URL, {}),
        ("post", f"{URL}preview/", {}),
        ("get", f"{URL}{plan_id}/versions/", None),
        ("post", f"{URL}{plan_id}/versions/", {}),
        ("get", f"{URL}{plan_id}/steps/", None),
        ("post", f"{URL}{plan_id}/steps/", {}),
        ("post", f"{URL}{plan_id}/approve/", {}),
        ("post", f"{URL}{plan_id}/activate/", {}),
        ("post", f"{URL}{plan_id}/hold/", {}),
        ("post", f"{URL}{plan_id}/resume/", {}),
        ("post", f"{URL}{plan_id}/stop/", {}),
        ("post", f"{URL}{plan_id}/complete/", {}),
        ("post", f"{URL}{plan_id}/check-links/", {}),
        ("get", "/api/v1/withdrawal-checks/", None),
        ("post", "/api/v1/withdrawal-checks/", {}),
    ]


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN])
def test_admissions_billing_and_administrators_get_403_on_every_endpoint(
    client_for, make_user, prescriber, team_patient, role
):
    plan = draft(team_patient, prescriber)
    api = client_for(make_user(role))
    for method, url, data in every_endpoint(plan.public_id):
        response = getattr(api, method)(url, data, format="json") if data is not None else api.get(url)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "no role that may use this endpoint" in response.json()["message"]


def test_unauthenticated_is_401(api_client, prescriber, team_patient):
    plan = draft(team_patient, prescriber)
    for method, url, data in every_endpoint(plan.public_id):
        response = getattr(api_client, method)(url, data, format="json") if data is not None else api_client.get(url)
        assert response.status_code == 401, (method, url)


def test_off_the_care_team_a_clinician_sees_nothing_until_breaking_the_glass(
    client_for, make_user, prescriber, team_patient
):
    plan = draft(team_patient, prescriber)
    outsider = make_user(Role.PRESCRIBER)
    api = client_for(outsider)
    assert api.get(URL).json()["results"] == []
    assert api.get(f"{URL}{plan.public_id}/").status_code == 404
    assert api.get(f"{URL}{plan.public_id}/steps/").status_code == 404
    assert api.post(URL, body(team_patient), format="json").status_code == 404

    break_glass_grant(patient=team_patient, user=outsider, reason="Covering the weekend")
    assert api.get(f"{URL}{plan.public_id}/").status_code == 200


def test_reads_and_writes_are_audited(client_for, prescriber, team_patient):
    api = client_for(prescriber)
    plan_id = api.post(URL, body(team_patient), format="json").json()["id"]
    api.get(f"{URL}{plan_id}/")
    api.get(f"{URL}{plan_id}/versions/")
    events = AuditEvent.objects.filter(object_id=plan_id, patient_id=team_patient.public_id)
    assert list(events.order_by("id").values_list("action", flat=True)) == [
        AuditAction.CREATE,
        AuditAction.READ,
        AuditAction.READ,
    ]
    assert {e.actor for e in events} == {prescriber}


def test_the_list_costs_the_same_queries_at_any_size(client_for, prescriber, nurse):
    api = client_for(prescriber)

    def plans(n):
        for _ in range(n):
            patient = PatientFactory.create()
            put_on_care_team(patient, prescriber)
            plan = active(patient, prescriber)
            from tapers.services.plans import taper_plan_hold

            taper_plan_hold(plan=plan, reason="Unwell", by=prescriber)
        with CaptureQueriesContext(connection) as queries:
            response = api.get(URL)
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    one = plans(1)
    four = plans(3)
    assert one[1] == 1
    assert four[1] == 4
    assert four[0] == one[0]


def test_the_current_step_is_brought_up_to_date_on_read(client_for, prescriber, team_patient, clock):
    plan = active(team_patient, prescriber)
    second = in_force(plan).proposed_steps[1]["starts_on"]
    clock.move_to(f"{second} 15:00:00+00:00")
    steps = client_for(prescriber).get(f"{URL}{plan.public_id}/steps/").json()
    assert [s["status"] for s in steps[:3]] == ["done", "current", "planned"]
    assert TODAY + timedelta(days=14) == plan.steps.get(status="current").starts_on
