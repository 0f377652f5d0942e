"""One-to-one appointments (individual, psychiatry, family, intake, case management, nursing
check), and rescheduling or cancelling any session."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_record_many, audit_target_for
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction, Location, Room
from clinic.roles import require_role
from patients.models import Patient, PatientContact
from patients.services.consents import consent_check
from scheduling.models import (
    Booking,
    BookingStatus,
    CancelledBy,
    FamilyParticipant,
    Modality,
    Session,
    SessionStaff,
    SessionStatus,
    SessionType,
)
from scheduling.services import (
    SCHEDULERS,
    check_admitted,
    check_leads,
    check_times,
    refusing_double_booking,
    room_is_exclusive,
)
from scheduling.services.reminders import reminders_plan
from scheduling.session_types import FAMILY

# What a family session shares with the family members present (42 CFR Part 2): the
# treatment plan and progress, for family involvement in treatment.
FAMILY_SESSION_INFORMATION = ["treatment_plan"]
FAMILY_SESSION_PURPOSE = "family_involvement"


def _check_room(room: Room | None, location: Location, modality: str) -> None:
    if room is not None and room.location_id != location.pk:
        raise ApplicationError("That room is at another location.", extra={"fields": {"room": ["Another location."]}})
    if room is not None and not room.is_active:
        raise ApplicationError("That room is out of use.", extra={"fields": {"room": ["Inactive."]}})
    if modality == Modality.IN_PERSON and room is None:
        raise ApplicationError(
            "An in-person appointment needs a room.", extra={"fields": {"room": ["Required in person."]}}
        )


def _family_consents(patient: Patient, contacts: list[PatientContact], on: Any) -> list[tuple[PatientContact, Any]]:
    allowed = []
    for contact in contacts:
        if contact.patient_id != patient.pk:
            raise ApplicationError(
                "Family participants must be the patient's own contacts.",
                extra={"fields": {"family_contacts": ["Not this patient's contact."]}},
            )
        # 403 naming the consent that is missing, from the one consent service.
        consent = consent_check(
            patient=patient,
            recipient_type="family_member",
            recipient_name=contact.name,
            information=FAMILY_SESSION_INFORMATION,
            purpose=FAMILY_SESSION_PURPOSE,
            on=on,
        )
        allowed.append((contact, consent))
    return allowed


@transaction.atomic
def appointment_create(
    *,
    session_type: SessionType,
    patient: Patient,
    staff: list[Any],
    location: Location,
    starts_at: datetime,
    ends_at: datetime | None = None,
    room: Room | None = None,
    modality: str = Modality.IN_PERSON,
    family_contacts: list[PatientContact] | None = None,
    by: Any,
    request: HttpRequest | None = None,
) -> Booking:
    require_role(by, SCHEDULERS, "book appointments")
    if session_type.is_group:
        raise ApplicationError(
            f"{session_type.name} sessions come from group tracks; enrol the patient in a track instead.",
            extra={"fields": {"session_type": ["A group type."]}},
        )
    ends_at = ends_at or starts_at + timedelta(minutes=session_type.default_duration_minutes)
    check_times(starts_at, ends_at)
    check_leads(session_type, staff)
    _check_room(room, location, modality)
    check_admitted(patient, session_type)
    family_contacts = family_contacts or []
    if family_contacts and session_type.code != FAMILY:
        raise ApplicationError(
            "Family members take part in family sessions only.",
            extra={"fields": {"family_contacts": ["Only for a family session."]}},
        )
    if session_type.code == FAMILY and not family_contacts:
        raise ApplicationError(
            "Name the family members or support people taking part (each needs a consent).",
            extra={"fields": {"family_contacts": ["Required for a family session."]}},
        )
    participants = _family_consents(patient, family_contacts, timezone.localdate(starts_at))

    with refusing_double_booking(
        start=starts_at,
        end=ends_at,
        room_ids=[room.pk] if room else [],
        staff_ids=[user.pk for user in staff],
        patient_ids=[patient.pk],
    ):
        session = Session.objects.create(
            session_type=session_type,
            location=location,
            room=room,
            room_is_exclusive=room_is_exclusive(room),
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=1,
            modality=modality,
        )
        SessionStaff.objects.bulk_create(
            SessionStaff(session=session, user=user, starts_at=starts_at, ends_at=ends_at) for user in staff
        )
        booking = Booking.objects.create(
            session=session, patient=patient, starts_at=starts_at, ends_at=ends_at, booked_by=by
        )
    FamilyParticipant.objects.bulk_create(
        FamilyParticipant(booking=booking, contact=contact, consent=consent) for contact, consent in participants
    )
    reminders_plan([booking.pk])
    audit_record(
        audit_target_for(booking, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request
    )
    return booking


def _lock_future_session(session: Session) -> Session:
    session = Session.objects.select_for_update(of=("self",)).select_related("location").get(pk=session.pk)
    if session.status == SessionStatus.CANCELLED:
        raise Conflict("This session is cancelled.")
    if session.starts_at <= timezone.now():
        raise Conflict("This session has already started; record attendance instead.")
    return session


@transaction.atomic
def session_reschedule(
    *, session: Session, starts_at: datetime, ends_at: datetime | None, by: Any, request: HttpRequest | None = None
) -> Session:
    """Move a session, its staff and its patients together; 409 if anyone (or the room)
    is busy at the new time."""
    require_role(by, SCHEDULERS, "reschedule sessions")
    session = _lock_future_session(session)
    ends_at = ends_at or starts_at + (session.ends_at - session.starts_at)
    check_times(starts_at, ends_at)
    staff = SessionStaff.objects.filter(session=session, is_active=True)
    bookings = Booking.objects.filter(session=session, status=BookingStatus.BOOKED)
    # A family session's consents must still hold on the new day.
    for participant in FamilyParticipant.objects.filter(booking__in=bookings).select_related(
        "booking__patient", "contact"
    ):
        _family_consents(participant.booking.patient, [participant.contact], timezone.localdate(starts_at))
    with refusing_double_booking(
        start=starts_at,
        end=ends_at,
        room_ids=[session.room_id] if session.room_id else [],
        staff_ids=list(staff.values_list("user_id", flat=True)),
        patient_ids=list(bookings.values_list("patient_id", flat=True)),
        session_id=session.pk,
    ):
        session.starts_at, session.ends_at = starts_at, ends_at
        session.save(update_fields=["starts_at", "ends_at", "updated_at"])
        staff.update(starts_at=starts_at, ends_at=ends_at)
        bookings.update(starts_at=starts_at, ends_at=ends_at, updated_at=timezone.now())
    reminders_plan(bookings.values_list("pk", flat=True))
    audit_record_many(
        (audit_target_for(b, patient_path="patient") for b in bookings.select_related("patient")),
        action=AuditAction.UPDATE,
        actor=by,
        request=request,
    )
    return session


@transaction.atomic
def session_cancel(*, session: Session, reason: str, by: Any, request: HttpRequest | None = None) -> Session:
    """Cancel a whole session (clinic-side): its staff are free again and every booking is
    cancelled by the clinic."""
    require_role(by, SCHEDULERS, "cancel sessions")
    session = _lock_future_session(session)
    now = timezone.now()
    session.status, session.cancelled_at, session.cancel_reason = SessionStatus.CANCELLED, now, reason.strip()
    session.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    SessionStaff.objects.filter(session=session).update(is_active=False)
    bookings = list(Booking.objects.filter(session=session, status=BookingStatus.BOOKED).select_related("patient"))
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(
        status=BookingStatus.CANCELLED, cancelled_by=CancelledBy.CLINIC, cancelled_at=now, updated_at=now
    )
    reminders_plan(b.pk for b in bookings)
    audit_record_many(
        (audit_target_for(b, patient_path="patient") for b in bookings),
        action=AuditAction.UPDATE,
        actor=by,
        request=request,
        reason=reason,
    )
    return session
