from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduling import selectors
from scheduling.hours import band_status
from scheduling.models import (
    SENDING_CHANNELS,
    Attendance,
    Booking,
    CalendarFeed,
    CancelledBy,
    GroupTrack,
    LevelChangeReview,
    Modality,
    OptOut,
    OptOutVia,
    Reminder,
    Session,
    SessionType,
    StaffTask,
    Topic,
    TrackEnrollment,
)


class AwareDateTimeField(serializers.DateTimeField):
    """A date-time with its UTC offset: "10:00" alone would be read on the server's clock,
    which is not the location's."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                # Well formed but not a time ("12:99"): DRF's own parsing below refuses it with a 400.
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    "Give the time with its UTC offset, e.g. 2026-11-24T10:00:00-05:00 (or Z for UTC)."
                )
        return super().to_internal_value(value)


def join_url(session: Session) -> str | None:
    """The video link, from the session id alone (no patient data in URLs)."""
    return _join_url(session.modality, session.public_id)


def _join_url(modality: str, session_id: Any) -> str | None:
    template = settings.VIDEO_JOIN_URL_TEMPLATE
    if modality != Modality.VIDEO or not template:
        return None
    return str(template.format(session_id=session_id))


class SessionTypeOutputSerializer(serializers.ModelSerializer[SessionType]):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = SessionType
        fields = ["id", "code", "name", "is_group", "default_duration_minutes", "counts_toward_program_hours"]
        fields += ["lead_roles", "is_active"]


class StaffBriefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="user.staff_profile.public_id", read_only=True, allow_null=True)
    name = serializers.CharField(source="user.get_full_name", read_only=True)


class SessionOutputSerializer(serializers.ModelSerializer[Session]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    session_type = serializers.CharField(source="session_type.code", read_only=True)
    track = serializers.UUIDField(source="track.public_id", read_only=True, allow_null=True)
    location = serializers.UUIDField(source="location.public_id", read_only=True)
    room = serializers.UUIDField(source="room.public_id", read_only=True, allow_null=True)
    room_name = serializers.CharField(source="room.name", read_only=True, allow_null=True)
    staff = StaffBriefSerializer(many=True, read_only=True)
    booked = serializers.SerializerMethodField()
    join_url = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = ["id", "session_type", "track", "location", "room", "room_name", "starts_at", "ends_at"]
        fields += ["capacity", "booked", "modality", "topic", "status", "cancel_reason", "staff", "join_url"]

    def get_booked(self, session: Session) -> int:
        # Annotated by selectors.session_list.
        return int(getattr(session, "booked_count", 0))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_join_url(self, session: Session) -> str | None:
        return join_url(session)


_DATETIME = serializers.DateTimeField()


def session_output_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """SessionOutputSerializer's output for a row of `selectors.session_rows` (the list reads
    its page in one statement; a single session still goes through the serializer)."""
    (id_, session_type, track, location, room, room_name, starts_at, ends_at, capacity, booked) = row[:10]
    (modality, topic, status, cancel_reason, staff) = row[10:]
    return {
        "id": id_,
        "session_type": session_type,
        "track": track,
        "location": location,
        "room": room,
        "room_name": room_name,
        "starts_at": _DATETIME.to_representation(starts_at),
        "ends_at": _DATETIME.to_representation(ends_at),
        "capacity": capacity,
        "booked": booked,
        "modality": modality,
        "topic": topic,
        "status": status,
        "cancel_reason": cancel_reason,
        "staff": staff,
        "join_url": _join_url(modality, id_),
    }


class FamilyParticipantOutputSerializer(serializers.Serializer[Any]):
    contact = serializers.UUIDField(source="contact.public_id", read_only=True)
    name = serializers.CharField(source="contact.name", read_only=True)
    consent = serializers.UUIDField(source="consent.public_id", read_only=True)


class BookingOutputSerializer(serializers.ModelSerializer[Booking]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    patient_name = serializers.SerializerMethodField()
    session = serializers.UUIDField(source="session.public_id", read_only=True)
    session_type = serializers.CharField(source="session.session_type.code", read_only=True)
    session_status = serializers.CharField(source="session.status", read_only=True)
    modality = serializers.CharField(source="session.modality", read_only=True)
    room_name = serializers.CharField(source="session.room.name", read_only=True, allow_null=True)
    join_url = serializers.SerializerMethodField()
    family_participants = FamilyParticipantOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Booking
        fields = ["id", "patient", "patient_name", "session", "session_type", "session_status", "modality"]
        fields += ["room_name", "join_url", "starts_at", "ends_at", "status", "cancelled_by", "cancelled_at"]
        fields += ["late_cancellation", "attendance", "minutes_late", "minutes_attended", "confirmed_at"]
        fields += ["family_participants"]

    def get_patient_name(self, booking: Booking) -> str:
        return booking.patient.display_name

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_join_url(self, booking: Booking) -> str | None:
        return join_url(booking.session)


class AppointmentCreateInputSerializer(serializers.Serializer[Any]):
    session_type = serializers.SlugRelatedField(slug_field="code", queryset=SessionType.objects.filter(is_active=True))
    patient = serializers.UUIDField()
    staff = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=4, help_text="Staff ids.")
    location = serializers.UUIDField()
    room = serializers.UUIDField(required=False, allow_null=True, default=None)
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="Default: the type's length.")
    modality = serializers.ChoiceField(choices=Modality.choices, default=Modality.IN_PERSON)
    family_contacts = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=10, help_text="Patient contact ids."
    )


class RescheduleInputSerializer(serializers.Serializer[Any]):
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="Default: same length.")


class SessionCancelInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=200)


class BookingCreateInputSerializer(serializers.Serializer[Any]):
    session = serializers.UUIDField()
    patient = serializers.UUIDField()


class BookingCancelInputSerializer(serializers.Serializer[Any]):
    cancelled_by = serializers.ChoiceField(choices=CancelledBy.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class AttendanceInputSerializer(serializers.Serializer[Any]):
    attendance = serializers.ChoiceField(choices=Attendance.choices)
    minutes_late = serializers.IntegerField(min_value=1, max_value=1440, required=False, allow_null=True, default=None)
    minutes_attended = serializers.IntegerField(
        min_value=0, max_value=1440, required=False, allow_null=True, default=None
    )


class GroupTrackOutputSerializer(serializers.ModelSerializer[GroupTrack]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    level = serializers.CharField(source="level.code", read_only=True)
    location = serializers.UUIDField(source="location.public_id", read_only=True)
    session_type = serializers.CharField(source="session_type.code", read_only=True)
    room = serializers.UUIDField(source="room.public_id", read_only=True, allow_null=True)
    facilitators = serializers.SerializerMethodField()
    time_zone = serializers.CharField(source="location.time_zone", read_only=True)

    class Meta:
        model = GroupTrack
        fields = ["id", "name", "level", "location", "time_zone", "session_type", "room", "facilitators"]
        fields += ["capacity", "rrule", "starts_on", "ends_on", "start_time", "duration_minutes", "topics", "is_active"]

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField(allow_null=True)))
    def get_facilitators(self, track: GroupTrack) -> list[str | None]:
        return [
            str(user.staff_profile.public_id) if hasattr(user, "staff_profile") else None
            for user in track.facilitators.all()
        ]


class GroupTrackInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    level = serializers.SlugField()
    location = serializers.UUIDField()
    session_type = serializers.SlugField(default="group_therapy")
    room = serializers.UUIDField(required=False, allow_null=True, default=None, help_text="Empty for telehealth.")
    facilitators = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=6)
    capacity = serializers.IntegerField(min_value=1, max_value=100)
    rrule = serializers.CharField(max_length=500, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE,TH")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)
    start_time = serializers.TimeField()
    duration_minutes = serializers.IntegerField(min_value=15, max_value=600)
    topics = serializers.ListField(child=serializers.ChoiceField(choices=Topic.choices), required=False, default=list)
    is_active = serializers.BooleanField(default=True)


class GenerationReportSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    removed = serializers.IntegerField()
    booked = serializers.IntegerField()
    skipped = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    kept = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class GroupTrackChangeOutputSerializer(serializers.Serializer[Any]):
    track = GroupTrackOutputSerializer()
    report = GenerationReportSerializer()


class EnrollmentOutputSerializer(serializers.ModelSerializer[TrackEnrollment]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    track = serializers.UUIDField(source="track.public_id", read_only=True)
    track_name = serializers.CharField(source="track.name", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)

    class Meta:
        model = TrackEnrollment
        fields = ["id", "track", "track_name", "patient", "started_on", "ended_on"]


class EnrollmentCreateInputSerializer(serializers.Serializer[Any]):
    track = serializers.UUIDField()
    patient = serializers.UUIDField()


class EnrollmentChangeOutputSerializer(serializers.Serializer[Any]):
    enrollment = EnrollmentOutputSerializer()
    report = GenerationReportSerializer(required=False)
    bookings_cancelled = serializers.IntegerField(required=False)


class LevelChangeReviewOutputSerializer(serializers.ModelSerializer[LevelChangeReview]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    from_level = serializers.CharField(source="from_level.code", read_only=True, allow_null=True)
    to_level = serializers.CharField(source="to_level.code", read_only=True, allow_null=True)
    proposed_track = serializers.UUIDField(source="proposed_track.public_id", read_only=True, allow_null=True)
    bookings_to_cancel = BookingOutputSerializer(many=True, read_only=True)

    class Meta:
        model = LevelChangeReview
        fields = ["id", "patient", "episode", "from_level", "to_level", "effective_on", "proposed_track"]
        fields += ["bookings_to_cancel", "status", "decided_at"]


class LevelChangeConfirmInputSerializer(serializers.Serializer[Any]):
    track = serializers.UUIDField(
        required=False, allow_null=True, help_text="Default: the proposed track; null for no new track."
    )


class ProgramHoursOutputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField(source="public_id")
    mrn = serializers.CharField()
    name = serializers.SerializerMethodField()
    week = serializers.SerializerMethodField()
    level = serializers.CharField(source="level_code", allow_null=True)
    min_weekly_hours = serializers.DecimalField(
        source="level_min_hours", max_digits=5, decimal_places=2, allow_null=True
    )
    max_weekly_hours = serializers.DecimalField(
        source="level_max_hours", max_digits=5, decimal_places=2, allow_null=True
    )
    scheduled_hours = serializers.SerializerMethodField()
    attended_hours = serializers.SerializerMethodField()
    projected_hours = serializers.SerializerMethodField()
    band = serializers.SerializerMethodField()

    def get_name(self, patient: Any) -> str:
        return patient.display_name

    def get_week(self, patient: Any) -> str:
        return str(self.context["week"])

    def _hours(self, minutes: float) -> float:
        return round(minutes / 60, 2)

    def get_scheduled_hours(self, patient: Any) -> float:
        return self._hours(patient.scheduled_minutes)

    def get_attended_hours(self, patient: Any) -> float:
        return self._hours(patient.attended_minutes)

    def get_projected_hours(self, patient: Any) -> float:
        return self._hours(patient.projected_minutes)

    @extend_schema_field(serializers.ChoiceField(choices=["under", "within", "over"]))
    def get_band(self, patient: Any) -> str:
        return band_status(patient.projected_minutes, patient.level_min_hours, patient.level_max_hours)


class CalendarFeedOutputSerializer(serializers.ModelSerializer[CalendarFeed]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CalendarFeed
        fields = ["id", "created_at", "revoked_at", "url"]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, feed: CalendarFeed) -> str | None:
        from scheduling.calendar import feed_url

        request = self.context.get("request")
        return feed_url(feed, request) if feed.revoked_at is None and request is not None else None


class ReminderOutputSerializer(serializers.ModelSerializer[Reminder]):
    """A reminder's state, never its text."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    booking = serializers.UUIDField(source="booking.public_id", read_only=True)

    class Meta:
        model = Reminder
        fields = ["id", "booking", "channel", "offset_minutes", "due_at", "status", "attempts", "sent_at"]
        fields += ["provider_status", "reason", "updated_at"]


class ReminderSummaryOutputSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    time_zone = serializers.CharField(help_text="The clinic's zone (TIME_ZONE); the day runs midnight to midnight.")
    sent = serializers.DictField(child=serializers.IntegerField(), help_text="Per channel: sms, email.")
    delivered = serializers.IntegerField(help_text="Of those sent that day, confirmed delivered.")
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Not sent: daily cap, or no time left inside sending hours.")
    opted_out = serializers.IntegerField()
    opted_back_in = serializers.IntegerField()
    confirmed = serializers.IntegerField(help_text="Bookings confirmed by reply.")
    reschedule_requests = serializers.IntegerField()
    replies_received = serializers.IntegerField()
    open_staff_tasks = serializers.DictField(child=serializers.IntegerField(), help_text="Per kind, now.")


class StaffTaskOutputSerializer(serializers.ModelSerializer[StaffTask]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    patient_name = serializers.CharField(source="patient.display_name", read_only=True)
    booking = serializers.UUIDField(source="booking.public_id", read_only=True, allow_null=True)
    booking_starts_at = serializers.DateTimeField(source="booking.starts_at", read_only=True, allow_null=True)
    reminder = serializers.UUIDField(source="reminder.public_id", read_only=True, allow_null=True)
    patient_wrote = serializers.CharField(source="inbound.body", read_only=True, allow_null=True)
    done_by = serializers.CharField(source="done_by.username", read_only=True, allow_null=True)

    class Meta:
        model = StaffTask
        fields = ["id", "kind", "patient", "patient_name", "booking", "booking_starts_at", "reminder"]
        fields += ["patient_wrote", "detail", "created_at", "done_at", "done_by"]


class OptOutChangeSerializer(serializers.Serializer[Any]):
    opted_out = serializers.BooleanField()
    changed_at = serializers.DateTimeField()
    changed_via = serializers.ChoiceField(choices=OptOutVia.choices)
    changed_by = serializers.CharField(source="changed_by.username", allow_null=True, default=None)


class _OptOutListSerializer(serializers.ListSerializer[OptOut]):
    def to_representation(self, data: Any) -> list[Any]:
        return super().to_representation(selectors.opt_outs_with_history(list(data)))


class OptOutOutputSerializer(serializers.ModelSerializer[OptOut]):
    """One channel's state for one patient, with every change (when, how, by whom). Serialize
    it with many=True: the list reads every row's history in one query."""

    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    changed_by = serializers.CharField(source="changed_by.username", read_only=True, allow_null=True)
    history = serializers.SerializerMethodField()

    class Meta:
        model = OptOut
        fields = ["patient", "channel", "opted_out", "changed_at", "changed_via", "changed_by", "history"]
        list_serializer_class = _OptOutListSerializer

    @extend_schema_field(OptOutChangeSerializer(many=True))
    def get_history(self, opt_out: OptOut) -> Any:
        return OptOutChangeSerializer(opt_out.changes, many=True).data  # type: ignore[attr-defined]


class OptOutInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    channel = serializers.ChoiceField(choices=SENDING_CHANNELS)
    opted_out = serializers.BooleanField(help_text="true: stop reminders on this channel; false: resume them.")
