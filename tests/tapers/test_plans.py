"""Taper plans through their services: drafting from the catalogue, versions and their digest,
approval, immutability in the database, activation, the step advance, hold and resume."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.errors import ApplicationError, Conflict, Forbidden
from clinic.roles import Role
from tapers.models import PlanHold, PlanStatus, StepStatus, TaperPlanVersion, TaperStep
from tapers.services import plans as services
from tests.tapers.factories_plans import (
    ALPRAZOLAM_6_MG,
    TODAY,
    active,
    approved,
    draft,
    in_force,
    make_prescriber,
    stock,
)

pytestmark = pytest.mark.usefixtures("clock", "catalogue")


def steps_of(plan, version=None):
    version = version or in_force(plan)
    return list(TaperStep.objects.filter(version=version).order_by("number"))


# --- drafting ------------------------------------------------------------------------------------


def test_alprazolam_6_mg_switched_to_diazepam_has_the_ashton_shape_through_the_service(team_patient, prescriber):
    # The engine's own test (test_engine.py) holds the schedule to its shape with hand-written
    # strengths; this one drafts through the service, so the strengths come from the catalogue's
    # active rows and the steps are stored as rows and as the version's signed JSON.
    plan = draft(team_patient, prescriber, regimen=ALPRAZOLAM_6_MG, policy={"switch_to_diazepam": True})
    version = plan.versions.get()
    rows = steps_of(plan, version)

    assert plan.status == PlanStatus.DRAFT
    assert plan.current_version is None
    assert [s.rule for s in rows[:3]] == ["substitution"] * 3
    assert [s.starts_on for s in rows[:3]] == [TODAY, TODAY + timedelta(days=7), TODAY + timedelta(days=14)]
    assert rows[2].totals_mg == {"diazepam": "120"}
    assert all(s.rule != "substitution" for s in rows[3:])
    assert rows[3].rule == "reduction"
    assert rows[3].cut_percent == Decimal("10.0")
    assert rows[-1].rule == "stop"
    assert rows[-1].doses == {}
    # Ashton (clinical.md 2.2): six weeks "is much too fast"; months, not weeks. The 2-year
    # bound is no source's figure: it catches a plan that stalls.
    weeks = (rows[-1].starts_on - TODAY).days / 7
    assert 26 < weeks < 104
    # The catalogue's strengths are what the plan was rounded to, and are recorded with it.
    used = {s["drug"]: s for s in version.inputs["strengths"]}
    assert used["diazepam"]["tablets"] == [
        {"mg": "2", "scored": True},
        {"mg": "5", "scored": True},
        {"mg": "10", "scored": True},
    ]
    assert used["diazepam"]["liquid_mg_per_ml"] == "1"
    assert version.inputs["policy"]["switch_to_diazepam"] is True
    assert [s["number"] for s in version.proposed_steps] == [s.number for s in rows]


def test_the_digest_is_the_sha256_of_the_canonical_inputs_and_steps(team_patient, prescriber):
    version = draft(team_patient, prescriber).versions.get()
    canonical = json.dumps(
        {"inputs": version.inputs, "steps": version.proposed_steps},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert version.digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_it_leaves_out_inactive_strengths_and_extended_release_tablets(team_patient, prescriber):
    medication = stock("clonazepam", [("tablet", "0.5", True)])
    medication.strengths.update(is_active=False)
    stock("clonazepam", [("er_tablet", "1", False)])
    with pytest.raises(ApplicationError) as refused:
        draft(team_patient, prescriber, regimen=[{"drug": "clonazepam", "mg": "1", "time_of_day": "bedtime"}])
    assert refused.value.extra["code"] == "missing_strengths"
    assert "no strengths were given for clonazepam" in refused.value.message


def test_a_dose_the_strengths_cannot_make_is_refused_naming_the_rule(team_patient, prescriber):
    with pytest.raises(ApplicationError) as refused:
        draft(team_patient, prescriber, regimen=[{"drug": "diazepam", "mg": "0.25", "time_of_day": "bedtime"}])
    assert refused.value.status_code == 400
    assert refused.value.extra["code"] == "unmakeable_dose"
    assert "diazepam 0.25 mg (bedtime) cannot be made from the strengths available" in refused.value.message
    assert TaperPlanVersion.objects.count() == 0


def test_a_policy_outside_the_guideline_is_refused(team_patient, prescriber):
    with pytest.raises(ApplicationError) as refused:
        draft(team_patient, prescriber, policy={"reduction_percent": "20"})
    assert refused.value.extra["code"] == "bad_policy"
    assert "reduction_percent must be 5 to 10" in refused.value.message


def test_only_a_prescriber_drafts(team_patient, clinician):
    with pytest.raises(Forbidden):
        draft(team_patient, clinician)


def test_a_plan_cannot_start_in_the_past(team_patient, prescriber):
    with pytest.raises(ApplicationError, match="cannot start in the past"):
        draft(team_patient, prescriber, start_date=TODAY - timedelta(days=1))


# --- approval ------------------------------------------------------------------------------------


def test_a_prescriber_with_a_prescriber_record_approves_the_version_they_read(team_patient, prescriber):
    plan = draft(team_patient, prescriber)
    version = plan.versions.get()
    plan = services.taper_plan_approve(plan=plan, digest=version.digest, by=prescriber, note="Reviewed with patient")
    version.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED
    assert plan.current_version == version
    assert version.approved_by == prescriber
    assert version.approved_as is not None
    assert version.approved_as.staff == prescriber
    assert version.approved_at is not None
    assert version.approval_note == "Reviewed with patient"


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.NURSE])
def test_a_clinician_or_nurse_cannot_approve(team_patient, prescriber, make_user, role):
    plan = draft(team_patient, prescriber)
    with pytest.raises(Forbidden, match="Only prescriber staff may approve taper plans"):
        services.taper_plan_approve(plan=plan, digest=plan.versions.get().digest, by=make_user(role))


def test_a_prescriber_without_a_prescriber_record_cannot_approve(team_patient, prescriber):
    plan = draft(team_patient, prescriber)
    unlinked = make_prescriber(linked=False)
    with pytest.raises(Forbidden, match="not linked to an active prescriber record"):
        services.taper_plan_approve(plan=plan, digest=plan.versions.get().digest, by=unlinked)


def test_approving_a_version_other_than_the_one_waiting_is_a_conflict(team_patient, prescriber):
    plan = draft(team_patient, prescriber)
    first = plan.versions.get()
    services.taper_plan_redraft(
        plan=plan,
        regimen=[{"drug": "diazepam", "mg": "15", "time_of_day": "bedtime"}],
        policy={},
        start_date=TODAY,
        by=prescriber,
    )
    with pytest.raises(Conflict, match="Version 2 is the one waiting for approval"):
        services.taper_plan_approve(plan=plan, digest=first.digest, by=prescriber)
    first.refresh_from_db()
    assert first.withdrawn_at is not None
    assert first.approved_at is None


def test_a_change_to_an_approved_plan_is_a_new_version_and_the_approved_one_stays_in_force(team_patient, prescriber):
    plan = active(team_patient, prescriber)
    v1 = plan.current_version
    v2 = services.taper_plan_redraft(
        plan=plan,
        regimen=[{"drug": "diazepam", "mg": "18", "time_of_day": "bedtime"}],
        policy={},
        start_date=TODAY + timedelta(days=7),
        by=prescriber,
        note="Slower",
    )
    plan.refresh_from_db()
    assert (v2.number, v2.approved_at) == (2, None)
    assert plan.current_version == v1
    assert plan.status == PlanStatus.ACTIVE
    assert steps_of(plan, v1)[0].status == StepStatus.CURRENT

    services.taper_plan_approve(plan=plan, digest=v2.digest, by=prescriber)
    plan.refresh_from_db()
    assert plan.current_version == v2
    old = steps_of(plan, v1)
    # The old current step runs until the new version's first step starts; the rest is replaced.
    assert old[0].status == StepStatus.CURRENT
    assert {s.status for s in old[1:]} == {StepStatus.SUPERSEDED}


def test_nothing_is_waiting_once_approved(team_patient, prescriber):
    plan = approved(team_patient, prescriber)
    with pytest.raises(Conflict, match="No version of this plan is waiting for approval"):
        services.taper_plan_approve(plan=plan, digest=in_force(plan).digest, by=prescriber)


# --- immutability --------------------------------------------------------------------------------


def test_the_database_refuses_to_change_an_approved_version(team_patient, prescriber):
    plan = approved(team_patient, prescriber)
    version = in_force(plan)
    with pytest.raises(IntegrityError, match="is approved and cannot be changed"), transaction.atomic():
        TaperPlanVersion.objects.filter(pk=version.pk).update(approval_note="edited later")
    # Raw SQL: the ORM's PROTECT would refuse first; the trigger refuses any client.
    with pytest.raises(IntegrityError, match="cannot be deleted"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM tapers_taperplanversion WHERE id = %s", [version.pk])


def test_the_database_refuses_to_change_a_dose_of_an_approved_step_but_lets_it_move_on(team_patient, prescriber):
    plan = approved(team_patient, prescriber)
    step = steps_of(plan)[1]
    with pytest.raises(IntegrityError, match="only its status and start date may change"), transaction.atomic():
        TaperStep.objects.filter(pk=step.pk).update(doses={"bedtime": [{"drug": "diazepam", "mg": "40"}]})
    with pytest.raises(IntegrityError, match="no step can be added"), transaction.atomic():
        TaperStep.objects.create(
            plan=plan,
            version=in_force(plan),
            number=99,
            planned_on=TODAY,
            starts_on=TODAY,
            doses={},
            totals_mg={},
            dze_low_mg=0,
            dze_high_mg=0,
            cut_percent=0,
            rule="manual",
            reason="sneaked in",
        )
    TaperStep.objects.filter(pk=step.pk).update(status=StepStatus.DONE, starts_on=step.starts_on + timedelta(days=3))


def test_the_database_refuses_to_edit_a_draft_in_place(team_patient, prescriber):
    version = draft(team_patient, prescriber).versions.get()
    with pytest.raises(IntegrityError, match="make a new version"), transaction.atomic():
        TaperPlanVersion.objects.filter(pk=version.pk).update(proposed_steps=[])


# --- manual steps --------------------------------------------------------------------------------


def test_a_manual_step_over_the_ceiling_is_refused_saying_which_step_and_why(team_patient, prescriber):
    plan = approved(team_patient, prescriber)
    steps = [
        {"starts_on": TODAY, "doses": [{"drug": "diazepam", "mg": "18", "time_of_day": "bedtime"}]},
        {"starts_on": TODAY + timedelta(days=7), "doses": [{"drug": "diazepam", "mg": "10", "time_of_day": "bedtime"}]},
    ]
    with pytest.raises(ApplicationError) as refused:
        services.taper_plan_edit_steps(plan=plan, steps=steps, by=prescriber)
    assert refused.value.extra["code"] == "over_ceiling"
    assert refused.value.extra["step"] == 2
    assert refused.value.message.startswith("Step 2 (2026-11-30) cuts the daily dose to 10 mg")
    assert "the ceiling is 25 % every 2 weeks" in refused.value.message
    assert plan.versions.count() == 1


def test_manual_steps_keep_the_engines_reason_where_unchanged_and_are_marked_where_changed(team_patient, prescriber):
    plan = approved(team_patient, prescriber)
    proposed = in_force(plan).proposed_steps
    edited = [
        {
            "starts_on": date.fromisoformat(s["starts_on"]),
            "doses": [{"drug": d["drug"], "mg": d["mg"], "time_of_day": t} for t, ds in s["doses"].items() for d in ds],
        }
        for s in proposed
    ]
    # Slow the second step down: 17 mg instead of the engine's cut.
    edited[1]["doses"] = [
        {"drug": "diazepam", "mg": "10", "time_of_day": "morning"},
        {"drug": "diazepam", "mg": "7", "time_of_day": "bedtime"},
    ]
    version = services.taper_plan_edit_steps(plan=plan, steps=edited[:3], by=prescriber, note="Slower second step")
    steps = version.proposed_steps
    assert [s["manual"] for s in steps] == [False, True, True]
    assert steps[0]["reason"] == proposed[0]["reason"]
    assert steps[1]["rule"] == "manual"
    assert version.inputs["mode"] == "manual"
    assert version.inputs["based_on_version"] == 1


# --- activation, advance, hold, resume -----------------------------------------------------------


def test_activation_makes_the_first_step_current_on_its_date(team_patient, prescriber, clock):
    plan = approved(team_patient, prescriber, start_date=TODAY + timedelta(days=2))
    plan = services.taper_plan_activate(plan=plan, by=prescriber)
    assert plan.status == PlanStatus.ACTIVE
    assert {s.status for s in steps_of(plan)} == {StepStatus.PLANNED}

    clock.move_to("2026-11-25 15:00:00+00:00")
    assert services.taper_plans_advance_all() == 1
    assert steps_of(plan)[0].status == StepStatus.CURRENT
    assert services.taper_plans_advance_all() == 0  # idempotent


def test_the_advance_moves_the_current_step_on_as_dates_pass(team_patient, prescriber, clock):
    plan = active(team_patient, prescriber)
    rows = steps_of(plan)
    clock.move_to(f"{rows[2].starts_on.isoformat()} 15:00:00+00:00")
    services.taper_plan_advance(plan=plan)
    assert [s.status for s in steps_of(plan)[:4]] == ["done", "done", "current", "planned"]


def test_hold_and_resume_move_every_later_step_by_exactly_the_days_held(team_patient, prescriber, nurse, clock):
    plan = active(team_patient, prescriber)
    before = {s.number: s.starts_on for s in steps_of(plan)}

    clock.move_to("2026-11-26 15:00:00+00:00")  # day 3 of step 1
    hold = services.taper_plan_hold(plan=plan, reason="Patient unwell", by=nurse)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HELD
    assert hold.step is not None
    assert hold.step.number == 2
    assert steps_of(plan)[1].status == StepStatus.HELD

    clock.move_to("2026-12-06 15:00:00+00:00")  # ten days later: step 2's date passed while held
    services.taper_plan_advance(plan=plan)
    assert steps_of(plan)[1].status == StepStatus.HELD  # a held plan does not move on
    hold = services.taper_plan_resume(plan=plan, by=prescriber, note="Better")

    assert (hold.resumed_on, hold.days_shifted, hold.resumed_by) == (date(2026, 12, 6), 10, prescriber)
    after = steps_of(plan)
    assert after[0].starts_on == before[1]
    assert after[0].status == StepStatus.CURRENT
    assert all(s.starts_on == before[s.number] + timedelta(days=10) for s in after[1:])
    assert all(s.planned_on == before[s.number] for s in after)  # the approved dates are kept
    assert after[1].status == StepStatus.PLANNED
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_only_a_prescriber_resumes(team_patient, prescriber, nurse):
    plan = active(team_patient, prescriber)
    services.taper_plan_hold(plan=plan, reason="Unwell", by=nurse)
    with pytest.raises(Forbidden):
        services.taper_plan_resume(plan=plan, by=nurse)


def test_a_hold_needs_a_plan_being_followed_and_a_reason(team_patient, prescriber, nurse):
    plan = draft(team_patient, prescriber)
    with pytest.raises(Conflict, match="Only an active or approved plan can be held"):
        services.taper_plan_hold(plan=plan, reason="Unwell", by=nurse)
    with pytest.raises(ApplicationError, match="Say why"):
        services.taper_plan_hold(plan=plan, reason=" ", by=nurse)


def test_an_approved_plan_not_started_is_held_on_its_first_step_and_resumes_to_approved(
    team_patient, prescriber, nurse, clock
):
    plan = approved(team_patient, prescriber, start_date=TODAY + timedelta(days=3))
    first_on = steps_of(plan)[0].starts_on
    services.taper_plan_hold(plan=plan, reason="Withdrawal symptoms before the start", by=nurse)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HELD
    assert steps_of(plan)[0].status == StepStatus.HELD
    with pytest.raises(Conflict, match="this one is held"):
        services.taper_plan_activate(plan=plan, by=prescriber)

    clock.move_to("2026-11-28 15:00:00+00:00")
    services.taper_plan_resume(plan=plan, by=prescriber)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED
    first = steps_of(plan)[0]
    assert (first.status, first.starts_on) == (StepStatus.PLANNED, first_on + timedelta(days=5))


def test_approving_a_new_version_while_held_keeps_the_hold_on_its_first_step(team_patient, prescriber, nurse, clock):
    plan = active(team_patient, prescriber)
    services.taper_plan_hold(plan=plan, reason="Unwell", by=nurse)
    v2 = services.taper_plan_redraft(
        plan=plan,
        regimen=[{"drug": "diazepam", "mg": "18", "time_of_day": "bedtime"}],
        policy={},
        start_date=TODAY + timedelta(days=14),
        by=prescriber,
    )
    services.taper_plan_approve(plan=plan, digest=v2.digest, by=prescriber)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HELD
    first = steps_of(plan, v2)[0]
    assert first.status == StepStatus.HELD
    assert PlanHold.objects.get(plan=plan, resumed_on__isnull=True).step == first


def test_stop_withdraws_a_waiting_draft_and_complete_needs_the_last_step_started(team_patient, prescriber, clock):
    plan = active(team_patient, prescriber)
    with pytest.raises(Conflict, match="is still planned"):
        services.taper_plan_complete(plan=plan, by=prescriber)
    last = steps_of(plan)[-1]
    clock.move_to(f"{last.starts_on.isoformat()} 15:00:00+00:00")
    plan = services.taper_plan_complete(plan=plan, by=prescriber)
    assert plan.status == PlanStatus.COMPLETED
    assert {s.status for s in steps_of(plan)} == {StepStatus.DONE}

    other = draft(team_patient, prescriber, start_date=last.starts_on)
    stopped = services.taper_plan_stop(plan=other, reason="Moved to residential care", by=prescriber)
    assert stopped.status == PlanStatus.STOPPED
    assert other.versions.get().withdrawn_at is not None
    with pytest.raises(Conflict, match="start a new plan"):
        services.taper_plan_approve(plan=other, digest=other.versions.get().digest, by=prescriber)


def test_a_patient_has_one_plan_in_force(team_patient, prescriber):
    approved(team_patient, prescriber)
    plan = draft(team_patient, prescriber)
    with pytest.raises(Conflict, match="already has a taper plan in force"):
        services.taper_plan_approve(plan=plan, digest=plan.versions.get().digest, by=prescriber)
