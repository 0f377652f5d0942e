"""Demo patients for `make run`. Invented people; idempotent by name and date of birth."""

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.apps import Writer
from patients.models import CareTeamMember, CareTeamRole, EpisodeOfCare, Patient, PatientStatus
from patients.services import patient_create
from patients.services.episodes import episode_admit
from patients.services.intake import intake_decide, intake_record

DEMO_PATIENTS = [
    ("Avery", "Demo", date(1984, 3, 14), "America/New_York", PatientStatus.ADMITTED),
    ("Jordan", "Sample", date(1972, 11, 2), "America/New_York", PatientStatus.ADMITTED),
    ("Riley", "Example", date(1990, 6, 21), "America/Chicago", PatientStatus.INTAKE_SCHEDULED),
    ("Casey", "Testperson", date(1965, 1, 30), "America/New_York", PatientStatus.REFERRED),
]


def seed_patients(out: Writer) -> None:
    created = 0
    for first, last, born, zone, status in DEMO_PATIENTS:
        if Patient.objects.filter(legal_first_name=first, legal_last_name=last, date_of_birth=born).exists():
            continue
        # "Admitted" ones start at intake and are admitted below, through the real services.
        initial = PatientStatus.INTAKE_SCHEDULED if status == PatientStatus.ADMITTED else status
        patient_create(
            legal_first_name=first, legal_last_name=last, date_of_birth=born, time_zone=ZoneInfo(zone), status=initial
        )
        created += 1
    out.write(f"Demo patients: {created} created, {len(DEMO_PATIENTS) - created} already there.\n")
    _seed_care_teams()
    _seed_admissions()


# The demo clinical users (made by clinic.demo) care for the admitted demo patients, so a
# clinician's token shows something; the other patients need break-the-glass.
DEMO_TEAM = [
    ("clinician", CareTeamRole.PRIMARY_CLINICIAN),
    ("prescriber", CareTeamRole.PRESCRIBER_OF_RECORD),
    ("nurse", CareTeamRole.NURSE),
]


def _to_admit() -> list[Patient]:
    names = [(first, last) for first, last, _, _, status in DEMO_PATIENTS if status == PatientStatus.ADMITTED]
    return [p for p in Patient.objects.filter(mrn__in=_demo_mrns()) if (p.legal_first_name, p.legal_last_name) in names]


# One intake each: daily clonazepam 1.5 mg (30 mg diazepam-equivalent) for years, which the
# placement rules send to PHP.
DEMO_INTAKE: dict[str, Any] = {
    "prior_withdrawal_seizure": False,
    "prior_withdrawal_delirium": False,
    "co_occurring": ["anxiety", "insomnia"],
    "pregnancy": "not_applicable",
    "home_stability": "stable",
    "support": "some",
    "cssrs_wish_to_be_dead": False,
    "cssrs_suicidal_thoughts": False,
    "cssrs_behavior": False,
}
DEMO_BENZODIAZEPINE = {
    "drug": "clonazepam",
    "daily_dose_mg": Decimal("1.5"),
    "duration_months": 40,
    "days_per_week": 7,
    "source": "prescribed",
}


def _seed_admissions() -> None:
    clinician = get_user_model().objects.filter(username="clinician").first()
    if clinician is None:
        return
    for patient in _to_admit():
        if EpisodeOfCare.objects.filter(patient=patient).exists():
            continue
        today = timezone.localdate()
        intake = intake_record(
            patient=patient,
            assessed_on=today,
            benzodiazepines=[DEMO_BENZODIAZEPINE],
            substances=[],
            prescribers=[],
            by=clinician,
            **DEMO_INTAKE,
        )
        intake = intake_decide(intake=intake, level=intake.proposed_level, reason="", by=clinician)
        episode_admit(patient=patient, level=None, intake=intake, admitted_on=today, reason="", by=clinician)


def _seed_care_teams() -> None:
    users = {user.username: user for user in get_user_model().objects.filter(username__in=[u for u, _ in DEMO_TEAM])}
    for patient in _to_admit():
        for username, team_role in DEMO_TEAM:
            if username in users:
                CareTeamMember.objects.get_or_create(
                    patient=patient,
                    member=users[username],
                    ended_on=None,
                    defaults={"team_role": team_role, "started_on": timezone.localdate()},
                )


def _demo_mrns() -> list[str]:
    return [
        mrn
        for first, last, born, _, _ in DEMO_PATIENTS
        for mrn in Patient.objects.filter(legal_first_name=first, legal_last_name=last, date_of_birth=born).values_list(
            "mrn", flat=True
        )
    ]
