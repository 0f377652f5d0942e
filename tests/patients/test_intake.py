from decimal import Decimal

import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import EpisodeOfCare, IntakeAssessment, IntakeBenzodiazepine
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db

NO_RISK_ANSWERS = {
    "prior_withdrawal_seizure": False,
    "prior_withdrawal_delirium": False,
    "co_occurring": [],
    "pregnancy": "not_pregnant",
    "home_stability": "stable",
    "support": "strong",
    "cssrs_wish_to_be_dead": False,
    "cssrs_suicidal_thoughts": False,
    "cssrs_behavior": False,
}


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel("2026-11-23 15:00:00+00:00", tick=False) as traveller:
        yield traveller


def benzo(drug, mg, months=2, days=7, source="prescribed"):
    return {"drug": drug, "daily_dose_mg": mg, "duration_months": months, "days_per_week": days, "source": source}


def intake(patient, **overrides):
    return {
        "patient": str(patient.public_id),
        "assessed_on": "2026-11-23",
        **NO_RISK_ANSWERS,
        "benzodiazepines": [
            {
                "drug": "Klonopin",
                "daily_dose_mg": "1",
                "duration_months": 18,
                "days_per_week": 7,
                "source": "prescribed",
                "prescriber_name": "Dr. Ana Cruz",
            }
        ],
        "substances": [{"substance": "alcohol", "frequency": "daily", "last_used_on": "2026-11-22"}],
        "prescribers": [{"name": "Dr. Ana Cruz", "practice": "Main St Primary Care", "prescribes": "clonazepam"}],
        **overrides,
    }


def record(client, patient, **overrides):
    return client.post("/api/v1/intake-assessments/", intake(patient, **overrides), format="json")


def test_an_intake_proposes_a_level_with_its_reasons_and_the_diazepam_equivalent(clinician_client, patient):
    response = record(clinician_client, patient, co_occurring=["panic", "insomnia"])
    assert response.status_code == 201, response.json()
    body = response.json()
    # Clonazepam 1 mg = diazepam 20 mg (Ashton); 18 months daily; alcohol every day.
    assert (body["total_daily_dze_low_mg"], body["total_daily_dze_high_mg"]) == ("20.00", "20.00")
    assert body["proposed_level"] == "php"
    assert body["proposal_rules"] == ["high_dose_long_use", "withdrawal_risk", "opioid_or_alcohol_co_use"]
    assert len(body["proposal_reasons"]) == 3
    assert body["benzodiazepines"][0]["drug"] == "clonazepam"  # the brand name is stored as the generic
    assert body["prescribers"][0]["name"] == "Dr. Ana Cruz"
    assert body["decision"] == ""
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="patients.IntakeAssessment")
    assert event.patient_id == patient.public_id


def test_suicide_risk_on_the_screener_is_the_first_reason(clinician_client, patient):
    response = record(
        clinician_client,
        patient,
        cssrs_suicidal_thoughts=True,
        cssrs_method=True,
        cssrs_intent=True,
        cssrs_plan=False,
    )
    assert response.json()["proposed_level"] == "residential"
    assert response.json()["proposal_rules"][0] == "cssrs_high_risk"


def test_behaviour_more_than_3_months_ago_is_not_high_risk(clinician_client, patient):
    response = record(clinician_client, patient, cssrs_behavior=True, cssrs_behavior_past_3_months=False)
    assert "cssrs_high_risk" not in response.json()["proposal_rules"]


def test_fentanyl_use_counts_as_illicit_opioid_co_use(clinician_client, patient):
    body = record(
        clinician_client,
        patient,
        benzodiazepines=[benzo("clonazepam", "0.25", months=1, days=2)],
        substances=[{"substance": "fentanyl", "frequency": "weekly"}],
    ).json()
    assert (body["proposed_level"], body["proposal_rules"]) == ("php", ["opioid_or_alcohol_co_use"])


def test_the_clinic_sets_the_placement_thresholds(clinician_client, patient, settings):
    settings.PLACEMENT_HIGH_DOSE_DZE_MG = 25
    body = record(clinician_client, patient, substances=[]).json()
    assert body["proposed_level"] == "iop"
    assert "high_dose_long_use" not in body["proposal_rules"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"benzodiazepines": [benzo("valerian", "5", months=1, days=7)]}, "benzodiazepines"),
        ({"benzodiazepines": [benzo("diazepam", "5", months=1, days=8)]}, "benzodiazepines"),
        ({"benzodiazepines": [benzo("diazepam", "0", months=1, days=7)]}, "benzodiazepines"),
        ({"substances": [{"substance": "kratom", "frequency": "daily"}]}, "substances"),
        ({"prescribers": [{"name": "Dr. X", "npi": "1234567890"}]}, "prescribers"),
        ({"assessed_on": "2026-11-24"}, "assessed_on"),
        ({"pregnancy": "maybe"}, "pregnancy"),
    ],
)
def test_bad_answers_are_a_400_naming_the_field_and_nothing_is_written(clinician_client, patient, overrides, field):
    response = record(clinician_client, patient, **overrides)
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not IntakeAssessment.objects.exists()
    assert not IntakeBenzodiazepine.objects.exists()


@pytest.mark.parametrize(
    "cssrs",
    [
        {"cssrs_suicidal_thoughts": True},  # questions 3-5 must then be answered
        {"cssrs_method": True},  # ...and only then
        {"cssrs_behavior": True},  # "in the past 3 months?" must then be answered
    ],
)
def test_cssrs_answers_follow_the_screeners_skip_logic(clinician_client, patient, cssrs):
    response = record(clinician_client, patient, **cssrs)
    assert response.status_code == 400
    assert "C-SSRS" in response.json()["message"]
    assert not IntakeAssessment.objects.exists()


def test_a_clinician_confirms_the_proposal_once(clinician_client, patient):
    created = record(clinician_client, patient).json()
    url = f"/api/v1/intake-assessments/{created['id']}/decision/"
    confirmed = clinician_client.post(url, {"level": "php"}, format="json")
    assert confirmed.status_code == 200
    assert (confirmed.json()["decision"], confirmed.json()["decided_level"]) == ("confirmed", "php")
    again = clinician_client.post(url, {"level": "iop", "reason": "Changed my mind entirely"}, format="json")
    assert again.status_code == 409
    assert IntakeAssessment.objects.filter(decided_level__code="php").exists()


def test_overriding_the_proposal_needs_a_reason(clinician_client, patient):
    created = record(clinician_client, patient).json()
    url = f"/api/v1/intake-assessments/{created['id']}/decision/"
    refused = clinician_client.post(url, {"level": "iop", "reason": ""}, format="json")
    assert refused.status_code == 400
    assert "reason" in refused.json()["extra"]["fields"]
    assert IntakeAssessment.objects.get().decision == ""
    overridden = clinician_client.post(
        url, {"level": "iop", "reason": "Works nights; PHP hours impossible, strong family support"}, format="json"
    )
    assert (overridden.json()["decision"], overridden.json()["decided_level"]) == ("overridden", "iop")
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, reason__startswith="Works nights").exists()


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_intakes_are_clinical_records_the_front_office_never_sees(
    make_user, client_for, clinician_client, patient, role
):
    created = record(clinician_client, patient).json()
    desk = client_for(make_user(role))
    assert desk.get("/api/v1/intake-assessments/").json()["results"] == []
    assert desk.get(f"/api/v1/intake-assessments/{created['id']}/").status_code == 404
    assert record(desk, patient).status_code == 404


def test_a_clinician_off_the_team_gets_a_404_until_they_break_the_glass(
    make_user, client_for, clinician_client, patient
):
    created = record(clinician_client, patient).json()
    outsider = client_for(make_user(Role.CLINICIAN))
    assert outsider.get(f"/api/v1/intake-assessments/{created['id']}/").status_code == 404
    assert record(outsider, patient).status_code == 404
    outsider.post(f"/api/v1/patients/{patient.public_id}/break-glass/", {"reason": "On call, patient in crisis"})
    assert outsider.get(f"/api/v1/intake-assessments/{created['id']}/").status_code == 200


def test_unauthenticated_is_401(api_client):
    assert api_client.get("/api/v1/intake-assessments/").status_code == 401


def test_admission_follows_the_decided_level(make_user, client_for, clinician_client, patient):
    created = record(clinician_client, patient).json()
    desk = client_for(make_user(Role.ADMISSIONS))
    admit = {"patient": str(patient.public_id), "intake_assessment": created["id"], "admitted_on": "2026-11-23"}
    undecided = desk.post("/api/v1/episodes/", admit, format="json")
    assert undecided.status_code == 400
    assert "not decided" in undecided.json()["message"]
    clinician_client.post(f"/api/v1/intake-assessments/{created['id']}/decision/", {"level": "php"}, format="json")
    other_level = desk.post("/api/v1/episodes/", admit | {"level": "iop"}, format="json")
    assert other_level.status_code == 400
    assert not EpisodeOfCare.objects.exists()
    admitted = desk.post("/api/v1/episodes/", admit, format="json")
    assert admitted.status_code == 201, admitted.json()
    assert (admitted.json()["current_level"], admitted.json()["intake_assessment"]) == ("php", created["id"])


def test_admission_cannot_follow_another_patients_intake(make_user, client_for, clinician, clinician_client, patient):
    created = record(clinician_client, patient).json()
    clinician_client.post(f"/api/v1/intake-assessments/{created['id']}/decision/", {"level": "php"}, format="json")
    other = PatientFactory.create()
    put_on_care_team(other, clinician)
    response = client_for(make_user(Role.ADMISSIONS)).post(
        "/api/v1/episodes/",
        {"patient": str(other.public_id), "intake_assessment": created["id"], "admitted_on": "2026-11-23"},
        format="json",
    )
    assert response.status_code == 400
    assert "intake_assessment" in response.json()["extra"]["fields"]


def test_admission_without_a_level_or_an_intake_is_a_400(make_user, client_for, patient):
    response = client_for(make_user(Role.ADMISSIONS)).post(
        "/api/v1/episodes/", {"patient": str(patient.public_id), "admitted_on": "2026-11-23"}, format="json"
    )
    assert response.status_code == 400
    assert "level" in response.json()["extra"]["fields"]


def test_the_intake_list_keeps_its_query_count_as_rows_grow(clinician_client, patient, django_assert_max_num_queries):
    record(clinician_client, patient)
    with django_assert_max_num_queries(20) as small:
        assert clinician_client.get("/api/v1/intake-assessments/").json()["count"] == 1
    # Counted now: each request below resets the connection's query log.
    pinned = len(small.captured_queries)
    for _ in range(5):
        record(clinician_client, patient)
    with django_assert_max_num_queries(pinned):
        assert clinician_client.get("/api/v1/intake-assessments/").json()["count"] == 6


def test_total_dze_sums_every_benzodiazepine_with_the_ashton_ranges(clinician_client, patient):
    body = record(
        clinician_client,
        patient,
        benzodiazepines=[
            benzo("alprazolam", "1", months=2, days=7),
            benzo("temazepam", "10", months=2, days=2, source="not_prescribed"),
            benzo("estazolam", "1", months=2, days=3),
            benzo("lorazepam", "0.333", months=2, days=3),
        ],
    ).json()
    # alprazolam 1 mg = 20 mg; temazepam 10 mg = 5 mg; estazolam 1 mg = 5-10 mg (Ashton ranges);
    # lorazepam 0.333 mg = 3.33 mg, stored to the hundredth.
    assert (Decimal(body["total_daily_dze_low_mg"]), Decimal(body["total_daily_dze_high_mg"])) == (
        Decimal("33.33"),
        Decimal("38.33"),
    )


def inline_management(prefix, total):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_a_clinician_records_an_intake_in_the_admin_through_the_same_service(client, clinician, patient):
    client.force_login(clinician)
    form = {
        "patient": patient.pk,
        "assessed_on": "2026-11-23",
        "pregnancy": "not_applicable",
        "home_stability": "unstable",
        "support": "none",
        "prior_withdrawal_seizure": "no",
        "prior_withdrawal_delirium": "no",
        "cssrs_wish_to_be_dead": "no",
        "cssrs_suicidal_thoughts": "no",
        "cssrs_behavior": "yes",
        "cssrs_behavior_past_3_months": "false",
        **inline_management("benzodiazepines", 1),
        "benzodiazepines-0-drug": "lorazepam",
        "benzodiazepines-0-daily_dose_mg": "1",
        "benzodiazepines-0-duration_months": "6",
        "benzodiazepines-0-days_per_week": "7",
        "benzodiazepines-0-source": "prescribed",
        **inline_management("substances", 0),
        **inline_management("prescribers", 0),
    }
    response = client.post("/admin/patients/intakeassessment/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = IntakeAssessment.objects.get()
    # Lorazepam 1 mg = diazepam 10 mg, daily for 6 months, unstable home without support.
    assert saved.proposed_level.code == "php"
    assert saved.proposal_rules == ["withdrawal_risk", "unstable_home_with_risk"]
    assert saved.benzodiazepines.get().drug == "lorazepam"
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_type="patients.IntakeAssessment").count() == 1
    page = client.get(f"/admin/patients/intakeassessment/{saved.pk}/change/")
    assert page.status_code == 200
    assert "Unstable home or no support" in page.content.decode()

    confirmed = client.post(
        "/admin/patients/intakeassessment/",
        {"action": "confirm_proposed_level", "_selected_action": [saved.pk]},
        follow=True,
    )
    assert "confirmed" in confirmed.content.decode()
    saved.refresh_from_db()
    assert (saved.decision, saved.decided_level, saved.decided_by) == ("confirmed", saved.proposed_level, clinician)
    assert saved.proposed_level.code == "php"


def test_the_admin_will_not_record_an_intake_for_a_patient_off_the_care_team(client, clinician):
    stranger = PatientFactory.create()
    client.force_login(clinician)
    response = client.post(
        "/admin/patients/intakeassessment/add/",
        {
            "patient": stranger.pk,
            "assessed_on": "2026-11-23",
            "pregnancy": "unknown",
            "home_stability": "stable",
            "support": "some",
            **inline_management("benzodiazepines", 0),
            **inline_management("substances", 0),
            **inline_management("prescribers", 0),
        },
    )
    assert response.status_code == 200  # the form again, with the error on the patient field
    assert "Select a valid choice" in response.content.decode()
    assert not IntakeAssessment.objects.exists()


def test_admissions_cannot_open_intakes_in_the_admin(client, make_user, clinician_client, patient):
    created = record(clinician_client, patient).json()
    client.force_login(make_user(Role.ADMISSIONS))
    assert client.get("/admin/patients/intakeassessment/").status_code == 403
    pk = IntakeAssessment.objects.get(public_id=created["id"]).pk
    assert client.get(f"/admin/patients/intakeassessment/{pk}/change/").status_code == 403


def test_the_desk_admits_from_the_admin_to_the_level_decided_at_intake(client, make_user, clinician_client, patient):
    created = record(clinician_client, patient).json()
    clinician_client.post(
        f"/api/v1/intake-assessments/{created['id']}/decision/",
        {"level": "iop", "reason": "Works days; evening IOP fits and support is strong"},
        format="json",
    )
    undecided = PatientFactory.create()
    client.force_login(make_user(Role.ADMISSIONS))
    response = client.post(
        "/admin/patients/patient/",
        {"action": "admit_as_decided_at_intake", "_selected_action": [patient.pk, undecided.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert f"{patient.mrn}: admitted to" in page
    assert f"{undecided.mrn}: no intake assessment yet." in page
    episode = EpisodeOfCare.objects.get()
    assert (episode.patient, episode.stays.get().level.code) == (patient, "iop")
    assert str(EpisodeOfCare.objects.values_list("intake_assessment__public_id", flat=True).get()) == created["id"]


def test_the_desk_filters_the_admin_patient_list_by_current_level(client, make_user, clinician_client, patient):
    created = record(clinician_client, patient).json()
    clinician_client.post(f"/api/v1/intake-assessments/{created['id']}/decision/", {"level": "php"}, format="json")
    waiting = PatientFactory.create()
    desk = make_user(Role.ADMISSIONS)
    client.force_login(desk)
    client.post("/admin/patients/patient/", {"action": "admit_as_decided_at_intake", "_selected_action": [patient.pk]})
    in_php = client.get("/admin/patients/patient/?level=php").content.decode()
    assert patient.mrn in in_php
    assert waiting.mrn not in in_php
    assert patient.mrn not in client.get("/admin/patients/patient/?level=iop").content.decode()


def decide(client, created, level="php", reason=""):
    return client.post(
        f"/api/v1/intake-assessments/{created['id']}/decision/", {"level": level, "reason": reason}, format="json"
    )


def admit(desk, patient, created, on="2026-11-23"):
    body = {"patient": str(patient.public_id), "intake_assessment": created["id"], "admitted_on": on, "reason": "x"}
    return desk.post("/api/v1/episodes/", body, format="json")


def test_a_newer_intake_supersedes_an_older_decided_one(make_user, client_for, clinician_client, patient, today):
    today.move_to("2026-11-20 15:00:00+00:00")
    older = record(clinician_client, patient, assessed_on="2026-11-20", substances=[]).json()
    decide(clinician_client, older, "outpatient", "Mild use, strong support, works full time")
    today.move_to("2026-11-23 15:00:00+00:00")
    record(clinician_client, patient, prior_withdrawal_seizure=True)  # not decided yet
    refused = admit(client_for(make_user(Role.ADMISSIONS)), patient, older)
    assert refused.status_code == 400
    assert "newer intake assessment" in refused.json()["message"]
    assert not EpisodeOfCare.objects.exists()


def test_an_intake_is_followed_by_one_admission(make_user, client_for, clinician_client, patient):
    created = record(clinician_client, patient, assessed_on="2026-11-20", substances=[]).json()
    decide(clinician_client, created)
    desk = client_for(make_user(Role.ADMISSIONS))
    episode = admit(desk, patient, created, on="2026-11-20").json()
    discharged = clinician_client.post(
        f"/api/v1/episodes/{episode['id']}/discharge/",
        {"discharged_on": "2026-11-22", "reason": "administrative", "safety_plan": "Call or text 988"},
        format="json",
    )
    assert discharged.status_code == 200, discharged.json()
    again = admit(desk, patient, created)
    assert again.status_code == 409
    assert "already followed by an admission" in again.json()["message"]


def test_an_admission_cannot_predate_or_outlive_its_intake(make_user, client_for, clinician_client, patient, settings):
    created = record(clinician_client, patient, assessed_on="2026-11-20", substances=[]).json()
    decide(clinician_client, created)
    desk = client_for(make_user(Role.ADMISSIONS))
    early = admit(desk, patient, created, on="2026-11-19")
    assert (early.status_code, list(early.json()["extra"]["fields"])) == (400, ["admitted_on"])
    settings.INTAKE_VALID_DAYS = 2
    stale = admit(desk, patient, created)
    assert stale.status_code == 400
    assert "more than 2 days old" in stale.json()["message"]


def test_an_intake_is_recorded_within_the_backdating_window(clinician_client, patient):
    response = record(clinician_client, patient, assessed_on="2026-11-01")
    assert response.status_code == 400
    assert "assessed_on" in response.json()["extra"]["fields"]


def test_a_last_use_after_the_assessment_is_refused(clinician_client, patient):
    response = record(
        clinician_client,
        patient,
        substances=[{"substance": "alcohol", "frequency": "daily", "last_used_on": "2026-11-24"}],
    )
    assert response.status_code == 400
    assert not IntakeAssessment.objects.exists()


def test_only_current_use_counts_for_the_co_use_rules(clinician_client, patient):
    body = record(
        clinician_client,
        patient,
        substances=[{"substance": "alcohol", "frequency": "daily", "last_used_on": "2026-09-01"}],
    ).json()
    assert "opioid_or_alcohol_co_use" not in body["proposal_rules"]


def test_the_safety_answers_must_come_as_json(clinician_client, patient):
    # A form body would turn every missing yes/no answer into "no".
    response = clinician_client.post(
        "/api/v1/intake-assessments/",
        {"patient": str(patient.public_id), "assessed_on": "2026-11-23", "pregnancy": "unknown"},
    )
    assert response.status_code == 415
    assert not IntakeAssessment.objects.exists()


def test_too_many_rows_are_a_400(clinician_client, patient):
    response = record(clinician_client, patient, benzodiazepines=[benzo("triazolam", "1000")] * 11)
    assert response.status_code == 400
    assert "benzodiazepines" in response.json()["extra"]["fields"]


def test_a_nurse_records_an_intake_but_does_not_decide_the_level(make_user, client_for, patient):
    nurse = make_user(Role.NURSE)
    put_on_care_team(patient, nurse, "nurse")
    client = client_for(nurse)
    created = record(client, patient).json()
    assert decide(client, created).status_code == 403
    assert IntakeAssessment.objects.get().decision == ""


def test_undecided_intakes_can_be_listed(clinician_client, patient):
    first = record(clinician_client, patient).json()
    record(clinician_client, patient)
    decide(clinician_client, first)
    waiting = clinician_client.get("/api/v1/intake-assessments/?decided=false").json()["results"]
    assert len(waiting) == 1
    assert waiting[0]["id"] != first["id"]
    assert clinician_client.get("/api/v1/intake-assessments/?decided=maybe").status_code == 400


def test_the_admin_asks_every_safety_question_and_checks_the_date(client, clinician, patient):
    client.force_login(clinician)
    response = client.post(
        "/admin/patients/intakeassessment/add/",
        {
            "patient": patient.pk,
            "assessed_on": "2099-01-01",
            "pregnancy": "unknown",
            "home_stability": "stable",
            "support": "some",
            **inline_management("benzodiazepines", 0),
            **inline_management("substances", 0),
            **inline_management("prescribers", 0),
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "in the future" in errors["assessed_on"][0]
    assert {"prior_withdrawal_seizure", "cssrs_suicidal_thoughts", "cssrs_behavior"} <= set(errors)
    assert not IntakeAssessment.objects.exists()


def test_admin_actions_are_audited_as_admin(client, clinician, clinician_client, patient):
    created = record(clinician_client, patient).json()
    client.force_login(clinician)
    pk = IntakeAssessment.objects.get(public_id=created["id"]).pk
    client.post("/admin/patients/intakeassessment/", {"action": "confirm_proposed_level", "_selected_action": [pk]})
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="patients.IntakeAssessment")
    assert event.via == "admin"


def test_a_refusal_the_admin_form_cannot_foresee_is_shown_not_a_500(client, clinician, patient):
    client.force_login(clinician)
    response = client.post(
        "/admin/patients/intakeassessment/add/",
        {
            "patient": patient.pk,
            "assessed_on": "2026-11-23",
            "pregnancy": "unknown",
            "home_stability": "stable",
            "support": "some",
            **dict.fromkeys(["prior_withdrawal_seizure", "prior_withdrawal_delirium", "cssrs_wish_to_be_dead"], "no"),
            **dict.fromkeys(["cssrs_suicidal_thoughts", "cssrs_behavior"], "no"),
            **inline_management("benzodiazepines", 0),
            **inline_management("substances", 1),
            "substances-0-substance": "alcohol",
            "substances-0-frequency": "daily",
            "substances-0-last_used_on": "2026-11-24",  # after the assessment
            **inline_management("prescribers", 0),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Not saved: A last use cannot come after the assessment." in response.content.decode()
    assert not IntakeAssessment.objects.exists()
