"""What a level-of-care change means for the schedule (DESIGN.md flow 2): proposed when the
change happens, applied only when a clinician confirms."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import require_role
from patients.models import EpisodeOfCare
from patients.services.intake import DECIDERS
from scheduling.models import (
    Booking,
    BookingStatus,
    GroupTrack,
    LevelChangeReview,
    LevelChangeReviewStatus,
    TrackEnrollment,
)
from scheduling.services.tracks import GenerationReport, enrollment_create, enrollment_end


def proposed_track(to_level: LevelOfCare | None, near: GroupTrack | None) -> GroupTrack | None:
    """An active track at the new level with room left, preferring the old track's location."""
    if to_level is None:
        return None
    open_count = Count("enrollments", filter=Q(enrollments__ended_on__isnull=True))
    tracks = (
        GroupTrack.objects.filter(level=to_level, is_active=True).annotate(enrolled=open_count).order_by("name", "pk")
    )
    candidates = [t for t in tracks if t.enrolled < t.capacity]
    if near is not None:
        candidates.sort(key=lambda t: t.location_id != near.location_id)
    return candidates[0] if candidates else None


@transaction.atomic
def level_change_review_propose(
    *, episode_id: int, from_level_id: int | None, to_level_id: int | None, effective_on: date
) -> LevelChangeReview | None:
    episode = EpisodeOfCare.objects.filter(pk=episode_id).select_related("patient").first()
    if episode is None:
        return None
    patient = episode.patient
    # The tracks the patient is in now and their future bookings: what the change makes stale.
    open_enrollments = TrackEnrollment.objects.filter(patient=patient, ended_on__isnull=True).select_related("track")
    # Sessions already under way stay: they are attendance to record, not bookings to cancel.
    # A step down or up makes the old tracks' sessions stale; a discharge or transfer out,
    # every future booking (one-to-one appointments too).
    stale = Booking.objects.filter(status=BookingStatus.BOOKED, starts_at__date__gte=effective_on, patient=patient)
    stale = stale.filter(starts_at__gt=timezone.now())
    if to_level_id is not None:
        stale = stale.filter(enrollment__in=open_enrollments)
    to_level = LevelOfCare.objects.filter(pk=to_level_id).first() if to_level_id else None
    current = open_enrollments.first()
    review = LevelChangeReview.objects.create(
        patient=patient,
        episode=episode,
        from_level_id=from_level_id,
        to_level=to_level,
        effective_on=effective_on,
        proposed_track=proposed_track(to_level, current.track if current else None),
    )
    review.bookings_to_cancel.set(stale)
    return review


def _lock_pending(review: LevelChangeReview) -> LevelChangeReview:
    review = LevelChangeReview.objects.select_for_update().get(pk=review.pk)
    if review.status != LevelChangeReviewStatus.PENDING:
        raise Conflict(f"This review is already {review.get_status_display().lower()}.")
    return review


@transaction.atomic
def level_change_review_confirm(
    *, review: LevelChangeReview, track: GroupTrack | None, by: Any, request: HttpRequest | None = None
) -> tuple[LevelChangeReview, GenerationReport | None]:
    """End the old tracks (cancelling their future bookings) and enrol the patient in the
    proposed track, or the one the clinician chose instead (None: no new track)."""
    require_role(by, DECIDERS, "confirm schedule changes after a level change")
    review = _lock_pending(review)
    if track is not None and review.to_level_id is not None and track.level_id != review.to_level_id:
        raise ApplicationError(
            "That track is for another level than the new one.", extra={"fields": {"track": ["Another level."]}}
        )
    for enrollment in TrackEnrollment.objects.filter(patient=review.patient, ended_on__isnull=True):
        if track is None or enrollment.track_id != track.pk:
            enrollment_end(enrollment=enrollment, by=by, request=request)
    if review.to_level_id is None:
        # Discharged or transferred out: the listed appointments go too (cancelled by the clinic).
        from scheduling.services.bookings import booking_cancel

        for booking in review.bookings_to_cancel.filter(status=BookingStatus.BOOKED, starts_at__gt=timezone.now()):
            booking_cancel(booking=booking, cancelled_by="clinic", by=by, reason="Discharged", request=request)
    report = None
    enrolled = TrackEnrollment.objects.filter(patient=review.patient, track=track, ended_on__isnull=True).exists()
    if track is not None and not enrolled:
        _, report = enrollment_create(track=track, patient=review.patient, by=by, request=request)
    review.status, review.decided_by, review.decided_at = LevelChangeReviewStatus.CONFIRMED, by, timezone.now()
    review.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(audit_target_for(review, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request)
    return review, report


@transaction.atomic
def level_change_review_dismiss(
    *, review: LevelChangeReview, by: Any, request: HttpRequest | None = None
) -> LevelChangeReview:
    require_role(by, DECIDERS, "dismiss schedule reviews")
    review = _lock_pending(review)
    review.status, review.decided_by, review.decided_at = LevelChangeReviewStatus.DISMISSED, by, timezone.now()
    review.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(audit_target_for(review, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request)
    return review
