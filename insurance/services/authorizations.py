"""Authorizations, their reviews, their usage (from bookings and attendance) and the billing
work queue (BillingAlert) that the beat task and level-of-care changes fill."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import Role, require_role
from insurance import forecast
from insurance.models import (
    AlertKind,
    Authorization,
    AuthorizationReview,
    AuthorizationStatus,
    BillingAlert,
    Coverage,
    ReviewOutcome,
)
from insurance.services import INSURANCE_WRITERS, constraint_messages, refusing_conflicts, validated
from patients.models import LevelOfCareStay, Patient
from scheduling.models import Booking

logger = logging.getLogger(__name__)

AUTHORIZATION_FIELDS = (
    "number",
    "status",
    "requested_on",
    "decided_on",
    "starts_on",
    "ends_on",
    "unit",
    "units_authorized",
    "next_review_on",
    "notes",
)
# Kinds the beat task raises and clears itself as the facts change.
_SELF_CLEARING = frozenset({AlertKind.REVIEW_DUE, AlertKind.UNITS_RUNNING_OUT, AlertKind.AUTHORIZATION_ENDING})


def _save(authorization: Authorization) -> Authorization:
    validated(authorization, exclude=["coverage", "level", "created_by"])
    # Approved authorizations of one coverage and level may not overlap (an exclusion constraint).
    with refusing_conflicts(constraint_messages(Authorization), serialized_on=(Coverage, authorization.coverage_id)):
        authorization.save()
    return authorization


@transaction.atomic
def authorization_create(
    *, coverage: Coverage, level: LevelOfCare, by: Any, request: HttpRequest | None = None, **fields: Any
) -> Authorization:
    require_role(by, INSURANCE_WRITERS, "record authorizations")
    fields = {k: v for k, v in fields.items() if k in AUTHORIZATION_FIELDS}
    fields.setdefault("requested_on", timezone.localdate())
    authorization = _save(Authorization(coverage=coverage, level=level, created_by=by, **fields))
    authorization_usage_refresh(authorization)
    # The "authorization needed" item a level change opened is answered by this request.
    _resolve(
        BillingAlert.objects.filter(
            kind=AlertKind.AUTHORIZATION_NEEDED, patient_id=coverage.patient_id, level=level, authorization=None
        ),
        by=by,
        resolution=f"Authorization {authorization.public_id} recorded.",
    )
    audit_objects([authorization], AuditAction.CREATE, by=by, request=request, patient_path="coverage.patient")
    return authorization


@transaction.atomic
def authorization_update(
    *, authorization: Authorization, by: Any, request: HttpRequest | None = None, **fields: Any
) -> Authorization:
    require_role(by, INSURANCE_WRITERS, "change authorizations")
    authorization = Authorization.objects.select_for_update().get(pk=authorization.pk)
    for name in AUTHORIZATION_FIELDS:
        if name in fields:
            setattr(authorization, name, fields[name])
    _save(authorization)
    authorization_usage_refresh(authorization)
    audit_objects([authorization], AuditAction.UPDATE, by=by, request=request, patient_path="coverage.patient")
    return authorization


_OUTCOME_STATUS = {
    ReviewOutcome.APPROVED: AuthorizationStatus.APPROVED,
    ReviewOutcome.PARTIAL: AuthorizationStatus.APPROVED,
    ReviewOutcome.DENIED: AuthorizationStatus.DENIED,
    ReviewOutcome.PENDED: AuthorizationStatus.PENDED,
}


@transaction.atomic
def authorization_review_record(
    *,
    authorization: Authorization,
    by: Any,
    review_type: str,
    review_on: date,
    outcome: str = ReviewOutcome.PENDING,
    units_added: int = 0,
    extended_to: date | None = None,
    next_review_on: date | None = None,
    number: str = "",
    reviewer: str = "",
    notes: str = "",
    request: HttpRequest | None = None,
) -> AuthorizationReview:
    """A review with the payer and what it decided: approved units and dates are added to the
    authorization; a denial or pend changes its status; the next review date moves on."""
    require_role(by, INSURANCE_WRITERS, "record authorization reviews")
    authorization = Authorization.objects.select_for_update().get(pk=authorization.pk)
    if units_added and outcome not in (ReviewOutcome.APPROVED, ReviewOutcome.PARTIAL):
        raise ApplicationError(
            "Only an approval adds units.", extra={"fields": {"units_added": ["Only with an approval."]}}
        )
    if extended_to is not None and extended_to < authorization.ends_on:
        raise ApplicationError(
            f"An extension ends after the current last day ({authorization.ends_on:%Y-%m-%d}).",
            extra={"fields": {"extended_to": ["Before the current end."]}},
        )
    review = AuthorizationReview(
        authorization=authorization,
        review_type=review_type,
        review_on=review_on,
        outcome=outcome,
        units_added=units_added,
        extended_to=extended_to,
        reviewer=reviewer,
        notes=notes,
        recorded_by=by,
    )
    validated(review, exclude=["authorization", "recorded_by"])
    review.save()
    authorization.units_authorized += units_added
    if extended_to is not None:
        authorization.ends_on = extended_to
    if number:
        authorization.number = number
    if outcome in _OUTCOME_STATUS:
        authorization.status = _OUTCOME_STATUS[ReviewOutcome(outcome)]
        authorization.decided_on = review_on
    authorization.next_review_on = next_review_on
    _save(authorization)
    authorization_usage_refresh(authorization)
    if outcome != ReviewOutcome.PENDING:
        _resolve(
            authorization.alerts.filter(kind__in=list(_SELF_CLEARING)),
            by=by,
            resolution=f"Review recorded: {review.get_outcome_display().lower()}.",
        )
    audit_objects([review], AuditAction.CREATE, by=by, request=request, patient_path="authorization.coverage.patient")
    return review


# --- usage ------------------------------------------------------------------------------------


def _level_days(patient_id: int, level_id: int, start: date, end: date) -> list[tuple[date, date | None]]:
    """The patient's stays at the level overlapping [start, end], as [started_on, ended_on)."""
    stays = LevelOfCareStay.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=start),
        episode__patient_id=patient_id,
        level_id=level_id,
        started_on__lte=end,
    )
    return list(stays.values_list("started_on", "ended_on"))


def unit_events(authorization: Authorization) -> list[forecast.UnitEvent]:
    """The patient's live bookings in program sessions (session types that count toward program
    hours) on days they were at the authorization's level, by local date at the session's location."""
    start, end = authorization.starts_on, authorization.ends_on
    stays = _level_days(authorization.coverage.patient_id, authorization.level_id, start, end)
    if not stays:
        return []
    # A day's margin each side: the local date is worked out below, per location's zone.
    bookings = Booking.objects.filter(
        patient_id=authorization.coverage.patient_id,
        status="booked",
        session__status="scheduled",
        session__session_type__counts_toward_program_hours=True,
        starts_at__gte=datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC),
        starts_at__lt=datetime.combine(end + timedelta(days=2), datetime.min.time(), tzinfo=UTC),
    ).values_list("starts_at", "attendance", "session__location__time_zone")
    events = []
    for starts_at, attendance, zone in bookings:
        day = timezone.localtime(starts_at, zone).date()
        if any(began <= day and (ended is None or day < ended) for began, ended in stays):
            events.append(forecast.UnitEvent(on=day, attendance=attendance))
    return events


def authorization_usage_refresh(authorization: Authorization, *, today: date | None = None) -> forecast.BurnDown:
    """Recount used and scheduled units and the run-out forecast, and store them for the list."""
    today = today or timezone.localdate()
    result = forecast.burn_down(
        units_authorized=authorization.units_authorized,
        unit=authorization.unit,
        starts_on=authorization.starts_on,
        ends_on=authorization.ends_on,
        events=unit_events(authorization),
        today=today,
    )
    authorization.units_used = result.units_used
    authorization.units_scheduled = result.units_scheduled
    authorization.runs_out_on = result.runs_out_on
    authorization.usage_refreshed_at = timezone.now()
    Authorization.objects.filter(pk=authorization.pk).update(
        units_used=result.units_used,
        units_scheduled=result.units_scheduled,
        runs_out_on=result.runs_out_on,
        usage_refreshed_at=authorization.usage_refreshed_at,
    )
    return result


def _open_authorizations(today: date) -> Any:
    return Authorization.objects.filter(
        status__in=[AuthorizationStatus.APPROVED, AuthorizationStatus.REQUESTED, AuthorizationStatus.PENDED],
        ends_on__gte=today - timedelta(days=1),
    ).select_related("coverage")


def authorizations_usage_refresh_all(*, today: date | None = None) -> int:
    today = today or timezone.localdate()
    count = 0
    for authorization in _open_authorizations(today).iterator(chunk_size=500):
        authorization_usage_refresh(authorization, today=today)
        count += 1
    return count


# --- the billing work queue ------------------------------------------------------------------


def _open_alert(*, kind: str, patient_id: int, due_on: date, message: str, **target: Any) -> BillingAlert | None:
    """Open an alert unless one of its kind is open for the same target (then move its date)."""
    existing = BillingAlert.objects.filter(kind=kind, patient_id=patient_id, resolved_at__isnull=True, **target).first()
    if existing is not None:
        if existing.due_on != due_on or existing.message != message:
            BillingAlert.objects.filter(pk=existing.pk).update(
                due_on=due_on, message=message, updated_at=timezone.now()
            )
        return None
    try:
        # The unique constraint is the last word when a task and a signal race to open one.
        with transaction.atomic():
            return BillingAlert.objects.create(
                kind=kind, patient_id=patient_id, due_on=due_on, message=message, **target
            )
    except IntegrityError:
        return None


def _resolve(alerts: Any, *, by: Any, resolution: str) -> int:
    return int(
        alerts.filter(resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolved_by=by, resolution=resolution[:300], updated_at=timezone.now()
        )
    )


def billing_alert_resolve(
    *, alert: BillingAlert, by: Any, resolution: str, request: HttpRequest | None = None
) -> BillingAlert:
    require_role(by, INSURANCE_WRITERS, "resolve billing alerts")
    if not resolution.strip():
        raise ApplicationError("Say how it was resolved.", extra={"fields": {"resolution": ["Required."]}})
    if not _resolve(BillingAlert.objects.filter(pk=alert.pk), by=by, resolution=resolution.strip()):
        raise Conflict("This alert was already resolved.")
    alert.refresh_from_db()
    audit_objects([alert], AuditAction.UPDATE, by=by, request=request)
    return alert


def _authorization_alerts(authorization: Authorization, today: date) -> list[BillingAlert]:
    """Raise (or clear) the review, run-out and end-of-dates alerts of one approved authorization."""
    opened = []
    patient_id = authorization.coverage.patient_id
    review_days = settings.INSURANCE_REVIEW_ALERT_DAYS
    runout_days = settings.INSURANCE_RUNOUT_ALERT_DAYS
    wanted: dict[str, tuple[date, str]] = {}
    if authorization.next_review_on and (authorization.next_review_on - today).days <= review_days:
        wanted[AlertKind.REVIEW_DUE] = (
            authorization.next_review_on,
            f"Concurrent review due {authorization.next_review_on:%Y-%m-%d} for authorization {authorization.number}.",
        )
    if authorization.runs_out_on and (authorization.runs_out_on - today).days <= runout_days:
        wanted[AlertKind.UNITS_RUNNING_OUT] = (
            authorization.runs_out_on,
            f"{authorization.units_remaining} of {authorization.units_authorized} "
            f"units left on authorization {authorization.number}; the schedule uses the last on "
            f"{authorization.runs_out_on:%Y-%m-%d}.",
        )
    if (authorization.ends_on - today).days <= runout_days and authorization.units_scheduled:
        wanted[AlertKind.AUTHORIZATION_ENDING] = (
            authorization.ends_on,
            f"Authorization {authorization.number} ends {authorization.ends_on:%Y-%m-%d} "
            "with sessions still scheduled.",
        )
    for kind, (due_on, message) in wanted.items():
        alert = _open_alert(
            kind=kind, patient_id=patient_id, due_on=due_on, message=message, authorization=authorization
        )
        if alert is not None:
            opened.append(alert)
    _resolve(
        authorization.alerts.filter(kind__in=[k for k in _SELF_CLEARING if k not in wanted]),
        by=None,
        resolution="No longer due.",
    )
    return opened


def _unauthorized_schedule_alerts(today: date) -> list[BillingAlert]:
    """Patients booked, in the coming days, into program sessions at a level that needs an
    authorization, with a coverage in force and no approved authorization for that day."""
    horizon = today + timedelta(days=settings.INSURANCE_UNAUTHORIZED_LOOKAHEAD_DAYS)
    levels = list(LevelOfCare.objects.filter(code__in=settings.INSURANCE_AUTHORIZATION_LEVELS))
    opened: list[BillingAlert] = []
    wanted: set[tuple[int, int]] = set()
    for level in levels:
        stays = LevelOfCareStay.objects.filter(
            Q(ended_on__isnull=True) | Q(ended_on__gt=today), level=level, episode__discharged_on__isnull=True
        ).values_list("episode__patient_id", flat=True)
        patient_ids = set(stays)
        covered = Coverage.objects.filter(patient_id__in=patient_ids, effective_on__lte=horizon).exclude(
            terminates_on__lt=today
        )
        insured = set(covered.values_list("patient_id", flat=True))
        for patient_id in insured:
            first = _first_unauthorized_day(patient_id, level, today, horizon)
            if first is None:
                continue
            wanted.add((patient_id, level.pk))
            alert = _open_alert(
                kind=AlertKind.NO_AUTHORIZATION,
                patient_id=patient_id,
                due_on=first,
                message=f"Scheduled at {level.code.upper()} from {first:%Y-%m-%d} with no approved authorization.",
                level=level,
                authorization=None,
            )
            if alert is not None:
                opened.append(alert)
    stale = [
        alert.pk
        for alert in BillingAlert.objects.filter(kind=AlertKind.NO_AUTHORIZATION, resolved_at__isnull=True)
        if (alert.patient_id, alert.level_id) not in wanted
    ]
    _resolve(BillingAlert.objects.filter(pk__in=stale), by=None, resolution="Authorized, or no longer scheduled.")
    return opened


def _first_unauthorized_day(patient_id: int, level: LevelOfCare, today: date, horizon: date) -> date | None:
    days = sorted(
        {
            timezone.localtime(starts_at, zone).date()
            for starts_at, zone in Booking.objects.filter(
                patient_id=patient_id,
                status="booked",
                attendance="",
                session__status="scheduled",
                session__session_type__counts_toward_program_hours=True,
                starts_at__gte=timezone.now(),
                starts_at__lt=datetime.combine(horizon + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
            ).values_list("starts_at", "session__location__time_zone")
        }
    )
    if not days:
        return None
    approved = list(
        Authorization.objects.filter(
            coverage__patient_id=patient_id, level=level, status=AuthorizationStatus.APPROVED, ends_on__gte=today
        ).values_list("starts_on", "ends_on")
    )
    return next((day for day in days if not any(s <= day <= e for s, e in approved)), None)


def billing_alerts_refresh(*, today: date | None = None) -> list[BillingAlert]:
    """The beat task's work: expire lapsed authorizations, refresh usage, raise and clear alerts,
    then tell the billing team what is new (counts only: no patient data in email)."""
    today = today or timezone.localdate()
    Authorization.objects.filter(status=AuthorizationStatus.APPROVED, ends_on__lt=today).update(
        status=AuthorizationStatus.EXPIRED, updated_at=timezone.now()
    )
    opened: list[BillingAlert] = []
    for authorization in (
        _open_authorizations(today).filter(status=AuthorizationStatus.APPROVED).iterator(chunk_size=200)
    ):
        authorization_usage_refresh(authorization, today=today)
        opened += _authorization_alerts(authorization, today)
    opened += _unauthorized_schedule_alerts(today)
    _notify_billing(opened)
    return opened


def _notify_billing(alerts: Iterable[BillingAlert]) -> None:
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.get_kind_display()] = counts.get(alert.get_kind_display(), 0) + 1
    if not counts:
        return
    recipients = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.BILLING)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return
    lines = "\n".join(f"- {kind}: {count}" for kind, count in sorted(counts.items()))
    send_mail(
        subject=f"{sum(counts.values())} new billing alert(s)",
        message=f"New in the billing work queue:\n\n{lines}\n\nOpen the admin's billing alerts to work them.",
        from_email=None,
        recipient_list=recipients,
    )


def authorization_needed_open(*, patient: Patient, level: LevelOfCare, effective_on: date) -> BillingAlert | None:
    """A level-of-care change: billing must get the new level authorized (if the patient is
    insured and no approved authorization covers the new level from that day)."""
    if level.code not in settings.INSURANCE_AUTHORIZATION_LEVELS:
        return None
    covered = Coverage.objects.filter(patient=patient, effective_on__lte=effective_on).exclude(
        terminates_on__lt=effective_on
    )
    if not covered.exists():
        return None
    if Authorization.objects.filter(
        coverage__patient=patient,
        level=level,
        status__in=[AuthorizationStatus.APPROVED, AuthorizationStatus.REQUESTED, AuthorizationStatus.PENDED],
        starts_on__lte=effective_on,
        ends_on__gte=effective_on,
    ).exists():
        return None
    return _open_alert(
        kind=AlertKind.AUTHORIZATION_NEEDED,
        patient_id=patient.pk,
        due_on=effective_on,
        message=f"Level of care changed to {level.code.upper()} on {effective_on:%Y-%m-%d}: request an authorization.",
        level=level,
        authorization=None,
    )
