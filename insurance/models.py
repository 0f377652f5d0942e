"""Insurance: payers, coverages, self-pay plans, eligibility checks, authorizations and the
billing work queue (DESIGN.md flow 7)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from clinic.models import PublicModel
from patients.models import DateRange


class Payer(PublicModel):
    name = models.CharField(max_length=200, unique=True)
    payer_id = models.CharField(
        "clearinghouse payer id", max_length=80, help_text="The id the clearinghouse routes 270s by (NM109 of 2100A)."
    )
    phone = PhoneNumberField(blank=True, help_text="Provider services line, for manual checks and reviews.")
    portal_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CoveragePriority(models.IntegerChoices):
    PRIMARY = 1, "Primary"
    SECONDARY = 2, "Secondary"
    TERTIARY = 3, "Tertiary"


class SubscriberRelationship(models.TextChoices):
    # X12 individual relationship codes (INS02) for the ones a clinic meets.
    SELF = "18", "Self"
    SPOUSE = "01", "Spouse"
    CHILD = "19", "Child"
    OTHER = "G8", "Other relationship"


class Sex(models.TextChoices):
    # DMG03 of the 270.
    MALE = "M", "Male"
    FEMALE = "F", "Female"
    UNKNOWN = "U", "Unknown"


class Coverage(PublicModel):
    """A patient's insurance. When the patient is not the subscriber, the subscriber's name and
    date of birth go in the 270 and the patient is the dependent."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    member_id = models.CharField(max_length=80)
    group_number = models.CharField(max_length=50, blank=True)
    plan_name = models.CharField(max_length=200, blank=True)
    priority = models.PositiveSmallIntegerField(choices=CoveragePriority.choices, default=CoveragePriority.PRIMARY)
    subscriber_relationship = models.CharField(
        max_length=2, choices=SubscriberRelationship.choices, default=SubscriberRelationship.SELF
    )
    subscriber_first_name = models.CharField(max_length=100, blank=True)
    subscriber_last_name = models.CharField(max_length=100, blank=True)
    subscriber_date_of_birth = models.DateField(null=True, blank=True)
    subscriber_sex = models.CharField(max_length=1, blank=True, choices=Sex.choices)
    effective_on = models.DateField()
    terminates_on = models.DateField(null=True, blank=True, help_text="Last day covered; empty while open.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["priority", "-effective_on"]
        constraints = [
            models.CheckConstraint(
                name="coverage_ends_after_start",
                condition=Q(terminates_on__isnull=True) | Q(terminates_on__gte=models.F("effective_on")),
                violation_error_message="A coverage cannot terminate before it takes effect.",
            ),
            models.CheckConstraint(
                name="coverage_subscriber_named",
                condition=Q(subscriber_relationship="18")
                | (
                    ~Q(subscriber_first_name="")
                    & ~Q(subscriber_last_name="")
                    & Q(subscriber_date_of_birth__isnull=False)
                ),
                violation_error_message=(
                    "When the patient is not the subscriber, give the subscriber's name and date of birth."
                ),
            ),
            # One primary (one secondary, ...) at a time: coordination of benefits needs an order.
            ExclusionConstraint(
                name="coverage_one_per_priority",
                expressions=[
                    ("patient", RangeOperators.EQUAL),
                    ("priority", RangeOperators.EQUAL),
                    (DateRange("effective_on", "terminates_on", models.Value("[]")), RangeOperators.OVERLAPS),
                ],
                violation_error_message="The patient already has a coverage of this priority for these dates.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer} ({self.get_priority_display().lower()})"


class PaymentPlan(PublicModel):
    """Self-pay: what the patient agreed to pay, in instalments."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="payment_plans")
    total = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    agreed_on = models.DateField()
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-agreed_on", "-id"]
        constraints = [models.CheckConstraint(name="payment_plan_total_positive", condition=Q(total__gt=0))]

    def __str__(self) -> str:
        return f"Payment plan of {self.agreed_on}"

    @property
    def paid_total(self) -> Decimal:
        # .all(): the list's prefetch of instalments, not a query per plan.
        return sum((instalment.paid_amount for instalment in self.instalments.all()), Decimal("0.00"))


class Instalment(models.Model):
    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="instalments")
    due_on = models.DateField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    paid_on = models.DateField(null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(name="instalment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="instalment_paid_not_negative", condition=Q(paid_amount__gte=0)),
            models.UniqueConstraint(fields=["plan", "due_on"], name="instalment_one_per_due_date"),
        ]
        indexes = [
            # The overdue list: unpaid instalments by due date.
            models.Index(fields=["due_on"], condition=Q(paid_on__isnull=True), name="instalment_unpaid_due"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} due {self.due_on}"


class CheckMode(models.TextChoices):
    MANUAL = "manual", "Manual (staff record what the payer said)"
    FILE = "file", "File (staff upload the payer's 271)"
    HTTP = "http", "Clearinghouse (real-time 270/271 over HTTP)"


class CheckStatus(models.TextChoices):
    AWAITING = "awaiting", "Awaiting the payer's answer"
    ANSWERED = "answered", "Answered"
    REJECTED = "rejected", "Rejected by the payer (AAA)"
    UNREADABLE = "unreadable", "Answer could not be read"
    FAILED = "failed", "Could not be sent"


class EligibilityCheck(PublicModel):
    """One verification of benefits, with the raw 270 and 271 kept as sent and received."""

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="eligibility_checks")
    mode = models.CharField(max_length=8, choices=CheckMode.choices)
    status = models.CharField(max_length=12, choices=CheckStatus.choices, default=CheckStatus.AWAITING)
    service_date = models.DateField()
    service_types = models.JSONField(default=list)
    # TRN02: unique, so a 271 is matched to its 270 and a retry is the same inquiry.
    trace_number = models.CharField(max_length=50, unique=True)
    interchange_control_number = models.PositiveIntegerField()
    raw_270 = models.TextField(blank=True)
    raw_271 = models.TextField(blank=True)
    # How the 271's bytes were read ("utf-8", or "latin-1" for X12's single-byte sets), so the
    # download gives back the very bytes received.
    raw_271_encoding = models.CharField(max_length=16, default="utf-8", editable=False)
    # EligibilityResponse.to_dict(): payer, members, benefits, rejections, warnings, errors.
    parsed = models.JSONField(null=True, blank=True)
    # What applies per level of care (insurance.benefits), keyed by level code.
    summary = models.JSONField(default=dict, blank=True)
    # The 271 names someone other than the coverage's member (id, name or date of birth).
    member_mismatch = models.BooleanField(default=False)
    mismatch_reasons = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, help_text="Why it could not be sent or read, for staff.")
    # Manual mode: who said it, and the payer's call reference.
    payer_contact = models.CharField(max_length=200, blank=True)
    payer_reference = models.CharField(max_length=80, blank=True)
    notes = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A coverage's eligibility history, newest first.
            models.Index(fields=["coverage", "-created_at"], name="eligibility_coverage_time"),
            # The desk's pending checks.
            models.Index(fields=["created_at"], condition=Q(status="awaiting"), name="eligibility_awaiting"),
        ]

    def __str__(self) -> str:
        return f"Eligibility check {self.trace_number}"


class AuthorizationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PENDED = "pended", "Pended"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"


class AuthorizationUnit(models.TextChoices):
    DAY = "day", "Days (a day with any attended program session)"
    SESSION = "session", "Sessions (each attended session)"


class Authorization(PublicModel):
    """A payer's authorization of units at one level of care. Units used, scheduled and the
    run-out forecast are computed from bookings and attendance (insurance.services.usage)."""

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="authorizations")
    level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=80, blank=True, help_text="The payer's reference, once issued.")
    status = models.CharField(max_length=12, choices=AuthorizationStatus.choices, default=AuthorizationStatus.REQUESTED)
    requested_on = models.DateField()
    decided_on = models.DateField(null=True, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="Last day authorized.")
    unit = models.CharField(max_length=8, choices=AuthorizationUnit.choices)
    units_authorized = models.PositiveIntegerField(default=0)
    next_review_on = models.DateField(null=True, blank=True, help_text="Next concurrent review with the payer.")
    notes = models.TextField(blank=True)
    # Kept by insurance.services.usage (on change, on read and every 15 minutes by beat).
    units_used = models.PositiveIntegerField(default=0, editable=False)
    units_scheduled = models.PositiveIntegerField(default=0, editable=False)
    runs_out_on = models.DateField(null=True, blank=True, editable=False)
    usage_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = [models.F("runs_out_on").asc(nulls_last=True), "ends_on", "id"]
        constraints = [
            models.CheckConstraint(
                name="authorization_ends_after_start",
                condition=Q(ends_on__gte=models.F("starts_on")),
                violation_error_message="An authorization cannot end before it starts.",
            ),
            models.CheckConstraint(
                name="authorization_approved_has_number",
                condition=~Q(status="approved") | (~Q(number="") & Q(units_authorized__gt=0)),
                violation_error_message="An approved authorization needs the payer's number and the units approved.",
            ),
            # Two approved authorizations for one level and coverage on the same day would count
            # every attended day twice.
            ExclusionConstraint(
                name="authorization_approved_no_overlap",
                expressions=[
                    ("coverage", RangeOperators.EQUAL),
                    ("level", RangeOperators.EQUAL),
                    (DateRange("starts_on", "ends_on", models.Value("[]")), RangeOperators.OVERLAPS),
                ],
                condition=Q(status="approved"),
                violation_error_message="An approved authorization for this level already covers some of these dates.",
            ),
        ]
        indexes = [
            # The billing list, soonest run-out first.
            models.Index(fields=["runs_out_on"], name="authorization_runout"),
            # The review alerts: open authorizations by next review date.
            models.Index(fields=["next_review_on"], condition=Q(status="approved"), name="authorization_review_due"),
        ]

    def __str__(self) -> str:
        return f"Authorization {self.number or '(requested)'} for {self.level.code}"

    @property
    def units_remaining(self) -> int:
        return max(self.units_authorized - self.units_used, 0)


class ReviewType(models.TextChoices):
    INITIAL = "initial", "Initial"
    CONCURRENT = "concurrent", "Concurrent"
    PEER_TO_PEER = "peer_to_peer", "Peer to peer"
    APPEAL = "appeal", "Appeal"


class ReviewOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    PARTIAL = "partial", "Partially approved"
    DENIED = "denied", "Denied"
    PENDED = "pended", "Pended for more information"


class AuthorizationReview(PublicModel):
    authorization = models.ForeignKey(Authorization, on_delete=models.PROTECT, related_name="reviews")
    review_type = models.CharField(max_length=16, choices=ReviewType.choices)
    review_on = models.DateField()
    outcome = models.CharField(max_length=12, choices=ReviewOutcome.choices, default=ReviewOutcome.PENDING)
    units_added = models.PositiveIntegerField(default=0)
    extended_to = models.DateField(null=True, blank=True, help_text="New last day, when the review extended it.")
    reviewer = models.CharField(max_length=200, blank=True, help_text="The payer's reviewer or medical director.")
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-review_on", "-id"]


class AlertKind(models.TextChoices):
    REVIEW_DUE = "review_due", "Concurrent review due"
    UNITS_RUNNING_OUT = "units_running_out", "Authorized units running out"
    AUTHORIZATION_ENDING = "authorization_ending", "Authorization ending"
    NO_AUTHORIZATION = "no_authorization", "Scheduled without an approved authorization"
    AUTHORIZATION_NEEDED = "authorization_needed", "Level of care changed: authorization needed"


class BillingAlert(PublicModel):
    """The billing team's work queue. One open item per thing to do: the beat task and the
    level-change listener may run again without adding a second one."""

    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="billing_alerts")
    authorization = models.ForeignKey(
        Authorization, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    due_on = models.DateField(help_text="When it must be done by (the review, the run-out, the first session).")
    message = models.CharField(max_length=300)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "authorization"],
                condition=Q(resolved_at__isnull=True, authorization__isnull=False),
                name="billing_alert_one_open_per_authorization",
            ),
            models.UniqueConstraint(
                fields=["kind", "patient", "level"],
                condition=Q(resolved_at__isnull=True, authorization__isnull=True),
                name="billing_alert_one_open_per_patient_level",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            # The open queue, soonest first.
            models.Index(fields=["due_on"], condition=Q(resolved_at__isnull=True), name="billing_alert_open"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.due_on}"
