"""Appointment reminders: the outbox (DESIGN.md flow 4).

- `reminders_plan` writes, moves or cancels a booking's reminder rows; the booking services
  call it in their own transaction, so a booking and its reminders change together.
- `reminders_claim` (the dispatcher, every minute from beat) claims due rows with
  `FOR UPDATE SKIP LOCKED` and hands their ids to the send task after commit.
- `reminder_send` (the send task) re-checks a row under a lock, renders the neutral text and
  sends it through the channel backend with the row's idempotency key.

Postgres is the truth and Redis only carries ids: a claim that never reached a worker, or a
worker that died mid-send, leaves the row claimed until its lease runs out, and the next
dispatcher run claims it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import formats, timezone, translation

from clinic import messaging
from clinic.audit import audit_record, audit_record_many, audit_target_for
from clinic.errors import ApplicationError
from clinic.messaging import SmsPermanentError, SmsTransientError, SmsUnsubscribedError
from clinic.models import AuditAction
from clinic.roles import require_role
from patients.models import Patient
from scheduling.models import (
    SENDING_CHANNELS,
    Booking,
    BookingStatus,
    OptOut,
    OptOutVia,
    Reminder,
    ReminderChannel,
    ReminderPolicy,
    ReminderStatus,
    SessionStatus,
    StaffTask,
    StaffTaskKind,
)
from scheduling.reminder_content import render
from scheduling.reminder_times import Window, local_day_bounds, next_allowed, send_at
from scheduling.services import SCHEDULERS

logger = logging.getLogger(__name__)


def window_of(policy: ReminderPolicy) -> Window:
    return Window(start=policy.window_start, end=policy.window_end)


def _channel(patient: Patient) -> str | None:
    """The channel a patient's reminders go by, or None (no reminders, or nowhere to send)."""
    if patient.reminder_channel == ReminderChannel.SMS and patient.phone:
        return ReminderChannel.SMS
    if patient.reminder_channel == ReminderChannel.EMAIL and patient.email:
        return ReminderChannel.EMAIL
    return None


def _unwanted(booking: Booking, channel: str, opted_out: set[tuple[int, str]]) -> str | None:
    """Why `booking` gets no reminder on `channel` (in words for the row's reason), or None
    when it does. One rule for planning and for the re-check before a send."""
    if booking.status != BookingStatus.BOOKED:
        return "The appointment was cancelled."
    if booking.session.status != SessionStatus.SCHEDULED:
        return "The session was cancelled."
    if not booking.session.session_type.sends_reminders:
        return "Reminders are off for this kind of session."
    if _channel(booking.patient) != channel:
        return "The patient's reminder channel changed."
    if (booking.patient_id, channel) in opted_out:
        return "The patient opted out of this channel."
    return None


def _wanted(booking: Booking, policy: ReminderPolicy, opted_out: set[tuple[int, str]], now: datetime) -> dict:
    """{(offset, channel): due_at} this booking should have now."""
    channel = _channel(booking.patient)
    if channel is None or _unwanted(booking, channel, opted_out):
        return {}
    zone, window = ZoneInfo(str(booking.patient.time_zone)), window_of(policy)
    wanted = {}
    for offset in policy.offsets_minutes:
        due = send_at(starts_at=booking.starts_at, offset=timedelta(minutes=offset), zone=zone, window=window)
        # An offset already past when the booking is made (or moved) is not sent late.
        if due is not None and due >= now - timedelta(minutes=1):
            wanted[(offset, channel)] = due
    return wanted


def reminders_plan(booking_ids: Iterable[int]) -> None:
    """Bring the bookings' reminder rows in line with the bookings: new rows for new
    bookings, moved due times for moved sessions, cancelled rows for cancelled bookings,
    sessions or opted-out patients. Rows already sent are history and stay. A fixed number
    of queries whatever the number of bookings (track generation books hundreds at once)."""
    ids = list(booking_ids)
    if not ids:
        return
    policy, now = ReminderPolicy.current(), timezone.now()
    bookings = list(
        Booking.objects.filter(pk__in=ids).select_related("session__session_type", "patient").order_by("pk")
    )
    patient_ids = {b.patient_id for b in bookings}
    opted_out = set(
        OptOut.objects.filter(patient_id__in=patient_ids, opted_out=True).values_list("patient_id", "channel")
    )
    existing: dict[tuple[int, int, str], Reminder] = {
        (r.booking_id, r.offset_minutes, r.channel): r for r in Reminder.objects.filter(booking_id__in=ids)
    }
    create: list[Reminder] = []
    update: list[Reminder] = []
    for booking in bookings:
        wanted = _wanted(booking, policy, opted_out, now)
        for (offset, channel), due in wanted.items():
            row = existing.pop((booking.pk, offset, channel), None)
            if row is None:
                create.append(
                    Reminder(
                        booking=booking,
                        patient_id=booking.patient_id,
                        channel=channel,
                        offset_minutes=offset,
                        due_at=due,
                    )
                )
            elif row.status == ReminderStatus.PENDING and row.due_at != due:
                row.due_at = due
                update.append(row)
            elif row.status in (ReminderStatus.CANCELLED, ReminderStatus.SKIPPED):
                # Wanted again (a booking moved back into reach): the same row, pending again.
                row.status, row.due_at, row.reason, row.claimed_at = ReminderStatus.PENDING, due, "", None
                update.append(row)
    # What is left of the existing rows is no longer wanted; each says why.
    bookings_by_id = {b.pk: b for b in bookings}
    cancel: dict[str, list[int]] = {}
    for row in existing.values():
        if row.status == ReminderStatus.PENDING:
            reason = _unwanted(bookings_by_id[row.booking_id], row.channel, opted_out) or (
                "The appointment moved: this reminder no longer falls before it."
            )
            cancel.setdefault(reason, []).append(row.pk)
    for row in update:
        row.updated_at = now
    Reminder.objects.bulk_create(create)
    Reminder.objects.bulk_update(update, ["status", "due_at", "reason", "claimed_at", "updated_at"])
    for reason, pks in cancel.items():
        Reminder.objects.filter(pk__in=pks, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.CANCELLED, reason=reason, updated_at=now
        )


# --- the dispatcher --------------------------------------------------------------------------


def reminders_claim(*, batch: int | None = None, now: datetime | None = None) -> list[int]:
    """Claim up to `batch` due rows (and rows whose claim lease ran out: a worker died, or
    Redis lost the message) and return their ids. Rows another dispatcher holds are skipped,
    not waited for. The caller enqueues the sends after this transaction commits."""
    now = now or timezone.now()
    batch = batch or settings.REMINDER_DISPATCH_BATCH
    lease = timedelta(seconds=settings.REMINDER_CLAIM_LEASE_SECONDS)
    with connection.cursor() as cursor:
        table = Reminder._meta.db_table
        cursor.execute(
            f"""
            WITH due AS (
                SELECT id FROM {table} WHERE status = %s AND due_at <= %s
                ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED
            ), lapsed AS (
                SELECT id FROM {table} WHERE status = %s AND claimed_at < %s
                ORDER BY claimed_at LIMIT %s FOR UPDATE SKIP LOCKED
            )
            UPDATE {table} SET status = %s, claimed_at = %s, updated_at = %s
            WHERE id IN (SELECT id FROM due UNION ALL SELECT id FROM lapsed)
            RETURNING id
            """,  # noqa: S608 - the table name comes from the model; values are parameters
            [
                ReminderStatus.PENDING,
                now,
                batch,
                ReminderStatus.CLAIMED,
                now - lease,
                batch,
                ReminderStatus.CLAIMED,
                now,
                now,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent", "retry", "failed", "skipped", "cancelled", "deferred", "gone"
    retry_in: float = 0.0


def _local(moment: datetime, patient: Patient) -> tuple[str, str]:
    """Date and time on the patient's clock, in their language."""
    local = timezone.localtime(moment, ZoneInfo(str(patient.time_zone)))
    with translation.override(patient.preferred_language or settings.LANGUAGE_CODE):
        return formats.date_format(local, "DATE_FORMAT"), formats.time_format(local, "TIME_FORMAT")


def reminder_values(policy: ReminderPolicy, starts_at: datetime, patient: Patient) -> dict[str, str]:
    date, time = _local(starts_at, patient)
    return {"sender": policy.sender_name, "date": date, "time": time, "phone": policy.help_phone}


def _lock(reminder_id: int) -> Reminder | None:
    """The row, its booking and its patient, locked: a cancellation waits for a send in
    progress (and a send that comes second sees the cancellation)."""
    # A primary-key lookup, so no first(): it would add the model's ordering (due_at, id) and
    # a LIMIT, which Django builds again on every send (about 1.5 ms of CPU in bench/README.md's
    # profile) for a query that returns one row or none. The same rows are locked either way.
    found = list(
        Reminder.objects.select_for_update(of=("self", "booking", "patient"), no_key=True)
        .select_related("booking__session__session_type", "patient")
        .filter(pk=reminder_id)
        .order_by()
    )
    reminder = found[0] if found else None
    if reminder is not None:
        # The booking's patient is the row's (planning copies it): the locked instance, not a second read.
        reminder.booking.patient = reminder.patient
    return reminder


def _finish(reminder: Reminder, status: str, reason: str = "", **fields: Any) -> None:
    reminder.status, reminder.reason = status, reason[:300]
    for name, value in fields.items():
        setattr(reminder, name, value)
    reminder.save()


def _why_not(reminder: Reminder, now: datetime) -> tuple[str, str] | None:
    """(status, reason) when the reminder must not go out, after the re-check."""
    opted_out = set(
        OptOut.objects.filter(patient=reminder.patient, channel=reminder.channel, opted_out=True).values_list(
            "patient_id", "channel"
        )
    )
    reason = _unwanted(reminder.booking, reminder.channel, opted_out)
    if reason:
        return ReminderStatus.CANCELLED, reason
    if reminder.booking.starts_at <= now:
        return ReminderStatus.SKIPPED, "The appointment had started before the reminder could go."
    return None


def _over_daily_cap(reminder: Reminder, policy: ReminderPolicy, now: datetime) -> bool:
    start, end = local_day_bounds(now, ZoneInfo(str(reminder.patient.time_zone)))
    sent_today = Reminder.objects.filter(
        patient=reminder.patient,
        sent_at__gte=start,
        sent_at__lt=end,
        status__in=(ReminderStatus.SENT, ReminderStatus.DELIVERED),
    ).count()
    return sent_today >= policy.max_per_day


def _deliver(reminder: Reminder, policy: ReminderPolicy) -> messaging.SmsResult:
    patient, values = reminder.patient, reminder_values(policy, reminder.booking.starts_at, reminder.patient)
    key = str(reminder.idempotency_key)
    if reminder.channel == ReminderChannel.SMS:
        # Numbers typed in forms are checked there; one imported or written around them is not.
        if not (patient.phone and patient.phone.is_valid()):
            raise SmsPermanentError(
                "The phone number on the patient's record is not a valid number: correct it on their page."
            )
        return messaging.send_sms(to=str(patient.phone), body=render(policy.sms_template, values), idempotency_key=key)
    email = EmailMessage(
        subject=render(policy.email_subject, values),
        body=render(policy.email_template, values),
        to=[patient.email],
        headers={"Message-ID": f"<{key}@reminders>"},
    )
    try:
        email.send()
    except OSError as exc:  # SMTP down, refused connection: try again later
        raise SmsTransientError(f"The mail server did not take the message ({type(exc).__name__}).") from exc
    return messaging.SmsResult(provider_message_id=f"email-{key}", status="sent")


def reminder_fail(reminder: Reminder, reason: str, *, unsubscribed: bool = False) -> None:
    """A reminder that will not reach the patient: failed, with the reason, into the desk's
    queue (a refused send here, or a delivery report that it never arrived). `unsubscribed`:
    the provider holds a STOP we never saw; it is recorded as the patient's opt-out, which
    cancels their other pending reminders on the channel until they send START."""
    _finish(reminder, ReminderStatus.FAILED, reason, claimed_at=None)
    if unsubscribed:
        opt_out_set(patient=reminder.patient, channel=reminder.channel, opted_out=True, via=OptOutVia.PROVIDER)
    StaffTask.objects.create(
        kind=StaffTaskKind.REMINDER_FAILED,
        patient_id=reminder.patient_id,
        booking_id=reminder.booking_id,
        reminder=reminder,
        detail=reason[:300],
    )


@transaction.atomic
def reminder_send(reminder_id: int, *, attempt_limit: int | None = None) -> Outcome:
    """Send one claimed reminder, or say why not. Transient failures come back as "retry"
    (the row stays claimed, its lease extended past the retry); permanent ones, or the last
    allowed attempt, fail the row into the staff queue."""
    reminder = _lock(reminder_id)
    if reminder is None or reminder.status != ReminderStatus.CLAIMED:
        return Outcome("gone")  # sent, cancelled or failed meanwhile: a duplicate task
    now, policy = timezone.now(), ReminderPolicy.current()
    refusal = _why_not(reminder, now)
    if refusal:
        _finish(reminder, refusal[0], refusal[1], claimed_at=None)
        return Outcome(refusal[0])
    zone, window = ZoneInfo(str(reminder.patient.time_zone)), window_of(policy)
    # A backlog may carry a reminder past the window, or the session may have moved.
    due = send_at(
        starts_at=reminder.booking.starts_at,
        offset=timedelta(minutes=reminder.offset_minutes),
        zone=zone,
        window=window,
    )
    later = next_allowed(now, zone=zone, window=window)
    if due is None or later >= reminder.booking.starts_at:
        _finish(reminder, ReminderStatus.SKIPPED, "No time left inside the sending hours before the appointment.")
        return Outcome(ReminderStatus.SKIPPED)
    if max(due, later) > now + timedelta(minutes=1):
        _finish(reminder, ReminderStatus.PENDING, "", due_at=max(due, later), claimed_at=None)
        return Outcome("deferred")
    if _over_daily_cap(reminder, policy, now):
        _finish(reminder, ReminderStatus.SKIPPED, f"Daily limit of {policy.max_per_day} reminder(s) reached.")
        return Outcome(ReminderStatus.SKIPPED)
    reminder.attempts += 1
    limit = attempt_limit or settings.REMINDER_MAX_ATTEMPTS
    try:
        result = _deliver(reminder, policy)
    except SmsPermanentError as exc:
        reminder_fail(reminder, exc.reason, unsubscribed=isinstance(exc, SmsUnsubscribedError))
        return Outcome(ReminderStatus.FAILED)
    except SmsTransientError as exc:
        if reminder.attempts >= limit:
            reminder_fail(reminder, f"Gave up after {reminder.attempts} attempts: {exc.reason}")
            return Outcome(ReminderStatus.FAILED)
        wait = exc.retry_after or settings.REMINDER_RETRY_BASE_SECONDS * 2 ** (reminder.attempts - 1)
        # The lease runs from the planned retry, so the dispatcher does not claim it twice.
        _finish(reminder, ReminderStatus.CLAIMED, exc.reason, claimed_at=now + timedelta(seconds=wait))
        return Outcome("retry", retry_in=wait)
    _finish(
        reminder,
        ReminderStatus.SENT,
        claimed_at=None,
        sent_at=now,
        provider_message_id=result.provider_message_id[:64],
        provider_status=result.status[:32],
    )
    return Outcome(ReminderStatus.SENT)


def reminders_for_patient_replan(patient: Patient) -> None:
    """After a channel, opt-out or zone change: re-plan the patient's future bookings."""
    future = Booking.objects.filter(patient=patient, status=BookingStatus.BOOKED, starts_at__gt=timezone.now())
    reminders_plan(future.values_list("pk", flat=True))


# How an opt-out reached us, as the audit log's "via": staff work through the API or the admin.
_AUDIT_VIA: dict[str, str] = {OptOutVia.SMS_REPLY: "sms", OptOutVia.PROVIDER: "system"}


@transaction.atomic
def opt_out_set(
    *,
    patient: Patient,
    channel: str,
    opted_out: bool,
    via: str,
    by: Any = None,
    request: HttpRequest | None = None,
) -> OptOut:
    """Record that `patient` does (opted_out=True) or does not want messages on `channel`,
    cancel or re-plan their pending reminders to match, and audit the change. Setting what
    is already recorded changes nothing (the history keeps the first change)."""
    if channel not in dict(SENDING_CHANNELS):
        raise ApplicationError(f"Unknown channel {channel!r}.", extra={"fields": {"channel": ["Unknown."]}})
    if via not in OptOutVia.values:
        raise ApplicationError(f"Unknown opt-out source {via!r}.", extra={"fields": {"via": ["Unknown."]}})
    # A STOP and a send of this patient's reminder serialise on the patient row: reminder_send
    # holds it (FOR NO KEY UPDATE) while it re-checks opt-outs and sends, so either the send
    # finishes first, or it waits and then sees the opt-out. Two STOPs at once queue here too.
    Patient.objects.select_for_update(no_key=True).filter(pk=patient.pk).first()
    current = OptOut.objects.filter(patient=patient, channel=channel).first()
    if current is not None and current.opted_out == opted_out:
        return current
    now = timezone.now()
    row, created = OptOut.objects.update_or_create(
        patient=patient,
        channel=channel,
        defaults={
            "opted_out": opted_out,
            "changed_at": now,
            "changed_via": via,
            "changed_by": by if by is not None and getattr(by, "is_authenticated", False) else None,
        },
    )
    # Opting out cancels the channel's pending reminders (saying why); opting back in brings
    # the future bookings' reminders back.
    reminders_for_patient_replan(patient)
    audit_record(
        audit_target_for(row, patient_path="patient"),
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        actor=by,
        request=request,
        via=_AUDIT_VIA.get(via, "api"),
    )
    return row


def reminders_dispatch(*, enqueue: Callable[[list[int]], object]) -> int:
    """Claim due rows batch by batch (each its own transaction) and enqueue their sends
    after each commit, up to REMINDER_DISPATCH_MAX_BATCHES batches a run. If the broker
    cannot take them, the rows stay claimed and are claimed again when the lease runs out."""
    total, batch = 0, settings.REMINDER_DISPATCH_BATCH
    for _ in range(settings.REMINDER_DISPATCH_MAX_BATCHES):
        with transaction.atomic():
            ids = reminders_claim(batch=batch)
            transaction.on_commit(partial(_enqueue_quietly, enqueue, ids))
        total += len(ids)
        if len(ids) < batch:
            break
    return total


def _enqueue_quietly(enqueue: Callable[[list[int]], object], ids: list[int]) -> None:
    if not ids:
        return
    try:
        enqueue(ids)
    except Exception:  # the broker is down: the leases bring the rows back
        logger.exception("could not enqueue %d reminder sends; they will be claimed again", len(ids))


@transaction.atomic
def staff_tasks_done(tasks: QuerySet[StaffTask], *, by: Any, request: HttpRequest | None = None) -> int:
    """Mark open staff tasks done by `by` (audited per patient)."""
    require_role(by, SCHEDULERS, "work the staff queue")
    now = timezone.now()
    open_tasks = list(tasks.filter(done_at__isnull=True).select_for_update(of=("self",)).select_related("patient"))
    StaffTask.objects.filter(pk__in=[t.pk for t in open_tasks]).update(done_at=now, done_by=by, updated_at=now)
    audit_record_many(
        (audit_target_for(t, patient_path="patient") for t in open_tasks),
        action=AuditAction.UPDATE,
        actor=by,
        request=request,
    )
    return len(open_tasks)
