"""Demo patients for `make run`. Invented people; idempotent by name and date of birth."""

from datetime import date
from zoneinfo import ZoneInfo

from clinic.apps import Writer
from patients.models import Patient, PatientStatus
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
