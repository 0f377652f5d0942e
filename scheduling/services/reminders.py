"""Appointment reminders: the outbox (DESIGN.md flow 4).

- `reminders_plan` writes, moves or cancels a booking's reminder rows; the booking services
  call it in their own transaction, so a booking and its reminders change together.
- `reminders_claim` (the dispatcher, every minute from beat) claims due rows with
  `FOR UPDATE SKIP LOCKED` and hands their ids to the send task after commit.
- `reminders_send` (the send task, one per chunk of a dispatcher batch) locks a chunk of rows
  in one statement, re-checks each under its lock, renders the neutral text, sends it through
  the channel backend with the row's idempotency key and records every outcome in one update;
  `reminder_send` is the chunk of one.

Postgres is the truth; Redis carries ids, and keeps a short journal of what the backend took
(see "the journal of what went out"). A claim that never reached a worker, or a worker that
died mid-chunk, leaves the rows claimed until their lease runs out, and the next dispatcher
run claims them again; a row the journal says went out is then recorded, not sent again.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
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
    opted_out = _opted_out({b.patient_id for b in bookings})
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


def _lock(reminder_ids: list[int]) -> dict[int, Reminder]:
    """The rows, their bookings and their patients, locked in one statement: a cancellation
    or an opt-out waits for a send in progress, and a send that comes second sees it.

    SKIP LOCKED: a row another transaction holds (a cancellation or an opt-out being written,
    another chunk with the same patient or booking, a duplicate task) is left out, to be tried
    again shortly (`BUSY_RETRY_SECONDS`), never waited for. A chunk locks many rows at once,
    in whatever order PostgreSQL meets them, and two chunks waiting for each other's rows would
    deadlock."""
    found = (
        Reminder.objects.select_for_update(of=("self", "booking", "patient"), no_key=True, skip_locked=True)
        .select_related("booking__session__session_type", "patient")
        .filter(pk__in=reminder_ids)
        # No ordering: the model's (due_at, id) would be sorted for nothing; rows go out by id.
        .order_by()
    )
    locked = {}
    for reminder in found:
        # The booking's patient is the row's (planning copies it): the locked instance, not a second read.
        reminder.booking.patient = reminder.patient
        locked[reminder.pk] = reminder
    return locked


def _set(reminder: Reminder, status: str, reason: str = "", **fields: Any) -> None:
    """The row's new state, in memory: the chunk writes every row it changed in one update."""
    reminder.status, reminder.reason = status, reason[:300]
    for name, value in fields.items():
        setattr(reminder, name, value)


def _finish(reminder: Reminder, status: str, reason: str = "", **fields: Any) -> None:
    _set(reminder, status, reason, **fields)
    reminder.save()


# Written by a chunk for each row it changed, with the SQL type of each value (updated_at too:
# the update below is not save(), so auto_now does not set it).
_SEND_FIELDS = {
    "status": "varchar",
    "reason": "varchar",
    "claimed_at": "timestamptz",
    "due_at": "timestamptz",
    "attempts": "smallint",
    "sent_at": "timestamptz",
    "provider_message_id": "varchar",
    "provider_status": "varchar",
    "updated_at": "timestamptz",
}


def _write(reminders: list[Reminder]) -> None:
    """Every changed row of a chunk in one UPDATE ... FROM (VALUES ...). Django's bulk_update
    builds a CASE WHEN per field and row: two thirds of a chunk's time in bench/README.md's
    profile, for the same single statement. Each value is cast, so a column of NULLs (no row
    sent) still has its column's type."""
    if not reminders:
        return
    quote = connection.ops.quote_name
    row = "(%s::bigint, " + ", ".join(f"%s::{kind}" for kind in _SEND_FIELDS.values()) + ")"
    params: list[Any] = []
    for reminder in reminders:
        params.append(reminder.pk)
        params.extend(getattr(reminder, name) for name in _SEND_FIELDS)
    # Plain fields, so each column is named as its field.
    assignments = ", ".join(f"{quote(name)} = v.{quote(name)}" for name in _SEND_FIELDS)
    names = ", ".join(quote(name) for name in ["id", *_SEND_FIELDS])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Reminder._meta.db_table)} AS r SET {assignments} "  # noqa: S608 - names from the model
            f"FROM (VALUES {', '.join([row] * len(reminders))}) AS v ({names}) WHERE r.id = v.id",
            params,
        )


def _opted_out(patient_ids: set[int]) -> set[tuple[int, str]]:
    """(patient id, channel) of these patients' opt-outs: one query."""
    return set(OptOut.objects.filter(patient_id__in=patient_ids, opted_out=True).values_list("patient_id", "channel"))


def _sent_today(reminders: list[Reminder], now: datetime) -> Counter[int]:
    """Reminders already sent today per patient, today on each patient's own clock: one query
    (one term per distinct local day, which is one per time zone at most)."""
    days: dict[tuple[datetime, datetime], set[int]] = {}
    for reminder in reminders:
        bounds = local_day_bounds(now, ZoneInfo(str(reminder.patient.time_zone)))
        days.setdefault(bounds, set()).add(reminder.patient_id)
    today = Q()
    for (start, end), patient_ids in days.items():
        today |= Q(patient_id__in=patient_ids, sent_at__gte=start, sent_at__lt=end)
    counts = (
        Reminder.objects.filter(today, status__in=(ReminderStatus.SENT, ReminderStatus.DELIVERED))
        .order_by()
        .values("patient_id")
        .annotate(sent=Count("pk"))
    )
    return Counter({row["patient_id"]: row["sent"] for row in counts})


def _recheck(
    reminder: Reminder,
    *,
    policy: ReminderPolicy,
    opted_out: set[tuple[int, str]],
    sent_today: Counter[int],
    now: datetime,
) -> Outcome | None:
    """The re-check under the lock: None when the reminder goes out now, else the outcome
    (the row's new state set in memory). The same for a chunk of one or of fifty."""
    reason = _unwanted(reminder.booking, reminder.channel, opted_out)
    if reason:
        _set(reminder, ReminderStatus.CANCELLED, reason, claimed_at=None)
        return Outcome(ReminderStatus.CANCELLED)
    if reminder.booking.starts_at <= now:
        _set(
            reminder,
            ReminderStatus.SKIPPED,
            "The appointment had started before the reminder could go.",
            claimed_at=None,
        )
        return Outcome(ReminderStatus.SKIPPED)
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
        _set(reminder, ReminderStatus.SKIPPED, "No time left inside the sending hours before the appointment.")
        return Outcome(ReminderStatus.SKIPPED)
    if max(due, later) > now + timedelta(minutes=1):
        _set(reminder, ReminderStatus.PENDING, "", due_at=max(due, later), claimed_at=None)
        return Outcome("deferred")
    # The chunk's own sends count: a patient with two rows in one chunk is capped like two chunks.
    if sent_today[reminder.patient_id] >= policy.max_per_day:
        _set(reminder, ReminderStatus.SKIPPED, f"Daily limit of {policy.max_per_day} reminder(s) reached.")
        return Outcome(ReminderStatus.SKIPPED)
    return None


# --- the journal of what went out ------------------------------------------------------------
#
# A chunk commits once, after its sends, so a worker killed mid-chunk leaves every row of the
# chunk claimed, including the ones the provider already took; the lease would send those
# again. So each send, as soon as the backend took it, is written to Redis (the broker the
# worker cannot run without) under the row's idempotency key; a row claimed again is looked up
# there first and recorded as sent, not sent again. What is left of the crash window is the
# moment between the provider taking a message and this write: one send per pool process, as
# with one task per reminder. If Redis lost the keys as well (restarted without persistence,
# or evicted them), the window is the chunk. The keys hold ids only, never patient data.

_JOURNAL_PREFIX = "reminders:sent:"


@functools.cache
def _journal_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _journal_key(reminder: Reminder) -> str:
    return f"{_JOURNAL_PREFIX}{reminder.idempotency_key}"


def _journal_read(reminders: list[Reminder]) -> dict[int, dict[str, str]]:
    """{reminder id: what the provider answered} for the rows whose message already went out."""
    try:
        values = _journal_client(settings.REDIS_URL).mget([_journal_key(r) for r in reminders])
    except redis.RedisError:
        logger.warning("could not read the journal of sent reminders for %d rows; sending them", len(reminders))
        return {}
    return {r.pk: json.loads(value) for r, value in zip(reminders, values, strict=True) if value is not None}


def _journal_write(reminder: Reminder, result: messaging.SmsResult, sent_at: datetime) -> None:
    # Kept longer than a claimed row can wait for the lease to bring it back.
    keep = max(86_400, 4 * settings.REMINDER_CLAIM_LEASE_SECONDS)
    entry = {"id": result.provider_message_id, "status": result.status, "at": sent_at.isoformat()}
    try:
        _journal_client(settings.REDIS_URL).set(_journal_key(reminder), json.dumps(entry), ex=keep)
    except redis.RedisError:
        logger.warning("could not journal sent reminder %d; a crash before commit would send it again", reminder.pk)


def _record_sent(reminder: Reminder, *, provider_message_id: str, provider_status: str, sent_at: datetime) -> Outcome:
    _set(
        reminder,
        ReminderStatus.SENT,
        claimed_at=None,
        sent_at=sent_at,
        provider_message_id=provider_message_id[:64],
        provider_status=provider_status[:32],
    )
    return Outcome(ReminderStatus.SENT)


# --- sending ----------------------------------------------------------------------------------


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


def _failure_task(reminder: Reminder) -> StaffTask:
    return StaffTask(
        kind=StaffTaskKind.REMINDER_FAILED,
        patient_id=reminder.patient_id,
        booking_id=reminder.booking_id,
        reminder=reminder,
        detail=reminder.reason,
    )


def reminder_fail(reminder: Reminder, reason: str, *, unsubscribed: bool = False) -> None:
    """A reminder that will not reach the patient: failed, with the reason, into the desk's
    queue (a delivery report that it never arrived; a chunk of sends does the same for the
    refusals it meets, in bulk). `unsubscribed`: the provider holds a STOP we never saw; it
    is recorded as the patient's opt-out, which cancels their other pending reminders on the
    channel until they send START."""
    _finish(reminder, ReminderStatus.FAILED, reason, claimed_at=None)
    if unsubscribed:
        opt_out_set(patient=reminder.patient, channel=reminder.channel, opted_out=True, via=OptOutVia.PROVIDER)
    _failure_task(reminder).save()


def _attempt(reminder: Reminder, policy: ReminderPolicy, *, limit: int, now: datetime) -> tuple[Outcome, bool]:
    """Send one re-checked row through its channel: the outcome, and whether the provider
    said the patient unsubscribed there."""
    reminder.attempts += 1
    try:
        result = _deliver(reminder, policy)
    except SmsPermanentError as exc:
        _set(reminder, ReminderStatus.FAILED, exc.reason, claimed_at=None)
        return Outcome(ReminderStatus.FAILED), isinstance(exc, SmsUnsubscribedError)
    except SmsTransientError as exc:
        if reminder.attempts >= limit:
            reason = f"Gave up after {reminder.attempts} attempts: {exc.reason}"
            _set(reminder, ReminderStatus.FAILED, reason, claimed_at=None)
            return Outcome(ReminderStatus.FAILED), False
        wait = exc.retry_after or settings.REMINDER_RETRY_BASE_SECONDS * 2 ** (reminder.attempts - 1)
        # The lease runs from the planned retry, so the dispatcher does not claim it twice.
        _set(reminder, ReminderStatus.CLAIMED, exc.reason, claimed_at=now + timedelta(seconds=wait))
        return Outcome("retry", retry_in=wait), False
    sent_at = timezone.now()
    _journal_write(reminder, result, sent_at)
    outcome = _record_sent(
        reminder, provider_message_id=result.provider_message_id, provider_status=result.status, sent_at=sent_at
    )
    return outcome, False


# A row another transaction held, or one a chunk had no time left for, is tried again this
# many seconds later by a new task.
BUSY_RETRY_SECONDS = 2.0
# A chunk stops starting sends after this long, so the bookings and patients it locks are not
# held for long behind a slow provider (a cancellation waits for them); the rest go in a new task.
CHUNK_SECONDS = 5.0


@transaction.atomic
def reminders_send(reminder_ids: list[int], *, attempt_limit: int | None = None) -> dict[int, Outcome]:
    """Send a chunk of claimed reminders, or say why not, in one transaction: the rows locked
    in one statement; the policy, the opt-outs and today's counts read once; each row
    re-checked under its lock and sent through its channel with its idempotency key; every
    outcome written in one update. Per row: "sent"; "cancelled", "skipped" or "deferred"
    (back to pending for the next opening) with the reason; "retry" after a transient failure
    (the row stays claimed, its lease extended past `retry_in`); "failed" into the staff queue
    after a permanent one or the last allowed attempt; "busy" (held by another transaction or
    out of time: try again in `retry_in`), or "lapsed" when its claim's lease has run out (the
    dispatcher claims it again); "gone" (sent, cancelled or failed meanwhile)."""
    ids = list(dict.fromkeys(reminder_ids))
    started = time.monotonic()
    locked = _lock(ids)
    outcomes: dict[int, Outcome] = {}
    lapsed_before = timezone.now() - timedelta(seconds=settings.REMINDER_CLAIM_LEASE_SECONDS)

    def busy(claimed_at: datetime | None) -> Outcome:
        # Tried again shortly, until the claim's lease runs out: from then the dispatcher
        # claims the row again, and a row held for good is not retried every few seconds forever.
        if claimed_at is None or claimed_at <= lapsed_before:
            return Outcome("lapsed")
        return Outcome("busy", retry_in=BUSY_RETRY_SECONDS)

    if missing := [pk for pk in ids if pk not in locked]:
        # Not locked: held by another transaction (try again), or no longer there to send.
        held = dict(
            Reminder.objects.filter(pk__in=missing, status=ReminderStatus.CLAIMED).values_list("pk", "claimed_at")
        )
        outcomes.update({pk: busy(held[pk]) if pk in held else Outcome("gone") for pk in missing})
    rows = [locked[pk] for pk in sorted(locked) if locked[pk].status == ReminderStatus.CLAIMED]
    outcomes.update({pk: Outcome("gone") for pk, row in locked.items() if row.status != ReminderStatus.CLAIMED})
    if not rows:
        return outcomes
    now, policy = timezone.now(), ReminderPolicy.current()
    opted_out, sent_today = _opted_out({r.patient_id for r in rows}), _sent_today(rows, now)
    journal = _journal_read(rows)
    limit = attempt_limit or settings.REMINDER_MAX_ATTEMPTS
    changed: list[Reminder] = []
    unsubscribed: list[Reminder] = []
    for reminder in rows:
        if reminder.pk in journal:
            # It went out before a crash that lost the chunk's commit: recorded, not sent again.
            entry = journal[reminder.pk]
            reminder.attempts += 1
            outcome = _record_sent(
                reminder,
                provider_message_id=entry["id"],
                provider_status=entry["status"],
                sent_at=datetime.fromisoformat(entry["at"]),
            )
        elif time.monotonic() - started > CHUNK_SECONDS:
            outcomes[reminder.pk] = busy(reminder.claimed_at)  # left claimed and unchanged, for the next task
            continue
        elif refusal := _recheck(reminder, policy=policy, opted_out=opted_out, sent_today=sent_today, now=now):
            outcome = refusal
        else:
            outcome, stopped = _attempt(reminder, policy, limit=limit, now=now)
            if stopped:
                # The patient's other rows in this chunk see the opt-out, as a later task would.
                opted_out.add((reminder.patient_id, reminder.channel))
                unsubscribed.append(reminder)
        if outcome.status == ReminderStatus.SENT:
            sent_today[reminder.patient_id] += 1
        reminder.updated_at = timezone.now()
        changed.append(reminder)
        outcomes[reminder.pk] = outcome
    _write(changed)
    if failed := [r for r in changed if r.status == ReminderStatus.FAILED]:
        StaffTask.objects.bulk_create([_failure_task(r) for r in failed])
    for reminder in unsubscribed:
        opt_out_set(patient=reminder.patient, channel=reminder.channel, opted_out=True, via=OptOutVia.PROVIDER)
    return outcomes


def reminder_send(reminder_id: int, *, attempt_limit: int | None = None) -> Outcome:
    """Send one claimed reminder: a chunk of one."""
    return reminders_send([reminder_id], attempt_limit=attempt_limit)[reminder_id]


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
    """Claim due rows batch by batch (each its own transaction) and, after each commit,
    enqueue their sends in chunks of REMINDER_SEND_CHUNK ids (`enqueue` gets one chunk), up
    to REMINDER_DISPATCH_MAX_BATCHES batches a run. If the broker cannot take them, the rows
    stay claimed and are claimed again when the lease runs out."""
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
    size = max(1, settings.REMINDER_SEND_CHUNK)
    for first in range(0, len(ids), size):
        try:
            enqueue(ids[first : first + size])
        except Exception:  # the broker is down: the leases bring the rows back
            logger.exception("could not enqueue %d reminder sends; they will be claimed again", len(ids) - first)
            return


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
