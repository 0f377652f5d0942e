"""Who is where, when (DESIGN.md flow 3).

A Session is one sitting (a group meeting or a one-to-one appointment). Its staff and its
patients are rows of their own (SessionStaff, Booking) that carry the session's time range,
so that PostgreSQL exclusion constraints can refuse a person or a room in two places at
once, even when two requests race. The copies of the time range are written only by
scheduling.services, in the same transaction as the session's own.
"""

from __future__ import annotations

import uuid
from datetime import time

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from clinic.models import PublicModel
from patients.models import Patient, ReminderChannel
from scheduling import reminder_content

# Reminder wording: neutral (no program, drug, diagnosis or "recovery": clinical.md § 6.5),
# under 160 characters (§ 8.2), with the sender's name and how to stop (§ 8.1).
DEFAULT_SMS_TEMPLATE = (
    "{sender}: reminder of your appointment {date} at {time}. Reply C to confirm, R to reschedule, STOP to opt out."
)
DEFAULT_EMAIL_TEMPLATE = (
    "Hello,\n\nThis is a reminder of your appointment on {date} at {time}.\n\nTo change it, call {phone}.\n\n{sender}"
)


class TimeRange(models.Func):
    function = "tstzrange"
    output_field = DateTimeRangeField()


def _time_range() -> TimeRange:
    # [starts_at, ends_at): back-to-back sessions (10:00-11:00, 11:00-12:00) do not overlap.
    return TimeRange("starts_at", "ends_at", models.Value("[)"))


class SessionType(PublicModel):
    """Reference data, seeded by scheduling.session_types and editable in the admin."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    is_group = models.BooleanField()
    default_duration_minutes = models.PositiveSmallIntegerField()
    counts_toward_program_hours = models.BooleanField(
        help_text="Clinical time that counts toward the level's weekly hours (ASAM bands)."
    )
    lead_roles = ArrayField(models.CharField(max_length=24), help_text="Staff roles that may lead this session.")
    sends_reminders = models.BooleanField(default=True, help_text="Patients get reminders of these sessions.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Topic(models.TextChoices):
    CBT_ANXIETY_PANIC = "cbt_anxiety_panic", "CBT for anxiety and panic"
    DBT_SKILLS = "dbt_skills", "DBT skills"
    RELAPSE_PREVENTION = "relapse_prevention", "Relapse prevention"
    CBT_I = "cbt_i", "CBT for insomnia (CBT-I)"
    FAMILY_EDUCATION = "family_education", "Family education"
    ART_THERAPY = "art_therapy", "Art therapy"
    PEER_SUPPORT = "peer_support", "Peer support"


class GroupTrack(PublicModel):
    """A recurring group program, e.g. "IOP morning skills, Mon/Wed/Thu 09:00-12:00"."""

    name = models.CharField(max_length=200)
    level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, related_name="tracks")
    location = models.ForeignKey("clinic.Location", on_delete=models.PROTECT, related_name="tracks")
    session_type = models.ForeignKey(SessionType, on_delete=models.PROTECT, related_name="tracks")
    room = models.ForeignKey(
        "clinic.Room",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tracks",
        help_text="Empty for telehealth.",
    )
    facilitators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="facilitated_tracks")
    capacity = models.PositiveSmallIntegerField()
    # RFC 5545 RRULE, without DTSTART: the first day and the wall-clock start come from
    # starts_on and start_time, in the location's time zone.
    rrule = models.CharField("RRULE", max_length=500, help_text="e.g. FREQ=WEEKLY;BYDAY=MO,WE,TH")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    start_time = models.TimeField(help_text="Wall-clock time in the location's time zone.")
    duration_minutes = models.PositiveSmallIntegerField()
    topics = ArrayField(models.CharField(max_length=24, choices=Topic.choices), default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["level__sort_order", "name"]
        constraints = [
            models.CheckConstraint(name="track_capacity_positive", condition=Q(capacity__gte=1)),
            models.CheckConstraint(name="track_duration_positive", condition=Q(duration_minutes__gte=1)),
            models.CheckConstraint(
                name="track_ends_after_start",
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                violation_error_message="A track cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Modality(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"
    PHONE = "phone", "Phone"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class Session(PublicModel):
    session_type = models.ForeignKey(SessionType, on_delete=models.PROTECT, related_name="sessions")
    track = models.ForeignKey(GroupTrack, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    location = models.ForeignKey("clinic.Location", on_delete=models.PROTECT, related_name="sessions")
    room = models.ForeignKey("clinic.Room", on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    # Copied from the room (a physical one) for the exclusion constraint, which cannot join.
    room_is_exclusive = models.BooleanField(default=False, editable=False)
    # For a track's session: the occurrence of the rule it was generated for.
    occurrence_at = models.DateTimeField(null=True, blank=True, editable=False)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity = models.PositiveSmallIntegerField(default=1)
    modality = models.CharField(max_length=16, choices=Modality.choices, default=Modality.IN_PERSON)
    topic = models.CharField(max_length=24, choices=Topic.choices, blank=True)
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            # Day and week views: sessions by time, per location.
            models.Index(fields=["location", "starts_at"], name="session_location_time"),
            models.Index(fields=["starts_at"], name="session_time"),
        ]
        constraints = [
            models.CheckConstraint(
                name="session_ends_after_start",
                condition=Q(ends_at__gt=models.F("starts_at")),
                violation_error_message="A session must end after it starts.",
            ),
            models.CheckConstraint(name="session_capacity_positive", condition=Q(capacity__gte=1)),
            # Track generation is idempotent: one live session per occurrence of the rule
            # (a rescheduled one still stands for its occurrence).
            models.UniqueConstraint(
                fields=["track", "occurrence_at"],
                condition=Q(status="scheduled"),
                name="session_one_per_track_occurrence",
            ),
            # A room holds one session at a time (DESIGN.md flow 3); a telehealth "room"
            # is not a space and holds any number.
            ExclusionConstraint(
                name="session_room_no_overlap",
                expressions=[("room", RangeOperators.EQUAL), (_time_range(), RangeOperators.OVERLAPS)],
                condition=Q(status="scheduled", room_is_exclusive=True),
                violation_error_message="The room is already in use at that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_type} {self.starts_at:%Y-%m-%d %H:%M}"


class SessionStaff(models.Model):
    """A staff member leading a session. Active rows of one person never overlap in time."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="session_staff")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_active = models.BooleanField(default=True, help_text="False once the session is cancelled.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="session_staff_once"),
            ExclusionConstraint(
                name="staff_no_overlap",
                expressions=[("user", RangeOperators.EQUAL), (_time_range(), RangeOperators.OVERLAPS)],
                condition=Q(is_active=True),
                violation_error_message="A staff member is already in another session at that time.",
            ),
        ]
        indexes = [
            # A clinician's calendar: their sessions by time.
            models.Index(fields=["user", "starts_at"], name="session_staff_user_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.session}"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class CancelledBy(models.TextChoices):
    CLINIC = "clinic", "Clinic"
    PATIENT = "patient", "Patient"
    NO_SHOW = "no_show", "No-show"


class Attendance(models.TextChoices):
    PRESENT = "present", "Present"
    LATE = "late", "Late"
    LEFT_EARLY = "left_early", "Left early"
    ABSENT = "absent", "Absent"
    EXCUSED = "excused", "Excused"


class Booking(PublicModel):
    """A patient's place in a session, and their attendance at it."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="bookings")
    enrollment = models.ForeignKey(
        "scheduling.TrackEnrollment", on_delete=models.PROTECT, null=True, blank=True, related_name="bookings"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.BOOKED)
    cancelled_by = models.CharField(max_length=16, choices=CancelledBy.choices, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    late_cancellation = models.BooleanField(default=False)
    attendance = models.CharField(max_length=16, choices=Attendance.choices, blank=True)
    minutes_late = models.PositiveSmallIntegerField(null=True, blank=True)
    minutes_attended = models.PositiveSmallIntegerField(null=True, blank=True)
    attendance_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attendance_recorded_at = models.DateTimeField(null=True, blank=True)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The patient replied C to a reminder.
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            # A patient is in one session at a time (DESIGN.md flow 3).
            ExclusionConstraint(
                name="booking_patient_no_overlap",
                expressions=[("patient", RangeOperators.EQUAL), (_time_range(), RangeOperators.OVERLAPS)],
                condition=Q(status="booked"),
                violation_error_message="The patient is already booked into another session at that time.",
            ),
            models.CheckConstraint(
                name="booking_cancel_complete",
                condition=Q(status="booked", cancelled_by="", cancelled_at__isnull=True)
                | (Q(status="cancelled", cancelled_at__isnull=False) & ~Q(cancelled_by="")),
                violation_error_message="A cancelled booking says who cancelled and when.",
            ),
            models.CheckConstraint(
                name="booking_late_minutes_only_when_late",
                condition=Q(minutes_late__isnull=True) | Q(attendance="late"),
                violation_error_message="Minutes late go with attendance 'late'.",
            ),
        ]
        indexes = [
            # A patient's schedule and weekly program hours: bookings by time.
            models.Index(fields=["patient", "starts_at"], name="booking_patient_time"),
            # Rosters and capacity: a session's live bookings.
            models.Index(fields=["session"], condition=Q(status="booked"), name="booking_session_live"),
        ]


class FamilyParticipant(models.Model):
    """A family member or support person taking part in a family session, under the consent
    that allows it (42 CFR Part 2)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="family_participants")
    contact = models.ForeignKey("patients.PatientContact", on_delete=models.PROTECT, related_name="+")
    consent = models.ForeignKey("patients.Consent", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["booking", "contact"], name="family_participant_once")]

    def __str__(self) -> str:
        return f"{self.contact.get_relationship_display()} in {self.booking.session}"


class TrackEnrollment(PublicModel):
    track = models.ForeignKey(GroupTrack, on_delete=models.PROTECT, related_name="enrollments")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="track_enrollments")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-started_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["track", "patient"], condition=Q(ended_on__isnull=True), name="enrollment_one_open"
            ),
        ]


class LevelChangeReviewStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a clinician"
    CONFIRMED = "confirmed", "Confirmed"
    DISMISSED = "dismissed", "Dismissed"


class LevelChangeReview(PublicModel):
    """What a level-of-care change means for the schedule, proposed when the change happens
    (patients.signals.level_of_care_changed) and applied only when a clinician confirms."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="level_change_reviews")
    episode = models.ForeignKey("patients.EpisodeOfCare", on_delete=models.PROTECT, related_name="+")
    from_level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, null=True, related_name="+")
    to_level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, null=True, related_name="+")
    effective_on = models.DateField()
    proposed_track = models.ForeignKey(GroupTrack, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    bookings_to_cancel = models.ManyToManyField(Booking, related_name="+", blank=True)
    status = models.CharField(
        max_length=16, choices=LevelChangeReviewStatus.choices, default=LevelChangeReviewStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class CalendarFeed(PublicModel):
    """A clinician's iCalendar feed. The URL carries a signed token naming this row;
    revoking the row kills the URL. The feed shows patient initials only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_feeds")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class WeeklyHours(Patient):
    """The admin's list of patients' program hours this week (a view onto patients)."""

    class Meta:
        proxy = True
        verbose_name = "program hours this week"
        verbose_name_plural = "program hours this week"


# --- Reminders (DESIGN.md flow 4) -----------------------------------------------------------


def _default_offsets() -> list[int]:
    return [24 * 60, 2 * 60]


class ReminderPolicy(models.Model):
    """The one reminder policy of the deployment (admin-editable; `ReminderPolicy.current()`)."""

    offsets_minutes = ArrayField(
        models.PositiveIntegerField(),
        default=_default_offsets,
        help_text="Minutes before the session a reminder goes out, e.g. 1440, 120 (24 h and 2 h).",
    )
    # 8 a.m. to 9 p.m. in the recipient's zone: 47 CFR § 64.1200(c)(1), the design norm for
    # reminders (clinical.md § 8.3).
    window_start = models.TimeField(default=time(8, 0), help_text="Earliest local time a reminder may go out.")
    window_end = models.TimeField(default=time(21, 0), help_text="Reminders go out before this local time.")
    # One a day per patient mirrors the FCC 2015 healthcare exemption's cap (clinical.md § 8.2).
    max_per_day = models.PositiveSmallIntegerField(
        default=1, help_text="Reminders a patient receives per local day, all channels together."
    )
    sender_name = models.CharField(
        max_length=40, default="Appointments", help_text="Neutral: it shows on the lock screen."
    )
    help_phone = models.CharField(
        max_length=32, blank=True, help_text="The phone number a HELP reply gives (the front desk)."
    )
    sms_template = models.TextField(default=DEFAULT_SMS_TEMPLATE)
    email_subject = models.CharField(max_length=120, default="Appointment reminder")
    email_template = models.TextField(default=DEFAULT_EMAIL_TEMPLATE)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "reminder policy"
        constraints = [
            models.CheckConstraint(name="reminder_policy_singleton", condition=Q(id=1)),
            models.CheckConstraint(
                name="reminder_policy_window_order",
                condition=Q(window_start__lt=models.F("window_end")),
                violation_error_message="The sending window must start before it ends.",
            ),
        ]

    def __str__(self) -> str:
        return "Reminder policy"

    def clean(self) -> None:
        """Refuse wording that would reveal the kind of care or show patient data, a text
        longer than one SMS, and offsets that repeat."""
        extra = settings.REMINDER_EXTRA_REVEALING_WORDS
        errors: dict[str, list[str]] = {}
        for name in ("sms_template", "email_subject", "email_template", "sender_name"):
            problems = reminder_content.template_problems(getattr(self, name) or "", extra_words=extra)
            if problems:
                errors[name] = problems
        if "sms_template" not in errors and "sender_name" not in errors:
            longest = reminder_content.render(
                self.sms_template,
                {**reminder_content.LONGEST_VALUES, "sender": self.sender_name, "phone": self.help_phone},
            )
            if len(longest) > reminder_content.SMS_MAX_CHARACTERS:
                errors["sms_template"] = [
                    f"With the longest date and time this text is {len(longest)} characters; keep it to "
                    f"{reminder_content.SMS_MAX_CHARACTERS} (one text message)."
                ]
        if len(set(self.offsets_minutes or [])) != len(self.offsets_minutes or []):
            errors["offsets_minutes"] = ["Each offset once."]
        if errors:
            raise ValidationError(errors)

    @classmethod
    def current(cls) -> ReminderPolicy:
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


# The channels a reminder goes by: the patient's own choices (patients.ReminderChannel)
# without "none".
SENDING_CHANNELS = [(c.value, c.label) for c in (ReminderChannel.SMS, ReminderChannel.EMAIL)]


class OptOutVia(models.TextChoices):
    SMS_REPLY = "sms_reply", "Text reply"
    STAFF = "staff", "Staff"
    PROVIDER = "provider", "SMS provider (unsubscribed there)"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Waiting for its time"
    CLAIMED = "claimed", "Being sent"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Not sent"


class Reminder(models.Model):
    """One reminder of one booking on one channel: the outbox row. Written, moved and
    cancelled with its booking in the same transaction; claimed by the dispatcher with
    SKIP LOCKED; sent under a row lock by the send task."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="reminders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reminders")
    channel = models.CharField(max_length=8, choices=SENDING_CHANNELS)
    offset_minutes = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The backend deduplicates on it: one row, one message, however often it is retried.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider_message_id = models.CharField(max_length=64, blank=True)
    provider_status = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Why it failed, was skipped or cancelled, in words staff can act on (never the text sent).
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "offset_minutes", "channel"], name="reminder_once_per_offset"),
        ]
        indexes = [
            # The dispatcher's work grows with the reminders due, not with every reminder ever made.
            models.Index(fields=["due_at"], name="reminder_pending_due", condition=Q(status="pending")),
            models.Index(fields=["claimed_at"], name="reminder_claimed", condition=Q(status="claimed")),
            models.Index(fields=["patient", "sent_at"], name="reminder_patient_sent"),
            models.Index(
                fields=["provider_message_id"], name="reminder_provider_id", condition=~Q(provider_message_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} reminder {self.offset_minutes} min before"


class OptOut(models.Model):
    """A patient's opt-out of one channel (STOP by text, or recorded by staff). Its history
    says when and how it changed."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="opt_outs")
    channel = models.CharField(max_length=8, choices=SENDING_CHANNELS)
    opted_out = models.BooleanField(default=True)
    changed_at = models.DateTimeField()
    changed_via = models.CharField(max_length=16, choices=OptOutVia.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "channel"], name="opt_out_once_per_channel")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {'opted out' if self.opted_out else 'receiving'}"


class StaffTaskKind(models.TextChoices):
    REMINDER_FAILED = "reminder_failed", "Reminder failed"
    RESCHEDULE_REQUEST = "reschedule_request", "Patient asked to reschedule"
    REPLY_TO_READ = "reply_to_read", "Patient reply to read"


class StaffTask(PublicModel):
    """Something the front desk must do: a reminder that could not go, a patient who asked
    for a call, a reply the system did not understand."""

    kind = models.CharField(max_length=24, choices=StaffTaskKind.choices)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="staff_tasks")
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reminder = models.ForeignKey(Reminder, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    inbound = models.ForeignKey(
        "scheduling.InboundMessage", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=300, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["created_at"], name="staff_task_open", condition=Q(done_at__isnull=True))]

    def __str__(self) -> str:
        return self.get_kind_display()


class InboundMessage(models.Model):
    """A text a patient (or anyone) sent to the clinic's number. Kept whole for staff; an
    unknown number's text is kept and answered with nothing."""

    provider_message_id = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=32)
    body = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=24, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Text received {self.received_at:%Y-%m-%d %H:%M}"
