from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords
from timezone_field import TimeZoneField

from clinic.models import PublicModel


class PatientStatus(models.TextChoices):
    REFERRED = "referred", "Referred"
    INTAKE_SCHEDULED = "intake_scheduled", "Intake scheduled"
    ADMITTED = "admitted", "Admitted"
    DISCHARGED = "discharged", "Discharged"
    DECLINED = "declined", "Declined"


class Patient(PublicModel):
    # Issued by patient_create from a database sequence: unique, never reused, no race.
    mrn = models.CharField("MRN", max_length=16, unique=True, editable=False)
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    time_zone = TimeZoneField(help_text="IANA time zone; reminders and 'tomorrow' are computed in it.")
    status = models.CharField(max_length=20, choices=PatientStatus.choices, default=PatientStatus.REFERRED)

    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_last_name", "legal_first_name", "id"]
        indexes = [
            # Front-desk search by surname.
            models.Index(fields=["legal_last_name", "legal_first_name"], name="patient_name"),
        ]

    def __str__(self) -> str:
        # The MRN only: str() lands in the admin's change log and in exception reports,
        # where a name would be patient data. The admin lists names in their own columns.
        return self.mrn
