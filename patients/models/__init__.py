from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeOperators
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords
from timezone_field import TimeZoneField

from clinic.models import US_STATE, PublicModel


class PatientStatus(models.TextChoices):
    REFERRED = "referred", "Referred"
    INTAKE_SCHEDULED = "intake_scheduled", "Intake scheduled"
    ADMITTED = "admitted", "Admitted"
    DISCHARGED = "discharged", "Discharged"
    DECLINED = "declined", "Declined"


class SexAssignedAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown"
    DECLINED = "declined", "Declined to answer"


class ReminderChannel(models.TextChoices):
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"
    NONE = "none", "No reminders"


class Patient(PublicModel):
    # Issued by patient_create from a database sequence: unique, never reused, no race.
    mrn = models.CharField("MRN", max_length=16, unique=True, editable=False)
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    sex_assigned_at_birth = models.CharField(max_length=10, choices=SexAssignedAtBirth.choices, blank=True)
    gender_identity = models.CharField(max_length=100, blank=True)
    pronouns = models.CharField(max_length=50, blank=True)
    phone = PhoneNumberField(blank=True, help_text="Mobile number in E.164, e.g. +16175550123.")
    email = models.EmailField(blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[US_STATE])
    postal_code = models.CharField(max_length=10, blank=True)
    time_zone = TimeZoneField(help_text="IANA time zone; reminders and 'tomorrow' are computed in it.")
    preferred_language = models.CharField(max_length=16, default="en", help_text="BCP 47 tag, e.g. en, es.")
    # No messages until admissions records how the patient wants them (and where).
    reminder_channel = models.CharField(max_length=8, choices=ReminderChannel.choices, default=ReminderChannel.NONE)
    status = models.CharField(max_length=20, choices=PatientStatus.choices, default=PatientStatus.REFERRED)

    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_last_name", "legal_first_name", "id"]
        indexes = [
            # Front-desk search by surname.
            models.Index(fields=["legal_last_name", "legal_first_name"], name="patient_name"),
            # Front-desk search by date of birth, and inbound texts matched to a patient by number.
            models.Index(fields=["date_of_birth"], name="patient_dob"),
            models.Index(fields=["phone"], name="patient_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                name="patient_channel_has_address",
                condition=~Q(reminder_channel="sms", phone="") & ~Q(reminder_channel="email", email=""),
                violation_error_message="Reminders by text need a phone number, and by email an email address.",
            ),
        ]

    def __str__(self) -> str:
        # The MRN only: str() lands in the admin's change log and in exception reports,
        # where a name would be patient data. The admin lists names in their own columns.
        return self.mrn

    @property
    def display_name(self) -> str:
        """The name staff call the patient by, for API bodies (never logs or messages)."""
        return f"{self.preferred_name or self.legal_first_name} {self.legal_last_name}"


class ContactRelationship(models.TextChoices):
    SPOUSE_PARTNER = "spouse_partner", "Spouse or partner"
    PARENT = "parent", "Parent"
    CHILD = "child", "Child"
    SIBLING = "sibling", "Sibling"
    OTHER_FAMILY = "other_family", "Other family"
    FRIEND = "friend", "Friend"
    SPONSOR = "sponsor", "Sponsor or peer support"
    GUARDIAN = "guardian", "Legal guardian"
    OTHER = "other", "Other"


class PatientContact(PublicModel):
    """An emergency contact or support person. Being listed here is not consent to disclose
    anything to them (42 CFR Part 2): that needs a consent naming them."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=16, choices=ContactRelationship.choices)
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    is_emergency_contact = models.BooleanField(default=False)
    is_support_person = models.BooleanField(default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-is_emergency_contact", "name"]
        constraints = [
            models.CheckConstraint(
                name="contact_reachable",
                condition=~Q(phone="", email=""),
                violation_error_message="A contact needs a phone number or an email address.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_relationship_display()} of {self.patient.mrn}"


class CareTeamRole(models.TextChoices):
    PRIMARY_CLINICIAN = "primary_clinician", "Primary clinician"
    PRESCRIBER_OF_RECORD = "prescriber_of_record", "Prescriber of record"
    NURSE = "nurse", "Nurse"
    CASE_MANAGER = "case_manager", "Case manager"
    OTHER = "other", "Other clinician"


class CareTeamMemberQuerySet(models.QuerySet["CareTeamMember"]):
    def current(self, on: date) -> CareTeamMemberQuerySet:
        """Memberships in force on `on`: begun by then, and open or ending that day or later
        (`ended_on` is the last day on the team). One who joins next week sees nothing yet."""
        return self.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on), started_on__lte=on)


class CareTeamMember(PublicModel):
    """A staff member on a patient's care team. Membership opens the patient's clinical
    records to them (if they hold a clinical role); ending it closes them again."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_team")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_teams")
    team_role = models.CharField(max_length=24, choices=CareTeamRole.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    objects = CareTeamMemberQuerySet.as_manager()

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


class DischargeReason(models.TextChoices):
    COMPLETED = "completed", "Completed treatment"
    STEPPED_UP_ELSEWHERE = "stepped_up_elsewhere", "Stepped up to a higher level elsewhere"
    AGAINST_ADVICE = "against_advice", "Left against advice"
    ADMINISTRATIVE = "administrative", "Administrative"
    OTHER = "other", "Other"


class EpisodeOfCare(PublicModel):
    """One admission to the program, from admission to discharge, with its aftercare plan."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    admitted_on = models.DateField()
    # The assessment whose decided level the patient was admitted to, when there was one.
    intake_assessment = models.ForeignKey(
        "patients.IntakeAssessment", on_delete=models.PROTECT, null=True, blank=True, related_name="episodes"
    )
    discharged_on = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=24, choices=DischargeReason.choices, blank=True)
    # Aftercare plan, written at discharge.
    follow_up_appointments = models.TextField(blank=True)
    community_resources = models.TextField(blank=True)
    relapse_prevention_plan = models.TextField(blank=True)
    safety_plan = models.TextField(blank=True, help_text="Always includes the 988 Suicide & Crisis Lifeline.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-admitted_on"]
        constraints = [
            # A patient is in at most one episode of care at a time.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(discharged_on__isnull=True), name="episode_one_open_per_patient"
            ),
            models.CheckConstraint(
                name="episode_discharge_after_admission",
                condition=Q(discharged_on__isnull=True) | Q(discharged_on__gte=models.F("admitted_on")),
                violation_error_message="A discharge cannot come before the admission.",
            ),
            models.CheckConstraint(
                name="episode_discharge_has_reason",
                condition=Q(discharged_on__isnull=True) | ~Q(discharge_reason=""),
                violation_error_message="A discharge needs its reason.",
            ),
        ]


class TransitionKind(models.TextChoices):
    ADMISSION = "admission", "Admission"
    STEP_DOWN = "step_down", "Step down"
    STEP_UP = "step_up", "Step up"
    TRANSFER_OUT = "transfer_out", "Transfer out"


class DateRange(models.Func):
    function = "daterange"
    output_field = DateRangeField()


class LevelOfCareStay(PublicModel):
    """A stretch of an episode at one level of care: [started_on, ended_on)."""

    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="stays")
    level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, related_name="+")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="First day no longer at this level.")
    kind = models.CharField(max_length=16, choices=TransitionKind.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["started_on", "id"]
        constraints = [
            # Stays of one episode never overlap, even when two requests race (DESIGN.md flow 2):
            # the database refuses, whatever the application checked before.
            ExclusionConstraint(
                name="stay_no_overlap_in_episode",
                expressions=[
                    ("episode", RangeOperators.EQUAL),
                    (DateRange("started_on", "ended_on", models.Value("[)")), RangeOperators.OVERLAPS),
                ],
                violation_error_message="This stay would overlap another stay of the same episode.",
            ),
            models.UniqueConstraint(fields=["episode"], condition=Q(ended_on__isnull=True), name="stay_one_open"),
            models.CheckConstraint(
                name="stay_ends_after_start",
                condition=Q(ended_on__isnull=True) | Q(ended_on__gt=models.F("started_on")),
                violation_error_message="A stay must last at least a day.",
            ),
        ]


class ConsentRecipientType(models.TextChoices):
    FAMILY_MEMBER = "family_member", "Family member"
    OUTSIDE_THERAPIST = "outside_therapist", "Outside therapist"
    OUTSIDE_PRESCRIBER = "outside_prescriber", "Outside prescriber"
    PAYER = "payer", "Payer"
    OTHER_PROVIDER = "other_provider", "Other provider"
    TPO = "tpo", "Treatment, payment and operations (single consent)"


class DisclosureInformation(models.TextChoices):
    ATTENDANCE = "attendance", "Attendance and participation"
    DIAGNOSIS = "diagnosis", "Diagnosis"
    MEDICATIONS = "medications", "Medications and taper plan"
    TREATMENT_PLAN = "treatment_plan", "Treatment plan and progress"
    TOXICOLOGY = "toxicology", "Toxicology results"
    DISCHARGE_SUMMARY = "discharge_summary", "Discharge summary"
    BILLING = "billing", "Billing and coverage information"


class DisclosurePurpose(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    PAYMENT = "payment", "Payment"
    OPERATIONS = "operations", "Health care operations"
    CARE_COORDINATION = "care_coordination", "Coordination of care"
    FAMILY_INVOLVEMENT = "family_involvement", "Family involvement in treatment"
    PATIENT_REQUEST = "patient_request", "At the request of the patient"


class SignatureMethod(models.TextChoices):
    ELECTRONIC = "electronic", "Electronic"
    WET = "wet", "Wet ink"
    VERBAL_WITNESSED = "verbal_witnessed", "Verbal, witnessed"


class Consent(PublicModel):
    """A 42 CFR Part 2 consent (§ 2.31): who may receive what, why, and until when."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    recipient_type = models.CharField(max_length=24, choices=ConsentRecipientType.choices)
    recipient_name = models.CharField(
        max_length=200, help_text="The named person or organisation; for a TPO consent, the class of recipients."
    )
    information = ArrayField(models.CharField(max_length=24, choices=DisclosureInformation.choices))
    amount_and_kind = models.TextField(help_text="The information, described specifically and meaningfully.")
    purposes = ArrayField(models.CharField(max_length=24, choices=DisclosurePurpose.choices))
    effective_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(max_length=200, blank=True, help_text='e.g. "end of treatment"')
    signed_at = models.DateTimeField()
    signature_method = models.CharField(max_length=20, choices=SignatureMethod.choices)
    witness_name = models.CharField(max_length=200, blank=True)
    right_to_revoke_statement = models.TextField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-effective_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="consent_has_expiry",
                condition=Q(expires_on__isnull=False) | ~Q(expiry_event=""),
                violation_error_message="A consent needs an expiry date or an expiry event (42 CFR 2.31(a)).",
            ),
            models.CheckConstraint(
                name="consent_expires_after_effective",
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("effective_on")),
                violation_error_message="A consent cannot expire before it takes effect.",
            ),
            models.CheckConstraint(
                name="consent_verbal_needs_witness",
                condition=~Q(signature_method="verbal_witnessed", witness_name=""),
                violation_error_message="A verbal consent needs the witness's name.",
            ),
        ]


class Disclosure(PublicModel):
    """Something that left the clinic about a patient, under the consent that allowed it."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="disclosures")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="disclosures")
    recipient_type = models.CharField(max_length=24, choices=ConsentRecipientType.choices)
    recipient_name = models.CharField(max_length=200)
    information = ArrayField(models.CharField(max_length=24, choices=DisclosureInformation.choices))
    purpose = models.CharField(max_length=24, choices=DisclosurePurpose.choices)
    description = models.TextField(help_text="A brief description of what was disclosed (HIPAA 164.528(b)(2)).")
    disclosed_at = models.DateTimeField()
    disclosed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    redisclosure_notice = models.TextField()

    class Meta:
        ordering = ["-disclosed_at"]
        indexes = [
            # The accounting of disclosures: one patient, most recent first, 3 years back.
            models.Index(fields=["patient", "disclosed_at"], name="disclosure_patient_time"),
        ]


class ReferralSource(models.TextChoices):
    SELF = "self", "Self"
    FAMILY = "family", "Family"
    PHYSICIAN = "physician", "Physician"
    HOSPITAL = "hospital", "Hospital"
    COURT = "court", "Court"
    OTHER = "other", "Other"


class ReferralStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    CONVERTED = "converted", "Converted to a patient"
    DECLINED = "declined", "Declined"
    CLOSED = "closed", "Closed, no contact"


class Referral(PublicModel):
    """Someone referred to the program, before they are a patient. Holds just enough to
    reach them and to make the patient record without retyping."""

    source = models.CharField(max_length=16, choices=ReferralSource.choices)
    referrer_name = models.CharField(max_length=200, blank=True)
    referrer_phone = PhoneNumberField(blank=True)
    received_at = models.DateTimeField()
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals_owned"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    time_zone = TimeZoneField(default="America/New_York")
    converted_patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="referral"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The desk's queue: open referrals, oldest first.
            models.Index(fields=["status", "received_at"], name="referral_queue"),
        ]
        constraints = [
            models.CheckConstraint(
                name="referral_converted_has_patient",
                condition=Q(status="converted", converted_patient__isnull=False)
                | (~Q(status="converted") & Q(converted_patient__isnull=True)),
                violation_error_message="A converted referral names its patient, and only a converted one does.",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral {self.public_id}"


class MeasureInstrument(models.TextChoices):
    # The codes of patients.measures.INSTRUMENTS.
    PHQ9 = "phq9", "PHQ-9"
    GAD7 = "gad7", "GAD-7"
    AUDIT_C = "audit_c", "AUDIT-C"


class MeasureResponse(PublicModel):
    """One administration of a screening measure (PHQ-9, GAD-7, AUDIT-C): the item answers
    as given, and the total, band and flags computed by patients.measures when recorded."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measures")
    instrument = models.CharField(max_length=16, choices=MeasureInstrument.choices)
    answers = models.JSONField()
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=24)
    flags = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    administered_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["administered_on", "id"]
        indexes = [
            # The trend: one patient's answers to one instrument, in date order.
            models.Index(fields=["patient", "instrument", "administered_on"], name="measure_trend"),
        ]


# Kept in their own module for size; imported here so Django finds them.
from patients.models.intake import (  # noqa: E402, F401
    BenzodiazepineSource,
    CoOccurringCondition,
    HomeStability,
    IntakeAssessment,
    IntakeBenzodiazepine,
    IntakePrescriber,
    IntakeSubstance,
    PlacementDecision,
    Pregnancy,
    Substance,
    SupportLevel,
    UseFrequency,
)
