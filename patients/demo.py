"""Demo patients for `make run`. Invented people; idempotent by name and date of birth."""

from datetime import date
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.apps import Writer
from patients.models import CareTeamMember, CareTeamRole, Patient, PatientStatus
from patients.services import patient_create

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
        patient_create(
            legal_first_name=first, legal_last_name=last, date_of_birth=born, time_zone=ZoneInfo(zone), status=status
        )
        created += 1
    out.write(f"Demo patients: {created} created, {len(DEMO_PATIENTS) - created} already there.\n")
    _seed_care_teams()


# The demo clinical users (made by clinic.demo) care for the admitted demo patients, so a
# clinician's token shows something; the other patients need break-the-glass.
DEMO_TEAM = [
    ("clinician", CareTeamRole.PRIMARY_CLINICIAN),
    ("prescriber", CareTeamRole.PRESCRIBER_OF_RECORD),
    ("nurse", CareTeamRole.NURSE),
]


def _seed_care_teams() -> None:
    users = {user.username: user for user in get_user_model().objects.filter(username__in=[u for u, _ in DEMO_TEAM])}
    for patient in Patient.objects.filter(status=PatientStatus.ADMITTED, mrn__in=_demo_mrns()):
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
