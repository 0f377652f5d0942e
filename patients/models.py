from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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


class CareTeamRole(models.TextChoices):
    PRIMARY_CLINICIAN = "primary_clinician", "Primary clinician"
    PRESCRIBER_OF_RECORD = "prescriber_of_record", "Prescriber of record"
    NURSE = "nurse", "Nurse"
    CASE_MANAGER = "case_manager", "Case manager"
    OTHER = "other", "Other clinician"


class CareTeamMember(PublicModel):
    """A staff member on a patient's care team. Membership opens the patient's clinical
    records to them (if they hold a clinical role); ending it closes them again."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_team")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_teams")
    team_role = models.CharField(max_length=24, choices=CareTeamRole.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["team_role", "started_on"]
        constraints = [
            # One open membership per person per patient; history keeps the ended ones.
            models.UniqueConstraint(
                fields=["patient", "member"], condition=Q(ended_on__isnull=True), name="care_team_one_open_membership"
            ),
            # DESIGN.md: one prescriber of record (and one primary clinician) at a time.
            models.UniqueConstraint(
                fields=["patient", "team_role"],
                condition=Q(ended_on__isnull=True, team_role__in=["primary_clinician", "prescriber_of_record"]),
                name="care_team_one_open_lead_role",
                violation_error_message="The patient already has someone in that role; end their membership first.",
            ),
            models.CheckConstraint(
                name="care_team_ends_after_start",
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                violation_error_message="A membership cannot end before it starts.",
            ),
        ]
        indexes = [
            # The access rule asks "which patients is this user on the team of?" on every request.
            models.Index(
                fields=["member", "patient"], condition=Q(ended_on__isnull=True), name="care_team_open_by_member"
            ),
        ]


class BreakGlassGrant(PublicModel):
    """Time-limited access to one patient's clinical records for someone off the care team,
    with the reason they gave. Every grant is also an audit event."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="break_glass_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants")
    reason = models.TextField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The access rule looks up the caller's unexpired grants on every request.
            models.Index(fields=["user", "expires_at"], name="break_glass_user_expiry"),
        ]
