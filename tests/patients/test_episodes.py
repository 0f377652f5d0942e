from datetime import date

import pytest
import time_machine
from django.contrib.auth import get_user_model

from clinic.models import LevelOfCare
from clinic.roles import Role
from patients.models import EpisodeOfCare, LevelOfCareStay, Patient
from patients.services.episodes import episode_admit, episode_transition
from patients.signals import level_of_care_changed
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.utils import race

pytestmark = pytest.mark.django_db

TODAY = "2026-11-23 15:00:00+00:00"
SAFETY = "Call or text 988 (Suicide & Crisis Lifeline); sister Sam at +16175550199."


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def team(make_user, client_for):
    clinician = make_user(Role.CLINICIAN)
    patient = PatientFactory.create()
    put_on_care_team(patient, clinician)
    return patient, clinician, client_for(clinician)


def admit(client, patient, level="php", on="2026-11-20", reason="Intake: high-dose alprazolam, unstable home"):
    return client.post(
        "/api/v1/episodes/",
        {"patient": str(patient.public_id), "level": level, "admitted_on": on, "reason": reason},
        format="json",
    )


def test_the_whole_path_admit_step_down_twice_and_discharge(team, make_user, client_for):
    patient, clinician, client = team
    admissions = client_for(make_user(Role.ADMISSIONS))
    with time_machine.travel("2026-11-02 15:00:00+00:00", tick=False):
        admitted = admit(admissions, patient, on="2026-11-02")
    assert admitted.status_code == 201
    episode = admitted.json()
    assert episode["current_level"] == "php"
    url = f"/api/v1/episodes/{episode['id']}/"
    with time_machine.travel("2026-11-16 15:00:00+00:00", tick=False):
        to_iop = client.post(
            f"{url}transitions/",
            {"to_level": "iop", "effective_on": "2026-11-16", "reason": "Stable, 20 h met"},
            format="json",
        )
    assert to_iop.status_code == 200
    to_op = client.post(
        f"{url}transitions/",
        {"to_level": "outpatient", "effective_on": "2026-11-23", "reason": "Taper steady"},
        format="json",
    )
    assert to_op.json()["current_level"] == "outpatient"
    assert [(s["level"], s["kind"], s["started_on"], s["ended_on"]) for s in to_op.json()["stays"]] == [
        ("php", "admission", "2026-11-02", "2026-11-16"),
        ("iop", "step_down", "2026-11-16", "2026-11-23"),
        ("outpatient", "step_down", "2026-11-23", None),
    ]
    with time_machine.travel("2026-12-01 15:00:00+00:00", tick=False):
        # A new token: the one from November has expired (API_TOKEN_TTL_HOURS).
        discharged = client_for(clinician).post(
            f"{url}discharge/",
            {
                "discharged_on": "2026-12-01",
                "reason": "completed",
                "safety_plan": SAFETY,
                "follow_up_appointments": "Weekly therapy",
            },
            format="json",
        )
    assert discharged.status_code == 200, discharged.json()
    assert (discharged.json()["discharged_on"], discharged.json()["current_level"]) == ("2026-12-01", None)
    assert Patient.objects.get(pk=patient.pk).status == "discharged"


def test_a_transition_to_the_current_level_is_refused(team):
    patient, _, client = team
    episode = admit(client, patient).json()
    response = client.post(
        f"/api/v1/episodes/{episode['id']}/transitions/",
        {"to_level": "php", "effective_on": "2026-11-20", "reason": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "already in Partial hospitalization" in response.json()["message"]
    assert LevelOfCareStay.objects.count() == 1


def test_a_change_dated_before_the_current_stay_is_a_409(team):
    patient, _, client = team
    episode = admit(client, patient, on="2026-11-20").json()
    response = client.post(
        f"/api/v1/episodes/{episode['id']}/transitions/",
        {"to_level": "iop", "effective_on": "2026-11-19", "reason": "late entry"},
        format="json",
    )
    assert response.status_code == 409
    assert LevelOfCareStay.objects.get().ended_on is None


@pytest.mark.parametrize(
    ("on", "message"),
    [("2026-11-24", "in the future"), ("2026-11-10", "more than 7 days ago")],
)
def test_backdating_is_limited_to_the_window(team, on, message):
    patient, _, client = team
    response = admit(client, patient, on=on)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not EpisodeOfCare.objects.exists()


def test_a_discharge_before_the_admission_is_refused(team):
    patient, _, client = team
    episode = admit(client, patient, on="2026-11-20").json()
    response = client.post(
        f"/api/v1/episodes/{episode['id']}/discharge/",
        {"discharged_on": "2026-11-18", "reason": "completed", "safety_plan": SAFETY},
        format="json",
    )
    assert response.status_code == 400
    assert EpisodeOfCare.objects.get().discharged_on is None


def test_a_discharge_needs_988_in_the_safety_plan(team):
    patient, _, client = team
    episode = admit(client, patient, on="2026-11-20").json()
    response = client.post(
        f"/api/v1/episodes/{episode['id']}/discharge/",
        {"discharged_on": "2026-11-23", "reason": "completed", "safety_plan": "Call me"},
        format="json",
    )
    assert response.status_code == 400
    assert "safety_plan" in response.json()["extra"]["fields"]
    assert LevelOfCareStay.objects.get().ended_on is None


def test_transfer_out_to_residential_ends_the_episode(team):
    patient, _, client = team
    episode = admit(client, patient, on="2026-11-20").json()
    response = client.post(
        f"/api/v1/episodes/{episode['id']}/transitions/",
        {"to_level": "residential", "effective_on": "2026-11-23", "reason": "Relapse, unsafe at home"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["discharge_reason"], response.json()["current_level"]) == ("stepped_up_elsewhere", None)


def test_a_second_admission_while_admitted_is_a_409(team):
    patient, _, client = team
    assert admit(client, patient).status_code == 201
    assert admit(client, patient).status_code == 409


def test_only_the_care_team_changes_the_level(team, make_user, client_for):
    patient, _, client = team
    episode = admit(client, patient).json()
    body = {"to_level": "iop", "effective_on": "2026-11-23", "reason": "Stable"}
    off_team = client_for(make_user(Role.CLINICIAN)).post(
        f"/api/v1/episodes/{episode['id']}/transitions/", body, format="json"
    )
    assert off_team.status_code == 404
    desk = client_for(make_user(Role.ADMISSIONS)).post(
        f"/api/v1/episodes/{episode['id']}/transitions/", body, format="json"
    )
    assert desk.status_code == 403


def test_a_level_change_sends_the_signal_after_commit(team, django_capture_on_commit_callbacks):
    patient, clinician, _ = team
    received = []

    def listener(**kwargs):
        received.append((kwargs["kind"], kwargs["to_level_id"]))

    level_of_care_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            episode = episode_admit(
                patient=patient,
                level=LevelOfCare.objects.get(code="php"),
                admitted_on=date(2026, 11, 20),
                reason="",
                by=clinician,
            )
        with django_capture_on_commit_callbacks(execute=True):
            episode_transition(
                episode=episode,
                to_level=LevelOfCare.objects.get(code="iop"),
                effective_on=date(2026, 11, 23),
                reason="Stable",
                by=clinician,
            )
    finally:
        level_of_care_changed.disconnect(listener)
    iop = LevelOfCare.objects.get(code="iop").pk
    assert received[-1] == ("step_down", iop)
    assert received[0][0] == "admission"


def test_the_database_refuses_overlapping_stays():
    from django.db import IntegrityError, transaction

    patient = PatientFactory.create()
    episode = EpisodeOfCare.objects.create(patient=patient, admitted_on=date(2026, 11, 1))
    php, iop = LevelOfCare.objects.get(code="php"), LevelOfCare.objects.get(code="iop")
    user = get_user_model().objects.create(username="x")
    LevelOfCareStay.objects.create(
        episode=episode,
        level=php,
        started_on=date(2026, 11, 1),
        ended_on=date(2026, 11, 10),
        kind="admission",
        reason="r",
        decided_by=user,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        LevelOfCareStay.objects.create(
            episode=episode,
            level=iop,
            started_on=date(2026, 11, 9),
            ended_on=date(2026, 11, 12),
            kind="step_down",
            reason="r",
            decided_by=user,
        )


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_transitions_cannot_both_succeed(make_user):
    clinician = make_user(Role.CLINICIAN)
    patient = PatientFactory.create()
    episode = episode_admit(
        patient=patient,
        level=LevelOfCare.objects.get(code="php"),
        admitted_on=date(2026, 11, 20),
        reason="",
        by=clinician,
    )
    targets = [LevelOfCare.objects.get(code="iop"), LevelOfCare.objects.get(code="outpatient")]

    def step(level):
        return lambda: episode_transition(
            episode=episode, to_level=level, effective_on=date(2026, 11, 23), reason="Stable", by=clinician
        )

    assert race(*(step(level) for level in targets)) == ["Conflict", "ok"]
    assert LevelOfCareStay.objects.filter(episode=episode).count() == 2
    assert LevelOfCareStay.objects.filter(episode=episode, ended_on__isnull=True).count() == 1
