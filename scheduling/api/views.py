from collections.abc import Sequence
from datetime import date
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.filters import FilterBackend
from clinic.api.permissions import HasClinicRole
from clinic.api.viewsets import AuditedListMixin, AuditedRetrieveMixin, ReadOnlyViewSet
from clinic.audit import audit_objects
from clinic.errors import ApplicationError, NotFound
from clinic.models import AuditAction, LevelOfCare, Location, Room
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import DEMOGRAPHICS_FOR_ALL, visible_patient, visible_patients
from patients.api.base import PatientScopedViewSet
from patients.models import Patient, PatientContact
from scheduling import calendar, selectors
from scheduling.api.filters import BookingFilter, OptOutFilter, SessionFilter, StaffTaskFilter
from scheduling.api.serializers import (
    AppointmentCreateInputSerializer,
    AttendanceInputSerializer,
    BookingCancelInputSerializer,
    BookingCreateInputSerializer,
    BookingOutputSerializer,
    CalendarFeedOutputSerializer,
    EnrollmentChangeOutputSerializer,
    EnrollmentCreateInputSerializer,
    EnrollmentOutputSerializer,
    GroupTrackChangeOutputSerializer,
    GroupTrackInputSerializer,
    GroupTrackOutputSerializer,
    LevelChangeConfirmInputSerializer,
    LevelChangeReviewOutputSerializer,
    OptOutInputSerializer,
    OptOutOutputSerializer,
    ProgramHoursOutputSerializer,
    ReminderOutputSerializer,
    ReminderSummaryOutputSerializer,
    RescheduleInputSerializer,
    SessionCancelInputSerializer,
    SessionOutputSerializer,
    SessionTypeOutputSerializer,
    StaffTaskOutputSerializer,
    session_output_from_row,
)
from scheduling.hours import Week
from scheduling.models import (
    Booking,
    CalendarFeed,
    GroupTrack,
    LevelChangeReview,
    OptOut,
    OptOutVia,
    Session,
    SessionType,
    StaffTask,
    TrackEnrollment,
)
from scheduling.services import SCHEDULERS, appointments, bookings, reminders, reviews, tracks


def _one(queryset: QuerySet[Any], public_id: UUID | None, field: str, what: str) -> Any:
    """The row with that id, or a 400 naming the field (an unknown id in a body is bad input)."""
    if public_id is None:
        return None
    row = queryset.filter(public_id=public_id).first()
    if row is None:
        raise ApplicationError(f"No {what} has that id.", extra={"fields": {field: [f"Unknown {what} id."]}})
    return row


def _staff(ids: list[UUID], field: str) -> list[Any]:
    users = list(
        get_user_model()
        .objects.filter(staff_profile__public_id__in=ids, is_active=True)
        .prefetch_related("groups")
        .select_related("staff_profile")
    )
    if len(users) != len(set(ids)):
        raise ApplicationError(
            "One of the staff ids is unknown or inactive.", extra={"fields": {field: ["Unknown staff id."]}}
        )
    return users


class SessionTypeViewSet(ReadOnlyViewSet):
    serializer_class = SessionTypeOutputSerializer
    queryset = SessionType.objects.all()
    pagination_class = None


class GroupTrackViewSet(ReadOnlyViewSet):
    """Group tracks. Any staff role reads them; clinic administrators set them up and change
    them (changing one regenerates the future sessions nobody is booked into)."""

    serializer_class = GroupTrackOutputSerializer
    queryset = GroupTrack.objects.select_related("level", "location", "session_type", "room").prefetch_related(
        "facilitators__staff_profile"
    )
    filterset_fields = {"level__code": ["exact"], "location__public_id": ["exact"], "is_active": ["exact"]}

    def _fields(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = dict(data)
        fields["level"] = LevelOfCare.objects.filter(code=fields["level"], is_active=True).first()
        if fields["level"] is None:
            raise ApplicationError("No level of care has that code.", extra={"fields": {"level": ["Unknown level."]}})
        fields["session_type"] = SessionType.objects.filter(code=fields["session_type"]).first()
        if fields["session_type"] is None:
            raise ApplicationError("No session type has that code.", extra={"fields": {"session_type": ["Unknown."]}})
        fields["location"] = _one(Location.objects.all(), fields["location"], "location", "location")
        fields["room"] = _one(Room.objects.all(), fields["room"], "room", "room")
        fields["facilitators"] = _staff(fields["facilitators"], "facilitators")
        return fields

    def _changed(self, track: GroupTrack, report: tracks.GenerationReport, code: int) -> Response:
        track = self.get_queryset().get(pk=track.pk)
        body = GroupTrackChangeOutputSerializer({"track": track, "report": report.__dict__}).data
        return Response(body, status=code)

    @extend_schema(request=GroupTrackInputSerializer, responses={201: GroupTrackChangeOutputSerializer})
    def create(self, request: Request) -> Response:
        """Set up a track; its sessions are generated to the horizon at once."""
        data = GroupTrackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        track, report = tracks.track_create(by=request.user, **self._fields(data.validated_data))
        return self._changed(track, report, status.HTTP_201_CREATED)

    @extend_schema(request=GroupTrackInputSerializer, responses=GroupTrackChangeOutputSerializer)
    def update(self, request: Request, id: str) -> Response:
        """Change a track. The report lists sessions regenerated, and those left alone
        because people are booked into them."""
        data = GroupTrackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        track, report = tracks.track_update(
            track=self.get_object(), by=request.user, **self._fields(data.validated_data)
        )
        return self._changed(track, report, status.HTTP_200_OK)


class SessionViewSet(ReadOnlyViewSet):
    """Sessions: times, rooms, staff and how many are booked (no patients: see the roster,
    `GET /api/v1/bookings/?session=`). `?staff=&start=&end=` is a clinician's schedule."""

    serializer_class = SessionOutputSerializer
    filterset_class = SessionFilter

    def get_queryset(self) -> QuerySet[Session]:
        return selectors.session_list()

    def list(self, request: Request) -> Response:
        filters = FilterBackend().cleaned_filters(request, Session.objects.none(), self)
        page = self.paginate_queryset(cast(Sequence[tuple[Any, ...]], selectors.session_rows(filters)))
        return self.get_paginated_response([session_output_from_row(row) for row in page or []])

    @extend_schema(request=AppointmentCreateInputSerializer, responses={201: BookingOutputSerializer})
    def create(self, request: Request) -> Response:
        """Book a one-to-one appointment (individual, psychiatry, family, intake, case
        management, nursing check): makes the session and the patient's booking."""
        data = AppointmentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        # Scheduling is front-office data too: demographics visibility, as bookings.
        patient = visible_patient(request.user, fields.pop("patient"), clinical=False)
        if patient is None:
            raise NotFound("No Patient matches the given query.")
        location = _one(Location.objects.filter(is_active=True), fields.pop("location"), "location", "location")
        contact_ids = set(fields.pop("family_contacts"))
        contacts = list(PatientContact.objects.filter(public_id__in=contact_ids, patient=patient))
        if len(contacts) != len(contact_ids):
            raise ApplicationError(
                "One of the family contacts is not this patient's contact.",
                extra={"fields": {"family_contacts": ["Unknown contact id for this patient."]}},
            )
        booking = appointments.appointment_create(
            patient=patient,
            location=location,
            room=_one(Room.objects.all(), fields.pop("room"), "room", "room"),
            staff=_staff(fields.pop("staff"), "staff"),
            family_contacts=contacts,
            by=request.user,
            request=request._request,
            **fields,
        )
        return Response(BookingOutputSerializer(selectors.booking_list().get(pk=booking.pk)).data, status=201)

    def _changeable(self) -> Session:
        """The session, if the caller may change it: the front office may; clinical staff
        when they lead it or may see every patient booked into it. Otherwise a 404, as for
        a patient they may not see."""
        session: Session = self.get_object()
        user = self.request.user
        leads = session.staff.filter(user_id=int(user.pk or 0), is_active=True).exists()
        if may_act_as(user, DEMOGRAPHICS_FOR_ALL) or leads:
            return session
        booked = Booking.objects.filter(session=session, status="booked").values("patient_id")
        hidden = booked.exclude(patient_id__in=visible_patients(user, clinical=False).values("pk"))
        if hidden.exists():
            raise NotFound("No Session matches the given query.")
        return session

    @extend_schema(request=RescheduleInputSerializer, responses=SessionOutputSerializer)
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, id: str) -> Response:
        """Move the session with its staff and patients; 409 names what clashes."""
        data = RescheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = appointments.session_reschedule(
            session=self._changeable(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(SessionOutputSerializer(self.get_queryset().get(pk=session.pk)).data)

    @extend_schema(request=SessionCancelInputSerializer, responses=SessionOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, id: str) -> Response:
        """Cancel the whole session (the clinic cancels every booking in it)."""
        data = SessionCancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = appointments.session_cancel(
            session=self._changeable(), reason=data.validated_data["reason"], by=request.user, request=request._request
        )
        return Response(SessionOutputSerializer(self.get_queryset().get(pk=session.pk)).data)


class BookingViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Bookings, with attendance. `?session=` is a session's roster, `?patient=&start=&end=`
    a patient's schedule. Scheduling is front-office data too (DESIGN.md): the desk sees
    every booking; clinical staff see their care teams' patients and the rosters of the
    sessions they lead."""

    serializer_class = BookingOutputSerializer
    clinical = False
    filterset_class = BookingFilter

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.booking_list().prefetch_related("family_participants__contact", "family_participants__consent")

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        scoped = super().scope_queryset(queryset)
        if not self.request.user.is_authenticated:  # the schema generator's fake request
            return scoped
        leads = queryset.filter(session__staff__user=self.request.user, session__staff__is_active=True)
        return queryset.filter(Q(pk__in=scoped.values("pk")) | Q(pk__in=leads.values("pk")))

    @extend_schema(request=BookingCreateInputSerializer, responses={201: BookingOutputSerializer})
    def create(self, request: Request) -> Response:
        """Book a patient into one session of a group (their track books them in already)."""
        data = BookingCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self.visible_patient(data.validated_data["patient"])
        session = _one(Session.objects.all(), data.validated_data["session"], "session", "session")
        booking = bookings.booking_create(session=session, patient=patient, by=request.user, request=request._request)
        return Response(BookingOutputSerializer(self.base_queryset().get(pk=booking.pk)).data, status=201)

    @extend_schema(request=BookingCancelInputSerializer, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, id: str) -> Response:
        """Cancel one place: by the clinic, the patient, or a no-show (after the start).
        Late when within LATE_CANCELLATION_HOURS of the start."""
        data = BookingCancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = bookings.booking_cancel(
            booking=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(BookingOutputSerializer(self.base_queryset().get(pk=booking.pk)).data)

    @extend_schema(responses=ReminderOutputSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def reminders(self, request: Request, id: str) -> Response:
        """The booking's reminders and where each stands (never the text)."""
        booking = self.get_object()
        rows = list(booking.reminders.select_related("booking", "patient").order_by("due_at", "channel"))
        self.audit(rows, AuditAction.LIST)
        return Response(ReminderOutputSerializer(rows, many=True).data)

    @extend_schema(request=AttendanceInputSerializer, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def attendance(self, request: Request, id: str) -> Response:
        """Record or correct attendance (clinical staff) once the session has started."""
        data = AttendanceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = bookings.attendance_record(
            booking=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(BookingOutputSerializer(self.base_queryset().get(pk=booking.pk)).data)


class EnrollmentViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    serializer_class = EnrollmentOutputSerializer
    clinical = False
    filterset_fields = {"patient__public_id": ["exact"], "track__public_id": ["exact"], "ended_on": ["isnull"]}

    def base_queryset(self) -> QuerySet[Any]:
        return TrackEnrollment.objects.select_related("track", "patient")

    @extend_schema(request=EnrollmentCreateInputSerializer, responses={201: EnrollmentChangeOutputSerializer})
    def create(self, request: Request) -> Response:
        """Enrol a patient in a track at their current level: books them into its future sessions."""
        data = EnrollmentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self.visible_patient(data.validated_data["patient"])
        track = _one(GroupTrack.objects.all(), data.validated_data["track"], "track", "track")
        enrollment, report = tracks.enrollment_create(
            track=track, patient=patient, by=request.user, request=request._request
        )
        body = EnrollmentChangeOutputSerializer({"enrollment": enrollment, "report": report.__dict__}).data
        return Response(body, status=201)

    @extend_schema(request=None, responses=EnrollmentChangeOutputSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, id: str) -> Response:
        """End the enrollment today and cancel its future bookings."""
        enrollment, cancelled = tracks.enrollment_end(
            enrollment=self.get_object(), by=request.user, request=request._request
        )
        return Response(
            EnrollmentChangeOutputSerializer({"enrollment": enrollment, "bookings_cancelled": cancelled}).data
        )


class LevelChangeReviewViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """What a level-of-care change means for the schedule: the proposed track at the new
    level and the old track's future bookings to cancel. Nothing changes until a clinician
    on the care team confirms."""

    serializer_class = LevelChangeReviewOutputSerializer
    filterset_fields = {"patient__public_id": ["exact"], "status": ["exact"]}

    def base_queryset(self) -> QuerySet[Any]:
        return LevelChangeReview.objects.select_related(
            "patient", "episode", "from_level", "to_level", "proposed_track"
        ).prefetch_related(
            "bookings_to_cancel__patient",
            "bookings_to_cancel__session__session_type",
            "bookings_to_cancel__session__room",
        )

    @extend_schema(request=LevelChangeConfirmInputSerializer, responses=LevelChangeReviewOutputSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, id: str) -> Response:
        data = LevelChangeConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = self.get_object()
        if "track" in data.validated_data:
            track = _one(GroupTrack.objects.all(), data.validated_data["track"], "track", "track")
        else:
            track = review.proposed_track
        review, _ = reviews.level_change_review_confirm(
            review=review, track=track, by=request.user, request=request._request
        )
        return Response(LevelChangeReviewOutputSerializer(self.base_queryset().get(pk=review.pk)).data)

    @extend_schema(request=None, responses=LevelChangeReviewOutputSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, id: str) -> Response:
        review = reviews.level_change_review_dismiss(
            review=self.get_object(), by=request.user, request=request._request
        )
        return Response(LevelChangeReviewOutputSerializer(self.base_queryset().get(pk=review.pk)).data)


WEEK_PARAMETER = OpenApiParameter("week", OpenApiTypes.STR, description="ISO week, e.g. 2026-W48; default this week.")
UNDER_PARAMETER = OpenApiParameter(
    "under_band", OpenApiTypes.BOOL, description="Only patients heading under their band."
)


class ProgramHoursViewSet(AuditedListMixin, PatientScopedViewSet):
    """Weekly clinical hours per admitted patient against their level's band (PHP >= 20,
    IOP 9-19, outpatient < 9): scheduled, attended, and projected (attended so far plus
    what is still booked)."""

    serializer_class = ProgramHoursOutputSerializer
    patient_path = ""
    clinical = False
    filterset_fields = {"public_id": ["exact"]}

    def week(self) -> Week:
        text = self.request.query_params.get("week")
        if not text:
            return Week.of(timezone.localdate())
        try:
            return Week.parse(text)
        except ValueError as error:
            raise ApplicationError(str(error), extra={"fields": {"week": [str(error)]}}) from error

    def base_queryset(self) -> QuerySet[Any]:
        under = self.request.query_params.get("under_band")
        if under not in (None, "true", "false"):
            raise ApplicationError("under_band is true or false.", extra={"fields": {"under_band": ["true or false."]}})
        pick = selectors.patients_under_band if under == "true" else selectors.program_hours_list
        return pick(Patient.objects.all(), self.week())

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "week": self.week()}

    @extend_schema(parameters=[WEEK_PARAMETER, UNDER_PARAMETER])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


class StaffTaskViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """The desk's queue: reminders that could not go, patients who asked for a call, replies
    to read. `?open=true` is what is still to do."""

    serializer_class = StaffTaskOutputSerializer
    clinical = False
    allowed_roles = SCHEDULERS
    filterset_class = StaffTaskFilter

    def base_queryset(self) -> QuerySet[Any]:
        return StaffTask.objects.select_related("patient", "booking", "reminder", "inbound", "done_by")

    @extend_schema(request=None, responses=StaffTaskOutputSerializer)
    @action(detail=True, methods=["post"])
    def done(self, request: Request, id: str) -> Response:
        """Mark the task done by you (doing it twice keeps the first)."""
        task = self.get_object()
        reminders.staff_tasks_done(StaffTask.objects.filter(pk=task.pk), by=request.user, request=request._request)
        return Response(StaffTaskOutputSerializer(self.base_queryset().get(pk=task.pk)).data)


class OptOutViewSet(AuditedListMixin, PatientScopedViewSet):
    """Which channels patients have stopped, with every change (a STOP text, staff, or the SMS
    provider's own STOP list). Staff record a patient's spoken request here."""

    serializer_class = OptOutOutputSerializer
    clinical = False
    allowed_roles = SCHEDULERS
    filterset_class = OptOutFilter

    def base_queryset(self) -> QuerySet[Any]:
        return OptOut.objects.select_related("patient", "changed_by").order_by("patient_id", "channel")

    @extend_schema(request=OptOutInputSerializer, responses={200: OptOutOutputSerializer})
    def create(self, request: Request) -> Response:
        """Stop (opted_out=true) or resume (false) a patient's reminders on one channel. Stopping
        cancels the channel's pending reminders; resuming plans the future ones again."""
        data = OptOutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self.visible_patient(data.validated_data["patient"])
        row = reminders.opt_out_set(
            patient=patient,
            channel=data.validated_data["channel"],
            opted_out=data.validated_data["opted_out"],
            via=OptOutVia.STAFF,
            by=request.user,
            request=request._request,
        )
        return Response(OptOutOutputSerializer([self.base_queryset().get(pk=row.pk)], many=True).data[0])


DATE_PARAMETER = OpenApiParameter(
    "date", OpenApiTypes.DATE, description="A day of the clinic's calendar (TIME_ZONE); default today."
)


class ReminderSummaryView(APIView):
    """The reminders' day in counts: sent, delivered, failed, skipped, opt-outs, confirmations,
    reschedule requests, replies, and the desk's open tasks. No patient data."""

    permission_classes = [IsAuthenticated, HasClinicRole]
    allowed_roles = SCHEDULERS

    @extend_schema(parameters=[DATE_PARAMETER], responses=ReminderSummaryOutputSerializer)
    def get(self, request: Request) -> Response:
        text = request.query_params.get("date")
        try:
            day = date.fromisoformat(text) if text else timezone.localdate()
        except ValueError as error:
            message = "Give the date as YYYY-MM-DD, e.g. 2026-11-23."
            raise ApplicationError(message, extra={"fields": {"date": [message]}}) from error
        summary = selectors.reminder_day_summary(day, ZoneInfo(settings.TIME_ZONE))
        return Response(ReminderSummaryOutputSerializer(summary).data)


class CalendarFeedViewSet(ReadOnlyViewSet):
    """Your own iCalendar feeds: make one (the URL is shown while it is live), revoke it."""

    serializer_class = CalendarFeedOutputSerializer
    allowed_roles = CLINICAL_ROLES

    def get_queryset(self) -> QuerySet[CalendarFeed]:
        if not self.request.user.is_authenticated:  # the schema generator's fake request
            return CalendarFeed.objects.none()
        return CalendarFeed.objects.filter(user=self.request.user)

    @extend_schema(request=None, responses={201: CalendarFeedOutputSerializer})
    def create(self, request: Request) -> Response:
        # Authenticated by the permission classes, so a real user.
        feed = CalendarFeed.objects.create(user=request.user)  # type: ignore[misc]
        return Response(CalendarFeedOutputSerializer(feed, context={"request": request}).data, status=201)

    @extend_schema(request=None, responses=CalendarFeedOutputSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, id: str) -> Response:
        feed: CalendarFeed = self.get_object()
        if feed.revoked_at is None:
            feed.revoked_at = timezone.now()
            feed.save(update_fields=["revoked_at", "updated_at"])
        return Response(CalendarFeedOutputSerializer(feed, context={"request": request}).data)


class CalendarFeedView(APIView):
    """The .ics a calendar app subscribes to. The signed token in the URL is the key."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/calendar"): OpenApiTypes.BINARY}, auth=[])
    def get(self, request: Request, token: str) -> HttpResponse:
        feed = calendar.feed_for_token(token)
        if feed is None:
            raise NotFound("This calendar link is unknown or was revoked.")
        start, end = calendar.window()
        sessions = list(selectors.staff_schedule(feed.user, start, end))  # type: ignore[arg-type]
        # One-to-one appointments show the patient's initials: a read of their schedule by the
        # feed's owner, audited like any list (DESIGN.md, "Audit"), though no token was shown.
        named = [b for s in sessions if s.track_id is None for b in getattr(s, "live_bookings", [])]
        audit_objects(named, AuditAction.LIST, by=feed.user, request=request._request)
        response = HttpResponse(calendar.render(sessions), content_type="text/calendar; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        return response
