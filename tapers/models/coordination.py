"""The prescriber of record of each episode of care, and communications with outside prescribers.

Everything outbound here is a 42 CFR Part 2 disclosure: it goes out only through
tapers.services.coordination, which passes the consent gate of patients.services.consents and
records the Disclosure in the same transaction as the send (DESIGN.md, "Part 2").
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from clinic.models import PublicModel
from patients.models import DateRange, DisclosureInformation, DisclosurePurpose


class PrescriberOfRecord(PublicModel):
    """Who prescribes the episode's controlled medication: [started_on, ended_on).

    Changing it closes the current row and opens the next (prescriber_of_record_set); the
    closed rows are the history, never edited or deleted.
    """

    episode = models.ForeignKey(
        "patients.EpisodeOfCare", on_delete=models.PROTECT, related_name="prescribers_of_record"
    )
    prescriber = models.ForeignKey("tapers.Prescriber", on_delete=models.PROTECT, related_name="of_record")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="First day no longer the prescriber of record.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["started_on", "id"]
        verbose_name = "prescriber of record"
        verbose_name_plural = "prescribers of record"
        constraints = [
            # Issue 6, item 2: one prescriber of record per episode. Two people setting it at the
            # same moment cannot both win: the database refuses the second open row.
            models.UniqueConstraint(
                fields=["episode"],
                condition=Q(ended_on__isnull=True),
                name="prescriber_of_record_one_current",
                violation_error_message="This episode already has a current prescriber of record.",
            ),
            # And the history never has two at once (a backdated change cannot overlap an older row).
            ExclusionConstraint(
                name="prescriber_of_record_no_overlap",
                expressions=[
                    ("episode", RangeOperators.EQUAL),
                    (DateRange("started_on", "ended_on", models.Value("[)")), RangeOperators.OVERLAPS),
                ],
                violation_error_message="Two prescribers of record of one episode cannot overlap.",
            ),
            # Equal dates are a same-day correction: an empty range, kept as history.
            models.CheckConstraint(
                name="prescriber_of_record_ends_after_start",
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                violation_error_message="A prescriber of record cannot end before they start.",
            ),
        ]
        indexes = [
            # "Which outside prescribers has this patient had?" when notifying them of a change.
            models.Index(fields=["prescriber"], name="prescriber_of_record_by_pres"),
        ]

    def __str__(self) -> str:
        return f"Prescriber of record {self.public_id}"


class CommunicationDirection(models.TextChoices):
    OUTBOUND = "outbound", "To the prescriber"
    INBOUND = "inbound", "From the prescriber"


class CommunicationChannel(models.TextChoices):
    SECURE_EMAIL = "secure_email", "Secure email"
    FAX = "fax", "Fax"
    PHONE = "phone", "Phone"
    MAIL = "mail", "Mail"
    PORTAL = "portal", "Portal"
    IN_PERSON = "in_person", "In person"


# Sent by the system itself (the worker, through Django's email backend); every other channel
# is sent by staff, from the letter's PDF, after the consent gate has released it.
SYSTEM_SENT_CHANNELS = frozenset({CommunicationChannel.SECURE_EMAIL})


class CommunicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Passed the consent check; with the worker to send"
    TO_SEND_BY_STAFF = "to_send_by_staff", "Passed the consent check; for staff to send"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


class Communication(PublicModel):
    """One message to or from an outside prescriber about one patient."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prescriber_communications")
    prescriber = models.ForeignKey("tapers.Prescriber", on_delete=models.PROTECT, related_name="communications")
    direction = models.CharField(max_length=8, choices=CommunicationDirection.choices)
    channel = models.CharField(max_length=16, choices=CommunicationChannel.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    # What an outbound message discloses and why: the consent gate is asked about exactly these.
    information = ArrayField(
        models.CharField(max_length=24, choices=DisclosureInformation.choices), default=list, blank=True
    )
    purpose = models.CharField(max_length=24, choices=DisclosurePurpose.choices, blank=True)
    status = models.CharField(max_length=20, choices=CommunicationStatus.choices)
    # Why a send failed, in words for staff; never patient data.
    failure_reason = models.CharField(max_length=300, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who released it past the consent gate; the letter is signed by them.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True, help_text="Inbound: when it reached us.")
    response = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    # The consent it was released under is the disclosure's (a Disclosure always has one).
    disclosure = models.OneToOneField(
        "patients.Disclosure", on_delete=models.PROTECT, null=True, blank=True, related_name="communication"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="communication_has_subject_and_body",
                condition=~Q(subject="") & ~Q(body=""),
                violation_error_message="A communication needs a subject and a body.",
            ),
            models.CheckConstraint(
                name="communication_status_fits_direction",
                condition=Q(direction="inbound", status="received") | (Q(direction="outbound") & ~Q(status="received")),
                violation_error_message="Inbound messages are received; outbound ones are drafted and sent.",
            ),
            # Part 2, in the database: nothing outbound is released or sent without the
            # Disclosure recorded under its consent.
            models.CheckConstraint(
                name="communication_released_has_disclosure",
                condition=~Q(status__in=["sent", "to_send_by_staff"], direction="outbound")
                | Q(disclosure__isnull=False),
                violation_error_message="An outbound message is sent only with its disclosure recorded.",
            ),
            models.CheckConstraint(
                name="communication_outbound_says_what_and_why",
                condition=Q(direction="inbound") | (~Q(information=[]) & ~Q(purpose="")),
                violation_error_message="Say what an outbound message discloses and for what purpose.",
            ),
            models.CheckConstraint(
                name="communication_sent_has_time",
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                violation_error_message="A sent message has its time.",
            ),
            models.CheckConstraint(
                name="communication_response_has_time",
                condition=Q(response="") | Q(responded_at__isnull=False),
                violation_error_message="A response has its time.",
            ),
        ]
        indexes = [
            # The log of one patient, newest first (GET /communications/?patient=).
            models.Index(fields=["patient", "-created_at"], name="communication_patient_time"),
            # "Which outside prescribers have we written to about this patient?" (the change notice).
            models.Index(fields=["prescriber", "patient"], name="communication_prescriber"),
        ]

    def __str__(self) -> str:
        return f"Communication {self.public_id}"
