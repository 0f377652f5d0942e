"""Coordination with outside prescribers: the prescriber of record, and communications.

Part 2 (DESIGN.md; ../shared/reference/clinical.md section 6). Whatever leaves the clinic
here passes the consent gate of patients.services.consents and is recorded as a Disclosure by
`disclosure_record`, which locks the covering consent until the transaction commits. The send
itself happens inside that same transaction (the secure email in the worker; the release of
a letter to staff for fax, phone or mail in the request), so a revocation either waits for
the send to finish or wins and stops it: never a letter out under a consent already revoked,
never a Disclosure for an email that failed.

Secure email goes through Django's email backend, from a Celery task that takes the
communication's id only. Other channels are for staff to send from the letter's PDF.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict, Forbidden
from clinic.models import AuditAction
from clinic.queueing import enqueue_on_commit, retry_schedule
from clinic.roles import CLINICAL_ROLES, Role, require_role
from patients.access import clinically_visible_patients
from patients.consents import REDISCLOSURE_NOTICE
from patients.models import Consent, ConsentRecipientType, EpisodeOfCare, Patient
from patients.services.consents import consent_check, disclosure_record
from tapers import letters
from tapers.models import (
    Communication,
    CommunicationChannel,
    CommunicationDirection,
    CommunicationStatus,
    Prescriber,
    PrescriberOfRecord,
    Prescription,
)
from tapers.models.coordination import SYSTEM_SENT_CHANNELS

logger = logging.getLogger(__name__)

# Issue 6: only prescribers and clinicians on the care team choose the prescriber of record.
PRESCRIBER_OF_RECORD_SETTERS = frozenset({Role.PRESCRIBER, Role.CLINICIAN})
# Who writes to and records messages from outside prescribers: the clinical roles.
COMMUNICATORS = CLINICAL_ROLES
RECIPIENT_TYPE = ConsentRecipientType.OUTSIDE_PRESCRIBER


def _require_care_team(by: Any, patient: Patient, doing: str) -> None:
    # Services are reached from the API (which scopes first) and the admin: check here too.
    if not clinically_visible_patients(by).filter(pk=patient.pk).exists():
        raise Forbidden(f"Only the patient's care team may {doing}.")


# --- Reads ----------------------------------------------------------------------------------


def prescriber_of_record(of: Patient | EpisodeOfCare, *, on: date | None = None) -> PrescriberOfRecord | None:
    """The prescriber of record (with its prescriber) of an episode, or of a patient's open
    episode; `on` a date: whoever it was that day, in any episode. None when there is none."""
    rows = PrescriberOfRecord.objects.select_related("prescriber", "episode")
    if isinstance(of, EpisodeOfCare):
        rows = rows.filter(episode=of)
    elif on is None:
        rows = rows.filter(episode__patient=of, episode__discharged_on__isnull=True)
    else:
        rows = rows.filter(episode__patient=of)
    if on is None:
        return rows.filter(ended_on__isnull=True).first()
    return rows.filter(Q(ended_on__isnull=True) | Q(ended_on__gt=on), started_on__lte=on).first()


def prescriber_of_record_list() -> QuerySet[PrescriberOfRecord]:
    return PrescriberOfRecord.objects.select_related("episode__patient", "prescriber", "set_by")


def communication_list() -> QuerySet[Communication]:
    return Communication.objects.select_related("patient", "prescriber", "disclosure__consent")


def _prescribing_prescriber_ids(patient: Patient) -> QuerySet[Any]:
    """Prescribers of the patient's ledger prescriptions (rows entered in error aside)."""
    return Prescription.objects.filter(patient=patient, entered_in_error_at__isnull=True).values("prescriber_id")


def outside_prescribers_of(patient: Patient) -> QuerySet[Prescriber]:
    """Outside prescribers known to prescribe (or to have prescribed) to the patient: earlier
    prescribers of record, prescribers we have corresponded with about them, and the
    prescribers on their prescription ledger."""
    known = (
        Q(pk__in=PrescriberOfRecord.objects.filter(episode__patient=patient).values("prescriber_id"))
        | Q(pk__in=Communication.objects.filter(patient=patient).values("prescriber_id"))
        | Q(pk__in=_prescribing_prescriber_ids(patient))
    )
    return Prescriber.objects.filter(known, staff__isnull=True).order_by("name", "id")


# --- Communications -------------------------------------------------------------------------

# Where a channel sends to, for the check that we have it on file.
_CHANNEL_ADDRESS = {
    CommunicationChannel.SECURE_EMAIL: ("secure_email", "a secure email address"),
    CommunicationChannel.FAX: ("fax", "a fax number"),
    CommunicationChannel.PHONE: ("phone", "a phone number"),
    CommunicationChannel.MAIL: ("address", "a postal address"),
}


def _check_reachable(prescriber: Prescriber, channel: str) -> None:
    if channel in _CHANNEL_ADDRESS:
        attribute, what = _CHANNEL_ADDRESS[CommunicationChannel(channel)]
        if not getattr(prescriber, attribute):
            raise ApplicationError(
                f"{prescriber} has no {what.split(' ', 1)[1]} on file; add {what} to the prescriber or choose "
                "another channel.",
                extra={"fields": {"channel": [f"No {what.split(' ', 1)[1]} on file for this prescriber."]}},
            )


def _check_text(subject: str, body: str) -> None:
    errors = {name: ["Write something."] for name, value in (("subject", subject), ("body", body)) if not value.strip()}
    if errors:
        raise ApplicationError("A letter needs a subject and a body.", extra={"fields": errors})


def best_channel(prescriber: Prescriber) -> str | None:
    """The channel a notice goes by: secure email if we have it, then fax, mail, phone."""
    for channel in (
        CommunicationChannel.SECURE_EMAIL,
        CommunicationChannel.FAX,
        CommunicationChannel.MAIL,
        CommunicationChannel.PHONE,
    ):
        if getattr(prescriber, _CHANNEL_ADDRESS[channel][0]):
            return channel
    return None


@transaction.atomic
def communication_draft(
    *,
    patient: Patient,
    prescriber: Prescriber,
    channel: str,
    subject: str,
    body: str,
    information: list[str],
    purpose: str,
    by: Any,
    request: HttpRequest | None = None,
) -> Communication:
    """An outbound letter, not yet sent: nothing leaves the clinic until communication_send."""
    require_role(by, COMMUNICATORS, "write to outside prescribers")
    _require_care_team(by, patient, "write to outside prescribers about them")
    _check_text(subject, body)
    if prescriber.is_internal:
        raise ApplicationError(
            "That prescriber is on our staff; this log is for outside prescribers.",
            extra={"fields": {"prescriber": ["One of our own prescribers."]}},
        )
    if not information:
        raise ApplicationError(
            "Say what the letter discloses.", extra={"fields": {"information": ["Choose at least one."]}}
        )
    _check_reachable(prescriber, channel)
    communication = Communication.objects.create(
        patient=patient,
        prescriber=prescriber,
        direction=CommunicationDirection.OUTBOUND,
        channel=channel,
        subject=subject.strip(),
        body=body.strip(),
        information=sorted(set(information)),
        purpose=purpose,
        status=CommunicationStatus.DRAFT,
        created_by=by,
    )
    audit_objects([communication], AuditAction.CREATE, by=by, request=request, patient_path="patient")
    return communication


@transaction.atomic
def communication_record_inbound(
    *,
    patient: Patient,
    prescriber: Prescriber,
    channel: str,
    subject: str,
    body: str,
    received_at: datetime | None = None,
    by: Any,
    request: HttpRequest | None = None,
) -> Communication:
    """A message from an outside prescriber. Receiving discloses nothing: no consent needed."""
    require_role(by, COMMUNICATORS, "record messages from outside prescribers")
    _require_care_team(by, patient, "record messages about them")
    _check_text(subject, body)
    at = received_at or timezone.now()
    if at > timezone.now() + timedelta(minutes=5):
        raise ApplicationError("That time is in the future.", extra={"fields": {"received_at": ["In the future."]}})
    communication = Communication.objects.create(
        patient=patient,
        prescriber=prescriber,
        direction=CommunicationDirection.INBOUND,
        channel=channel,
        subject=subject.strip(),
        body=body.strip(),
        status=CommunicationStatus.RECEIVED,
        received_at=at,
        created_by=by,
    )
    audit_objects([communication], AuditAction.CREATE, by=by, request=request, patient_path="patient")
    return communication


def _gate(communication: Communication) -> None:
    """Forbidden, naming the missing consent, unless a consent covers this letter today."""
    consent_check(
        patient=communication.patient,
        recipient_type=RECIPIENT_TYPE,
        recipient_name=communication.prescriber.name,
        information=list(communication.information),
        purpose=communication.purpose,
        on=timezone.localdate(),
    )


def _release(communication: Communication, *, by: Any, request: HttpRequest | None) -> None:
    """Record the Disclosure under the covering consent (locking it until commit) and make the
    body the letter as sent: the 42 CFR 2.32 notice and the scope of the consent (2.32 asks for
    a copy of the consent or a clear explanation of its scope). Raises Forbidden, with nothing
    recorded, when no consent covers it now."""
    disclosure = disclosure_record(
        patient=communication.patient,
        recipient_type=RECIPIENT_TYPE,
        recipient_name=communication.prescriber.name,
        information=list(communication.information),
        purpose=communication.purpose,
        description=f"Letter to an outside prescriber by {communication.get_channel_display().lower()}: "
        f"{communication.subject}",
        by=by,
        request=request,
    )
    consent = disclosure.consent
    expiry = f"{consent.expires_on:%Y-%m-%d}" if consent.expires_on else consent.expiry_event
    scope = (
        f"Disclosed with the patient's written consent signed {consent.signed_at:%Y-%m-%d}, which allows "
        f"{consent.amount_and_kind.strip()} to be disclosed to {consent.recipient_name} for "
        f"{', '.join(p.replace('_', ' ') for p in consent.purposes)}, until {expiry}."
    )
    # The scope always goes with the release; the notice once (the writer may have quoted it).
    notice = "" if REDISCLOSURE_NOTICE in communication.body else f"\n\n{REDISCLOSURE_NOTICE}"
    communication.body = f"{communication.body}\n\n{scope}{notice}"
    communication.disclosure = disclosure


@transaction.atomic
def communication_send(*, communication: Communication, by: Any, request: HttpRequest | None = None) -> Communication:
    """Send a draft (or a failed letter again). Refused with 403 naming the missing consent,
    nothing recorded, when no consent covers it. Secure email: queued for the worker, which
    records the Disclosure as it sends. Other channels: the Disclosure is recorded now and
    the letter is released for staff to send from its PDF."""
    require_role(by, COMMUNICATORS, "send letters to outside prescribers")
    communication = (
        Communication.objects.select_for_update(of=("self",))
        .select_related("patient", "prescriber")
        .get(pk=communication.pk)
    )
    _require_care_team(by, communication.patient, "write to outside prescribers about them")
    return _send(communication, by=by, request=request)


def _send(communication: Communication, *, by: Any, request: HttpRequest | None) -> Communication:
    """communication_send once the caller's role and care team are checked and the row is
    locked (or, for a change notice, created in this same transaction)."""
    if communication.direction != CommunicationDirection.OUTBOUND:
        raise Conflict("This is a message we received; there is nothing to send.")
    if communication.status not in {CommunicationStatus.DRAFT, CommunicationStatus.FAILED}:
        raise Conflict(
            f"This letter is already {communication.get_status_display().lower()}.",
            extra={"status": communication.status},
        )
    _check_reachable(communication.prescriber, communication.channel)
    communication.sent_by = by
    communication.failure_reason = ""
    if communication.channel in SYSTEM_SENT_CHANNELS:
        _gate(communication)
        communication.status = CommunicationStatus.QUEUED
        communication.save()
        from tapers.tasks.coordination import send_communication

        enqueue_on_commit(send_communication, communication.pk)
    else:
        _release(communication, by=by, request=request)
        communication.status = CommunicationStatus.TO_SEND_BY_STAFF
        communication.save()
    audit_objects([communication], AuditAction.UPDATE, by=by, request=request, patient_path="patient")
    return communication


def _check_still_consented(communication: Communication) -> None:
    """A letter released for staff to send is not handed out or sent once the patient has
    revoked the consent it was released under (its Disclosure stays: it marks the release)."""
    if communication.status != CommunicationStatus.TO_SEND_BY_STAFF or communication.disclosure_id is None:
        return
    consent = Consent.objects.get(disclosures__pk=communication.disclosure_id)
    if consent.revoked_at is not None:
        raise Forbidden(
            "The patient revoked the consent this letter was released under; do not send it. Record a new "
            "consent and send the letter again if the patient agrees.",
            extra={"revoked_consent": str(consent.public_id)},
        )


@transaction.atomic
def communication_mark_sent(
    *, communication: Communication, by: Any, request: HttpRequest | None = None
) -> Communication:
    """Staff sent a released letter by fax, phone, mail, portal or in person."""
    require_role(by, COMMUNICATORS, "send letters to outside prescribers")
    communication = (
        Communication.objects.select_for_update(of=("self",)).select_related("patient").get(pk=communication.pk)
    )
    _require_care_team(by, communication.patient, "send letters about them")
    if communication.status != CommunicationStatus.TO_SEND_BY_STAFF:
        raise Conflict(
            "Only a letter released for staff to send can be marked sent; send it first.",
            extra={"status": communication.status},
        )
    _check_still_consented(communication)
    communication.status = CommunicationStatus.SENT
    communication.sent_at = timezone.now()
    communication.save(update_fields=["status", "sent_at", "updated_at"])
    audit_objects([communication], AuditAction.UPDATE, by=by, request=request, patient_path="patient")
    return communication


@transaction.atomic
def communication_record_response(
    *,
    communication: Communication,
    response: str,
    responded_at: datetime | None = None,
    by: Any,
    request: HttpRequest | None = None,
) -> Communication:
    """The prescriber's answer to a letter we sent. Receiving it discloses nothing."""
    require_role(by, COMMUNICATORS, "record responses from outside prescribers")
    communication = (
        Communication.objects.select_for_update(of=("self",)).select_related("patient").get(pk=communication.pk)
    )
    _require_care_team(by, communication.patient, "record responses about them")
    if not response.strip():
        raise ApplicationError("Write the response.", extra={"fields": {"response": ["Write something."]}})
    if communication.direction != CommunicationDirection.OUTBOUND or communication.status != CommunicationStatus.SENT:
        raise Conflict("A response is recorded against a letter we sent.", extra={"status": communication.status})
    if communication.response:
        raise Conflict("This letter's response is already recorded; record a further message as inbound.")
    at = responded_at or timezone.now()
    if at > timezone.now() + timedelta(minutes=5) or (communication.sent_at and at < communication.sent_at):
        raise ApplicationError(
            "A response comes after the letter was sent, and not in the future.",
            extra={"fields": {"responded_at": ["Out of range."]}},
        )
    communication.response = response.strip()
    communication.responded_at = at
    communication.save(update_fields=["response", "responded_at", "updated_at"])
    audit_objects([communication], AuditAction.UPDATE, by=by, request=request, patient_path="patient")
    return communication


# --- The letter -----------------------------------------------------------------------------


def _letterhead(sender: Any) -> list[str]:
    profile = getattr(sender, "staff_profile", None)
    location = profile.primary_location if profile is not None else None
    if location is None:
        return [settings.COORDINATION_LETTERHEAD_NAME, *settings.COORDINATION_LETTERHEAD_LINES]
    street = ", ".join(filter(None, [location.address_line1, location.address_line2]))
    lines = [location.name, street, f"{location.city}, {location.state} {location.postal_code}"]
    if location.phone:
        lines.append(f"Phone {location.phone.as_national}")
    return lines


def _signature(sender: Any) -> list[str]:
    if sender is None:
        return ["(not yet signed: this letter has not been released)"]
    profile = getattr(sender, "staff_profile", None)
    name = sender.get_full_name() or sender.get_username()
    lines = [f"{name}, {profile.credentials}" if profile is not None and profile.credentials else name]
    if profile is not None and profile.npi:
        lines.append(f"NPI {profile.npi}")
    if profile is not None and profile.phone:
        lines.append(f"Phone {profile.phone.as_national}")
    return lines


def _recipient(prescriber: Prescriber) -> list[str]:
    lines = [str(prescriber), prescriber.practice, *prescriber.address.splitlines()]
    if prescriber.fax:
        lines.append(f"Fax {prescriber.fax.as_national}")
    return [line for line in lines if line.strip()]


def letter_pdf(communication: Communication) -> bytes:
    """The letter as PDF. Only the communication's own patient is on it."""
    patient = communication.patient
    # Dated the day the gate released it (the Disclosure), whenever staff print or send it.
    released = communication.disclosure.disclosed_at if communication.disclosure else None
    sent_on = released or communication.sent_at or communication.updated_at
    letter = letters.Letter(
        letterhead=_letterhead(communication.sent_by),
        dated=timezone.localdate(sent_on),
        recipient=_recipient(communication.prescriber),
        regarding=(
            f"{patient.legal_first_name} {patient.legal_last_name}, date of birth {patient.date_of_birth:%Y-%m-%d}"
        ),
        subject=communication.subject,
        body=communication.body,
        signature=_signature(communication.sent_by),
        notice=REDISCLOSURE_NOTICE,
        reference=str(communication.public_id),
    )
    return letters.render(letter, font_path=settings.COORDINATION_LETTER_FONT_PATH)


def communication_letter(*, communication: Communication, by: Any, request: HttpRequest | None = None) -> bytes:
    """The PDF of a letter the consent gate has released (before that, there is no letter to
    hand out: a draft printed and faxed would be a disclosure nobody recorded)."""
    if communication.direction != CommunicationDirection.OUTBOUND:
        raise Conflict("This is a message we received; there is no letter of ours to print.")
    if communication.disclosure_id is None:
        raise Conflict(
            "The letter is made once it has passed the consent check: send it first.",
            extra={"status": communication.status},
        )
    _check_still_consented(communication)
    pdf = letter_pdf(communication)
    audit_objects([communication], AuditAction.EXPORT, by=by, request=request, patient_path="patient")
    return pdf


# --- Sending by secure email (the worker) ---------------------------------------------------


def _send_secure_email(communication: Communication, pdf: bytes) -> None:
    message = EmailMessage(
        subject=f"Confidential: {communication.subject}",
        body=communication.body,
        from_email=settings.COORDINATION_FROM_EMAIL,
        to=[communication.prescriber.secure_email],
    )
    message.attach(f"letter-{communication.public_id}.pdf", pdf, "application/pdf")
    message.send(fail_silently=False)


# The channel adapters the system sends through itself; the others are sent by staff.
CHANNEL_ADAPTERS: dict[str, Callable[[Communication, bytes], None]] = {
    CommunicationChannel.SECURE_EMAIL: _send_secure_email,
}

# What the email backend raises when the server is down or refuses: worth trying again.
TRANSIENT_SEND_ERRORS: tuple[type[Exception], ...] = (OSError, smtplib.SMTPException)


def communications_owed_send(before: datetime) -> QuerySet[Communication, int]:
    """Ids of letters queued for the worker and not touched since `before` less the send task's
    whole retry schedule (it leaves a letter queued and untouched while it retries): their send
    was never enqueued (the broker was down) or its task was lost."""
    schedule = retry_schedule(
        base_seconds=settings.COORDINATION_EMAIL_RETRY_BASE_SECONDS, retries=settings.COORDINATION_EMAIL_MAX_RETRIES
    )
    return Communication.objects.filter(
        status=CommunicationStatus.QUEUED, updated_at__lt=before - schedule
    ).values_list("pk", flat=True)


def communication_deliver(communication_id: int, *, last_try: bool = True) -> str:
    """Send a queued letter: "sent", "refused" (no consent covers it any more: nothing sent,
    no Disclosure), "failed" (a passing failure on the last try), or "skipped" (gone, or not
    queued: already handled). Before the last try a passing failure (TRANSIENT_SEND_ERRORS) is
    raised, with nothing recorded and the letter still queued, for the task to retry. Safe to
    run twice."""
    try:
        with transaction.atomic():
            communication = (
                Communication.objects.select_for_update(of=("self",))
                .select_related("patient", "prescriber", "sent_by__staff_profile__primary_location")
                .filter(pk=communication_id, status=CommunicationStatus.QUEUED)
                .first()
            )
            if communication is None:
                return "skipped"
            try:
                _release(communication, by=communication.sent_by, request=None)
            except Forbidden as refusal:
                # Revoked or expired since it was queued: the gate says no, and nothing goes.
                communication.status = CommunicationStatus.FAILED
                communication.failure_reason = f"Not sent: {refusal.message}"[:300]
                communication.save(update_fields=["status", "failure_reason", "updated_at"])
                logger.info("communication %s refused at the consent gate", communication.public_id)
                return "refused"
            # The consent stays locked while the email goes, so a revocation waits for it.
            CHANNEL_ADAPTERS[communication.channel](communication, letter_pdf(communication))
            communication.status = CommunicationStatus.SENT
            communication.sent_at = timezone.now()
            communication.save()
            logger.info("communication %s sent", communication.public_id)
            return "sent"
    except TRANSIENT_SEND_ERRORS as error:
        # The Disclosure rolled back with the transaction: nothing was recorded as sent.
        if not last_try:
            logger.warning("communication %s send failed (%s); will retry", communication_id, type(error).__name__)
            raise
        Communication.objects.filter(pk=communication_id, status=CommunicationStatus.QUEUED).update(
            status=CommunicationStatus.FAILED,
            failure_reason=f"The email server could not take the letter ({type(error).__name__}); send it again.",
            updated_at=timezone.now(),
        )
        logger.warning("communication %s failed: %s", communication_id, type(error).__name__)
        return "failed"


# --- The prescriber of record ---------------------------------------------------------------


@dataclass
class NoticeOutcome:
    prescriber: Prescriber
    communication: Communication | None = None
    reason: str = ""
    missing_consent: dict[str, Any] | None = None


@dataclass
class PrescriberOfRecordChange:
    record: PrescriberOfRecord
    previous: PrescriberOfRecord | None
    notified: list[NoticeOutcome] = field(default_factory=list)
    not_notified: list[NoticeOutcome] = field(default_factory=list)


def _check_start(episode: EpisodeOfCare, started_on: date, current: PrescriberOfRecord | None, reason: str) -> None:
    today = timezone.localdate()
    window = settings.BACKDATE_WINDOW_DAYS
    problem = None
    if started_on > today:
        problem = "That date is in the future; record the change on the day it happens."
    elif started_on < today - timedelta(days=window):
        problem = f"That date is more than {window} days ago."
    elif started_on < episode.admitted_on:
        problem = "That date is before the patient's admission."
    elif current is not None and started_on < current.started_on:
        problem = "That date is before the current prescriber of record started."
    elif started_on < today and not reason.strip():
        problem = "A backdated change needs a reason."
    if problem:
        raise ApplicationError(problem, extra={"fields": {"started_on": [problem]}})


@transaction.atomic
def prescriber_of_record_set(
    *,
    episode: EpisodeOfCare,
    prescriber: Prescriber,
    by: Any,
    reason: str = "",
    started_on: date | None = None,
    notify: bool = True,
    request: HttpRequest | None = None,
) -> PrescriberOfRecordChange:
    """Make `prescriber` the episode's prescriber of record: the current one ends the day the new
    one starts, in one transaction under a lock on the episode. Then each other outside
    prescriber of the patient is sent a notice, consent permitting; the change lists who was
    notified and who was not, and why."""
    require_role(by, PRESCRIBER_OF_RECORD_SETTERS, "set the prescriber of record")
    # Two changes at once: the second waits here and then sees the first's row as current.
    episode = EpisodeOfCare.objects.select_for_update().select_related("patient").get(pk=episode.pk)
    _require_care_team(by, episode.patient, "set their prescriber of record")
    if episode.discharged_on is not None:
        raise Conflict("This episode of care is closed (discharged); its prescriber of record stays as it was.")
    if not prescriber.is_active:
        raise ApplicationError(
            "That prescriber is marked inactive.", extra={"fields": {"prescriber": ["Inactive prescriber."]}}
        )
    current = PrescriberOfRecord.objects.filter(episode=episode, ended_on__isnull=True).first()
    if current is not None and current.prescriber_id == prescriber.pk:
        raise Conflict("That prescriber is already the prescriber of record.")
    started_on = started_on or timezone.localdate()
    _check_start(episode, started_on, current, reason)
    if current is not None:
        current.ended_on = started_on
        current.save(update_fields=["ended_on", "updated_at"])
        audit_objects([current], AuditAction.UPDATE, by=by, request=request, patient_path="episode.patient")
    record = PrescriberOfRecord.objects.create(
        episode=episode, prescriber=prescriber, started_on=started_on, set_by=by, reason=reason.strip()
    )
    audit_objects([record], AuditAction.CREATE, by=by, request=request, patient_path="episode.patient")
    change = PrescriberOfRecordChange(record=record, previous=current)
    if notify:
        for other in outside_prescribers_of(episode.patient).exclude(pk=prescriber.pk):
            outcome = _notify(other, change, by=by, request=request)
            (change.notified if outcome.communication else change.not_notified).append(outcome)
    return change


def _notify(
    other: Prescriber, change: PrescriberOfRecordChange, *, by: Any, request: HttpRequest | None
) -> NoticeOutcome:
    """Tell one other prescriber who prescribes now, if a consent lets us; else say why not."""
    record = change.record
    patient = record.episode.patient
    if not other.is_active:
        return NoticeOutcome(other, reason="The prescriber is marked inactive.")
    channel = best_channel(other)
    if channel is None:
        return NoticeOutcome(other, reason="No secure email, fax, postal address or phone on file.")
    information = list(settings.COORDINATION_NOTICE_INFORMATION)
    purposes = list(settings.COORDINATION_NOTICE_PURPOSES)
    refusal: Forbidden | None = None
    for purpose in purposes:
        try:
            consent_check(
                patient=patient,
                recipient_type=RECIPIENT_TYPE,
                recipient_name=other.name,
                information=information,
                purpose=purpose,
                on=timezone.localdate(),
            )
        except Forbidden as error:
            refusal = refusal or error
            continue
        break
    else:
        # No covering consent: nothing is written to them, nothing recorded as sent.
        message = refusal.message if refusal else "No consent covers a notice to this prescriber."
        missing = refusal.extra.get("missing_consent") if refusal else None
        return NoticeOutcome(other, reason=message, missing_consent=missing)
    context = {
        "patient": patient,
        "record": record,
        "new": record.prescriber,
        "previous": change.previous.prescriber if change.previous else None,
        "recipient": other,
    }
    # The notice's own savepoint: if this prescriber's consent is revoked as we record it, the
    # change and the other notices stand, and this one is listed as not sent.
    try:
        with transaction.atomic():
            communication = Communication.objects.create(
                patient=patient,
                prescriber=other,
                direction=CommunicationDirection.OUTBOUND,
                channel=channel,
                subject=render_to_string("tapers/prescriber_of_record_subject.txt", context).strip()[:200],
                body=render_to_string("tapers/prescriber_of_record_body.txt", context).strip(),
                information=sorted(information),
                purpose=purpose,
                status=CommunicationStatus.DRAFT,
                created_by=by,
            )
            audit_objects([communication], AuditAction.CREATE, by=by, request=request, patient_path="patient")
            # prescriber_of_record_set has checked the role and the care team, and the row is
            # this transaction's own: no need to check and lock again for each prescriber.
            communication = _send(communication, by=by, request=request)
    except Forbidden as error:
        return NoticeOutcome(other, reason=error.message, missing_consent=error.extra.get("missing_consent"))
    return NoticeOutcome(other, communication=communication)
