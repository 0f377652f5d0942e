from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from patients.models import Patient, PatientStatus

MRN_SEQUENCE = "patients_mrn_seq"


def mrn_next() -> str:
    # A sequence hands out each number once even to concurrent admissions; counting rows would race.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [MRN_SEQUENCE])
        (number,) = cursor.fetchone()
    return f"MRN{number:07d}"


@transaction.atomic
def patient_create(
    *,
    legal_first_name: str,
    legal_last_name: str,
    date_of_birth: date,
    time_zone: ZoneInfo,
    preferred_name: str = "",
    status: str = PatientStatus.REFERRED,
) -> Patient:
    patient = Patient(
        mrn=mrn_next(),
        legal_first_name=legal_first_name,
        legal_last_name=legal_last_name,
        preferred_name=preferred_name,
        date_of_birth=date_of_birth,
        time_zone=time_zone,
        status=status,
    )
    patient.full_clean()
    patient.save()
    return patient
