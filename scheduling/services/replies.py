"""Texts patients send back, and Twilio's delivery reports (DESIGN.md flow 4).

- `reply_handle` reads one inbound text: C confirms, R asks to reschedule, STOP and its
  synonyms stop all texts, START resumes, HELP answers, anything else goes to the front desk.
  It returns the text to answer with (the webhook wraps it in TwiML), or None.
- `status_callback_handle` moves a sent reminder to delivered or failed.

What the answers may say: they are read on a lock screen like the reminders, so they name no
program, drug, diagnosis or date, only the neutral sender (clinical.md § 6.5). An unknown
number learns nothing, not even that it reached a clinic: it gets no answer at all.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from enum import StrEnum

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.messaging import TWILIO_PERMANENT_REASONS, TWILIO_UNSUBSCRIBED_CODES
from clinic.models import AuditAction
from patients.models import Patient
from scheduling.models import (
    Booking,
    BookingStatus,
    InboundMessage,
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
from scheduling.services.reminders import opt_out_set, reminder_fail

logger = logging.getLogger(__name__)


class Intent(StrEnum):
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    STOP = "stop"
    START = "start"
    HELP = "help"
    OTHER = "other"


class Action(StrEnum):
    """What was done with an inbound text (InboundMessage.action). The answer is a function
    of it, so a retried webhook gets the same answer without anything being done again."""

    CONFIRMED = "confirmed"
    NOTHING_TO_CONFIRM = "nothing_to_confirm"
    RESCHEDULE = "reschedule"
    STOPPED = "stopped"
    STARTED = "started"
    HELP = "help"
    TO_READ = "to_read"
    UNKNOWN_NUMBER = "unknown_number"


# Keywords, compared with normalise()d text with its spaces removed, so "opt out", "OPT-OUT"
# and "optout" are one keyword, as are "stop all" and "STOPALL".
# Stop: the FCC 2024 Consent Revocation Order's per se words (stop, quit, end, revoke, opt out,
# cancel, unsubscribe; 47 CFR § 64.1200(a)(10)) and the CTIA/carrier set (STOPALL, REMOVE):
# clinical.md § 8.1. Start (UNSTOP, START, YES) and help (HELP, INFO): CTIA, same section.
# RESCHEDULE and CONFIRM are ours, beside the R and C the reminder text offers.
KEYWORDS: dict[str, Intent] = {
    **dict.fromkeys(["c", "confirm"], Intent.CONFIRM),
    **dict.fromkeys(["r", "reschedule"], Intent.RESCHEDULE),
    **dict.fromkeys(
        ["stop", "stopall", "end", "cancel", "unsubscribe", "quit", "revoke", "optout", "remove"], Intent.STOP
    ),
    **dict.fromkeys(["start", "unstop", "yes"], Intent.START),
    **dict.fromkeys(["help", "info"], Intent.HELP),
}

# Words that, inside a longer text, may mean "stop texting me". Such a text is not taken as an
# opt-out by itself ("I can't stop worrying about tomorrow"), but the front desk is told to
# look: the FCC judges other wordings "on the totality of the circumstances" and wants them
# honoured within 10 business days (clinical.md § 8.1). END, CANCEL and REMOVE are left out:
# "cancel my appointment" is about the appointment.
_STOPPISH = re.compile(r"\b(stop|stopall|unsubscribe|quit|revoke|opt ?out|do not text|don t text)\b")

_NOT_WORD = re.compile(r"[\W_]+")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def normalise(body: str) -> str:
    """The text as keywords are matched against it: Unicode-normalised (NFKC, so full-width
    letters are plain ones), case-folded, with every run of characters that are not letters or
    digits (spaces, punctuation, hyphens, emoji) made one space, and trimmed.
    " Stop. " -> "stop", "opt   out" and "OPT-OUT" -> "opt out", "C!" -> "c"."""
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", body).casefold()).strip()


def intent_of(text: str) -> Intent:
    """The keyword family of a normalise()d text; OTHER unless the whole text is a keyword
    (CTIA: "Stop texting me" is not the keyword STOP)."""
    return KEYWORDS.get(text.replace(" ", ""), Intent.OTHER)


# --- answers ---------------------------------------------------------------------------------


def reply_text(action: str, policy: ReminderPolicy) -> str | None:
    """The answer to a text handled with `action`. Each starts with the sender's name (CTIA
    wants the brand in STOP, START and HELP answers; in the others it says who is writing)."""
    sender = policy.sender_name
    match action:
        case Action.CONFIRMED:
            return f"{sender}: Thank you, your appointment is confirmed."
        case Action.NOTHING_TO_CONFIRM:
            return f"{sender}: We could not find an upcoming appointment to confirm. The office will contact you."
        case Action.RESCHEDULE:
            return f"{sender}: Thank you. The office will call you to find a new time."
        case Action.STOPPED:
            # CTIA: the brand and that nothing more will come; one text, no marketing (FCC 2024).
            return f"{sender}: You are unsubscribed and will receive no more messages. Reply START to resume."
        case Action.STARTED:
            # CTIA: an opt-in confirmation carries the opt-out instructions.
            return f"{sender}: You will receive appointment reminders again. Reply STOP to opt out, HELP for help."
        case Action.HELP:
            # CTIA: brand, a help contact, message frequency, "Msg & data rates may apply", how to stop.
            contact = f"Help: {policy.help_phone}" if policy.help_phone else "For help, call the office"
            return (
                f"{sender}: Reminders, up to {policy.max_per_day} msg/day. {contact}. "
                "Msg & data rates may apply. Reply STOP to opt out."
            )
        case Action.TO_READ:
            # A person in trouble may text the reminder number: say no one watches it live.
            return f"{sender}: Thank you, the office will read your message. In an emergency, call 911."
    return None


def all_reply_texts(policy: ReminderPolicy) -> dict[str, str]:
    """Every answer this module can give under `policy` (for checks and tests)."""
    return {action: text for action in Action if (text := reply_text(action, policy)) is not None}


# --- inbound texts ---------------------------------------------------------------------------


def _patients_with(number: str) -> list[Patient]:
    """Patients whose phone is this E.164 number, oldest record first (a family may share one)."""
    if not _E164.fullmatch(number):
        return []  # a short code, an alphanumeric sender: never a patient's phone
    return list(Patient.objects.filter(phone=number).order_by("pk"))


def _sent_reminders(patients: list[Patient]) -> QuerySet[Reminder]:
    return Reminder.objects.filter(
        patient__in=patients,
        channel=ReminderChannel.SMS,
        status__in=(ReminderStatus.SENT, ReminderStatus.DELIVERED),
        sent_at__isnull=False,
    ).order_by("-sent_at", "-id")


def _answered_reminder(patients: list[Patient], now: datetime) -> Reminder | None:
    """The reminder a C or R answers: the latest one texted to this number whose appointment
    is still booked and still ahead. A reminder of an appointment since cancelled is skipped
    for an earlier one of an appointment still coming."""
    return (
        _sent_reminders(patients)
        .filter(
            booking__status=BookingStatus.BOOKED,
            booking__starts_at__gt=now,
            booking__session__status=SessionStatus.SCHEDULED,
        )
        .select_related("booking", "patient")
        .first()
    )


def _likely_patient(patients: list[Patient]) -> Patient:
    """Which of the patients sharing a number most likely wrote: the one last reminded by
    text, else the oldest record. Used for the inbound message and a staff task; an opt-out
    applies to all of them."""
    if len(patients) == 1:
        return patients[0]
    latest = _sent_reminders(patients).values_list("patient_id", flat=True).first()
    return next((p for p in patients if p.pk == latest), patients[0])


def _shared_note(patients: list[Patient]) -> str:
    return f" This number is on file for {len(patients)} patients; check who wrote." if len(patients) > 1 else ""


def _confirm(inbound: InboundMessage, patients: list[Patient], now: datetime) -> Action:
    reminder = _answered_reminder(patients, now)
    # Locked and re-checked: a cancellation at the same moment wins or waits.
    booking = (
        Booking.objects.select_for_update()
        .filter(pk=reminder.booking_id, status=BookingStatus.BOOKED, starts_at__gt=now)
        .first()
        if reminder is not None
        else None
    )
    if reminder is None or booking is None:
        inbound.patient = _likely_patient(patients)
        StaffTask.objects.create(
            kind=StaffTaskKind.REPLY_TO_READ,
            patient=inbound.patient,
            inbound=inbound,
            detail=(
                "Replied to confirm, but no upcoming appointment with a reminder sent by text was found; "
                "the patient was told the office will get in touch." + _shared_note(patients)
            )[:300],
        )
        return Action.NOTHING_TO_CONFIRM
    inbound.patient, inbound.booking = reminder.patient, booking
    if booking.confirmed_at is None:  # a second C keeps the first confirmation's time
        booking.confirmed_at = now
        booking.save(update_fields=["confirmed_at", "updated_at"])
        audit_record(
            audit_target_for(booking, patient_path="patient"),
            action=AuditAction.UPDATE,
            actor=None,
            via="sms",
            reason="The patient confirmed the appointment by text.",
        )
    return Action.CONFIRMED


def _reschedule(inbound: InboundMessage, patients: list[Patient], now: datetime) -> Action:
    reminder = _answered_reminder(patients, now)
    if reminder is None:
        inbound.patient = _likely_patient(patients)
        detail = (
            "Asked by text to reschedule, but no upcoming appointment with a reminder sent by text was found; "
            "ask which one."
        )
        StaffTask.objects.create(
            kind=StaffTaskKind.RESCHEDULE_REQUEST,
            patient=inbound.patient,
            inbound=inbound,
            detail=(detail + _shared_note(patients))[:300],
        )
        return Action.RESCHEDULE
    inbound.patient, inbound.booking = reminder.patient, reminder.booking
    # One open request per appointment: a second R adds nothing for the desk to do.
    already = StaffTask.objects.filter(
        kind=StaffTaskKind.RESCHEDULE_REQUEST, booking=reminder.booking, done_at__isnull=True
    ).exists()
    if not already:
        StaffTask.objects.create(
            kind=StaffTaskKind.RESCHEDULE_REQUEST,
            patient=reminder.patient,
            booking=reminder.booking,
            reminder=reminder,
            inbound=inbound,
            detail="Asked by text to reschedule; call the patient to find a new time.",
        )
    return Action.RESCHEDULE


def _opt(inbound: InboundMessage, patients: list[Patient], *, opted_out: bool) -> Action:
    # Every patient on the number: whoever wrote, the phone's owner wants no more texts (or
    # wants them back), and a STOP that left a sibling's reminders running would not be honoured.
    for patient in patients:
        opt_out_set(patient=patient, channel=ReminderChannel.SMS, opted_out=opted_out, via=OptOutVia.SMS_REPLY)
    inbound.patient = _likely_patient(patients)
    return Action.STOPPED if opted_out else Action.STARTED


def _to_read(inbound: InboundMessage, patients: list[Patient], text: str, now: datetime) -> Action:
    # One task for the desk, on the patient who most likely wrote (not one per patient on a
    # shared number: the desk would answer the same text twice); the detail says it is shared.
    reminder = _answered_reminder(patients, now)
    inbound.patient = reminder.patient if reminder is not None else _likely_patient(patients)
    inbound.booking = reminder.booking if reminder is not None else None
    detail = "A text reply to read."
    if _STOPPISH.search(text):
        detail += " It may ask to stop texts: if so, record the opt-out."
    StaffTask.objects.create(
        kind=StaffTaskKind.REPLY_TO_READ,
        patient=inbound.patient,
        booking=inbound.booking,
        reminder=reminder,
        inbound=inbound,
        detail=(detail + _shared_note(patients))[:300],
    )
    return Action.TO_READ


@transaction.atomic
def reply_handle(*, from_number: str, body: str, provider_message_id: str) -> str | None:
    """Handle one text received from `from_number` and return the answer, or None for none.

    Idempotent on `provider_message_id` (Twilio's MessageSid): a retried webhook finds the
    message already stored and gets the same answer, with nothing done twice. Two deliveries
    at once queue on the unique index; the second sees the first's committed row.
    """
    inbound, created = InboundMessage.objects.get_or_create(
        provider_message_id=provider_message_id, defaults={"from_number": from_number, "body": body}
    )
    policy = ReminderPolicy.current()
    if not created:
        logger.info("inbound sms already handled: sid=%s action=%s", provider_message_id, inbound.action)
        return reply_text(inbound.action, policy)
    patients = _patients_with(from_number)
    if not patients:
        action = Action.UNKNOWN_NUMBER
    else:
        now, text = timezone.now(), normalise(body)
        intent = intent_of(text)
        if intent == Intent.START and text == "yes" and not _any_opted_out(patients):
            # YES re-subscribes after a STOP (CTIA); from someone receiving texts it answers
            # "Reply C to confirm" in words, and taking it as START would only confuse them.
            intent = Intent.CONFIRM
        match intent:
            case Intent.CONFIRM:
                action = _confirm(inbound, patients, now)
            case Intent.RESCHEDULE:
                action = _reschedule(inbound, patients, now)
            case Intent.STOP:
                action = _opt(inbound, patients, opted_out=True)
            case Intent.START:
                action = _opt(inbound, patients, opted_out=False)
            case Intent.HELP:
                inbound.patient = _likely_patient(patients)
                action = Action.HELP
            case _:
                action = _to_read(inbound, patients, text, now)
    inbound.action = action
    inbound.save(update_fields=["action", "patient", "booking"])
    # The sid and the action only: never the number, the text or who it is.
    logger.info("inbound sms handled: sid=%s action=%s", provider_message_id, action)
    return reply_text(action, policy)


def _any_opted_out(patients: list[Patient]) -> bool:
    return OptOut.objects.filter(patient__in=patients, channel=ReminderChannel.SMS, opted_out=True).exists()


# --- delivery reports ------------------------------------------------------------------------

# Twilio's message statuses in the order a message passes through them; a report never moves
# a row back (callbacks arrive out of order: "sent" may come after "delivered"). The final
# ones share a rank: the first final report wins.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
_DELIVERED = frozenset({"delivered", "read"})
_NOT_DELIVERED = frozenset({"undelivered", "failed", "canceled"})

# Delivery error codes (Twilio's 300xx, reported by status callbacks) in words the front desk
# can act on; the REST API's own refusals come from clinic.messaging.
# https://www.twilio.com/docs/api/errors
DELIVERY_REASONS = {
    **TWILIO_PERMANENT_REASONS,
    "30003": "The phone could not be reached (switched off or out of coverage)",
    "30004": "The message was blocked (the patient may have blocked the clinic's number)",
    "30005": "The number is unknown to the carrier or no longer in service",
    "30006": "The number is a landline or its carrier cannot receive texts",
    "30007": "The carrier filtered the message",
    "30008": "The carrier reported an unknown error",
}


def failure_reason(message_status: str, error_code: str) -> str:
    code = error_code.strip()
    known = DELIVERY_REASONS.get(code)
    if known:
        return f"{known} (Twilio {code})."
    what = "could not be sent" if message_status == "failed" else "was not delivered"
    return (
        f"The provider reports the text {what} (Twilio {code})." if code else f"The provider reports the text {what}."
    )


@transaction.atomic
def status_callback_handle(*, provider_message_id: str, message_status: str, error_code: str) -> bool:
    """Apply one delivery report to the reminder sent as `provider_message_id`. False when no
    reminder has that id (a reply's report, or one from before the send committed): ignored."""
    reminder = (
        Reminder.objects.select_for_update().filter(provider_message_id=provider_message_id).first()
        if provider_message_id
        else None
    )
    if reminder is None:
        logger.info("sms status callback for an unknown message ignored: sid=%s", provider_message_id)
        return False
    status = message_status.strip().lower()
    rank = _STATUS_RANK.get(status)
    if rank is None or rank <= _STATUS_RANK.get(reminder.provider_status, -1):
        return True  # unknown, repeated or late: nothing moves backwards
    reminder.provider_status = status
    if status in _DELIVERED and reminder.status == ReminderStatus.SENT:
        reminder.status = ReminderStatus.DELIVERED
    elif status in _NOT_DELIVERED and reminder.status in (ReminderStatus.SENT, ReminderStatus.DELIVERED):
        unsubscribed = error_code.strip() in TWILIO_UNSUBSCRIBED_CODES
        reminder_fail(reminder, failure_reason(status, error_code), unsubscribed=unsubscribed)
        logger.info("sms status callback applied: reminder=%s status=%s", reminder.pk, status)
        return True
    reminder.save(update_fields=["provider_status", "status", "reason", "updated_at"])
    logger.info("sms status callback applied: reminder=%s status=%s", reminder.pk, status)
    return True
