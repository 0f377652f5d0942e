"""Taper plans, their versions and steps, holds, withdrawal checks (CIWA-B) and check links.

The software proposes; a licensed prescriber decides (DESIGN.md flow 5). So:
- a `TaperPlanVersion` is one proposal: the engine's inputs and the steps it produced, with a
  sha256 digest of both. A prescriber approves one exact version by sending back the digest
  they read; once approved a version never changes (the services never write it, and a
  PostgreSQL trigger in migration 0003 refuses it from anywhere else);
- a change to a plan is a new version, which needs its own approval; the approved one stays in
  force until then (`TaperPlan.current_version`);
- `TaperStep` rows are the schedule the patient follows. Their doses are the approved ones and
  never change; only their status and start date move (a hold shifts the later steps), and
  `planned_on` keeps the date as approved, so the shift is always visible.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from clinic.models import PublicModel


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft (no version approved yet)"
    APPROVED = "approved", "Approved, not started"
    ACTIVE = "active", "Active"
    HELD = "held", "Held"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class StepStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    CURRENT = "current", "Current"
    HELD = "held", "Held"
    DONE = "done", "Done"
    # A later approved version replaced this step before it started.
    SUPERSEDED = "superseded", "Superseded"


class HoldBand(models.TextChoices):
    """A plan's hold threshold: the values of tapers.ciwa.Band from mild up."""

    MILD = "mild", "Mild (1-20)"
    MODERATE = "moderate", "Moderate (21-40)"
    SEVERE = "severe", "Severe (41-60)"
    VERY_SEVERE = "very_severe", "Very severe (61-80)"


class CiwaBand(models.TextChoices):
    NONE = "none", "No signs of withdrawal (0)"
    MILD = "mild", "Mild (1-20)"
    MODERATE = "moderate", "Moderate (21-40)"
    SEVERE = "severe", "Severe (41-60)"
    VERY_SEVERE = "very_severe", "Very severe (61-80)"


class CheckVia(models.TextChoices):
    STAFF = "staff", "Recorded by staff"
    PATIENT_LINK = "patient_link", "Recorded by the patient through a check link"


SHA256_HEX = r"^[0-9a-f]{64}$"

# A patient has at most one plan in force: two would give them two sets of instructions.
IN_FORCE = [PlanStatus.APPROVED, PlanStatus.ACTIVE, PlanStatus.HELD]


class TaperPlan(PublicModel):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="taper_plans")
    episode = models.ForeignKey(
        "patients.EpisodeOfCare", on_delete=models.PROTECT, null=True, blank=True, related_name="taper_plans"
    )
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    # At or over this CIWA-B band a check holds the next step (TAPER_HOLD_BAND by default).
    hold_band = models.CharField(max_length=16, choices=HoldBand.choices, default=HoldBand.MODERATE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The approved version in force; a newer draft waits beside it for approval.
    current_version = models.ForeignKey(
        "tapers.TaperPlanVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    activated_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True, help_text="When the plan was completed or stopped.")
    end_reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=IN_FORCE),
                name="taper_plan_one_in_force_per_patient",
                violation_error_message="The patient already has a taper plan in force; stop or complete it first.",
            ),
            # Approved, active, held and completed plans follow an approved version; a draft has none.
            models.CheckConstraint(
                name="taper_plan_version_matches_status",
                condition=Q(status=PlanStatus.DRAFT, current_version__isnull=True)
                | Q(status=PlanStatus.STOPPED)
                | (~Q(status__in=[PlanStatus.DRAFT, PlanStatus.STOPPED]) & Q(current_version__isnull=False)),
            ),
            models.CheckConstraint(
                name="taper_plan_ended_when_over",
                condition=Q(status__in=[PlanStatus.COMPLETED, PlanStatus.STOPPED], ended_on__isnull=False)
                | (~Q(status__in=[PlanStatus.COMPLETED, PlanStatus.STOPPED]) & Q(ended_on__isnull=True)),
            ),
        ]
        indexes = [
            # GET /taper-plans/?patient=...: one patient's plans, newest first.
            models.Index(fields=["patient", "-created_at"], name="taper_plan_by_patient"),
            # The daily step advance reads only the plans being followed.
            models.Index(fields=["status"], condition=Q(status=PlanStatus.ACTIVE), name="taper_plan_active"),
        ]

    def __str__(self) -> str:
        # No patient data: str() ends up in logs and the admin's change messages.
        return f"Taper plan {self.public_id}"


class TaperPlanVersion(PublicModel):
    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    # {"mode": "engine"|"manual", "regimen": [...], "policy": {...}, "strengths": [...], "start": "..."}
    inputs = models.JSONField()
    # The steps as proposed, exactly as the digest covers them.
    proposed_steps = models.JSONField()
    # sha256 of the canonical JSON of {"inputs", "steps"}: what the approver says they read.
    digest = models.CharField(max_length=64)
    change_note = models.TextField(blank=True, help_text="Why this version was made.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_as = models.ForeignKey(
        "tapers.Prescriber",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_taper_versions",
        help_text="The prescriber record of the approver at the time.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_note = models.TextField(blank=True)
    # A draft replaced by a newer draft before anyone approved it.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="taper_version_number_unique"),
            # One draft awaits approval at a time: the approver can only ever be shown one.
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(approved_at__isnull=True, withdrawn_at__isnull=True),
                name="taper_version_one_open_draft",
            ),
            models.CheckConstraint(
                name="taper_version_approval_complete",
                condition=Q(approved_at__isnull=True, approved_by__isnull=True, approved_as__isnull=True)
                | Q(approved_at__isnull=False, approved_by__isnull=False, approved_as__isnull=False),
            ),
            models.CheckConstraint(
                name="taper_version_approved_or_withdrawn",
                condition=Q(approved_at__isnull=True) | Q(withdrawn_at__isnull=True),
            ),
            models.CheckConstraint(name="taper_version_digest_sha256", condition=Q(digest__regex=SHA256_HEX)),
            models.CheckConstraint(name="taper_version_number_positive", condition=Q(number__gte=1)),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of taper plan {self.plan.public_id}"

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class TaperStep(PublicModel):
    # The plan too (it is the version's): "one current step per plan" is then a constraint.
    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="steps")
    version = models.ForeignKey(TaperPlanVersion, on_delete=models.PROTECT, related_name="steps")
    number = models.PositiveIntegerField()
    planned_on = models.DateField(help_text="The start date as approved.")
    starts_on = models.DateField(help_text="The start date now: later than planned_on after a hold.")
    # {"bedtime": [{"drug", "mg", "made_from", "liquid"}], ...}; {} is "stopped".
    doses = models.JSONField()
    totals_mg = models.JSONField(help_text='{"diazepam": "18"}: mg a day per drug.')
    dze_low_mg = models.DecimalField(max_digits=9, decimal_places=2)
    dze_high_mg = models.DecimalField(max_digits=9, decimal_places=2)
    cut_percent = models.DecimalField(max_digits=6, decimal_places=1)
    rule = models.CharField(max_length=24)
    reason = models.TextField()
    manual = models.BooleanField(default=False, help_text="Entered or changed by a prescriber, not the engine.")
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PLANNED)

    class Meta:
        ordering = ["version_id", "number"]
        verbose_name = "taper plan step"
        constraints = [
            # Also the index for "a version's steps in order".
            models.UniqueConstraint(fields=["version", "number"], name="taper_step_number_unique"),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(status=StepStatus.CURRENT), name="taper_step_one_current_per_plan"
            ),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(status=StepStatus.HELD), name="taper_step_one_held_per_plan"
            ),
            # A hold only ever moves steps later.
            models.CheckConstraint(name="taper_step_not_before_planned", condition=Q(starts_on__gte=F("planned_on"))),
            models.CheckConstraint(name="taper_step_dze_range", condition=Q(dze_low_mg__lte=F("dze_high_mg"))),
        ]
        indexes = [
            # The advance and the hold read a plan's planned or current steps by date.
            models.Index(
                fields=["plan", "starts_on"],
                condition=Q(status__in=[StepStatus.PLANNED, StepStatus.CURRENT, StepStatus.HELD]),
                name="taper_step_open_by_plan",
            ),
        ]

    def __str__(self) -> str:
        return f"Step {self.number}"


class CheckLink(PublicModel):
    """A single-use link for the patient to record a withdrawal check without logging in.

    Only the sha256 of its token is stored: the URL is shown once, to the staff member who
    made it, and a copy of the database opens nothing.
    """

    token_hash = models.CharField(max_length=64, unique=True)  # the unique index is the lookup
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="check_links")
    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="check_links")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="check_link_token_sha256", condition=Q(("token_hash__regex", SHA256_HEX))),
        ]
        indexes = [
            # A plan's links, newest first (plan page, admin).
            models.Index(fields=["plan", "-created_at"], name="check_link_by_plan"),
        ]

    def __str__(self) -> str:
        return f"Check link {self.public_id}"


class WithdrawalCheck(PublicModel):
    """One CIWA-B with vital signs, scored by tapers.ciwa, and the hold decision it led to."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="withdrawal_checks")
    plan = models.ForeignKey(
        TaperPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="withdrawal_checks"
    )
    # {"irritable": 2, ...}: the 20 item scores, 0-4, by tapers.ciwa item key.
    items = models.JSONField()
    total = models.PositiveSmallIntegerField(validators=[MaxValueValidator(80)])
    band = models.CharField(max_length=16, choices=CiwaBand.choices)
    systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    pulse = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Beats a minute.")
    temperature_f = models.DecimalField(
        "temperature (°F)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(90), MaxValueValidator(110)],
    )
    symptoms = models.TextField(blank=True)
    via = models.CharField(max_length=16, choices=CheckVia.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    link = models.OneToOneField(
        CheckLink, on_delete=models.PROTECT, null=True, blank=True, related_name="withdrawal_check"
    )  # one check per link: single use, also in the database
    recorded_at = models.DateTimeField()
    hold = models.BooleanField(help_text="The check asked for the next step to be held.")
    consider_higher_level_of_care = models.BooleanField()
    reasons = models.JSONField(default=list, help_text="Why, as tapers.ciwa.hold_decision gave them.")
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When the care team was emailed.")
    # Each member's alert goes on its own: when the mail server fails part way, the retry
    # emails only those not reached yet.
    alerted_to = ArrayField(
        models.EmailField(), default=list, blank=True, help_text="The care-team addresses the alert has reached."
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(name="withdrawal_check_total_range", condition=Q(total__gte=0, total__lte=80)),
            models.CheckConstraint(
                name="withdrawal_check_who_recorded",
                condition=Q(via=CheckVia.STAFF, recorded_by__isnull=False, link__isnull=True)
                | Q(via=CheckVia.PATIENT_LINK, recorded_by__isnull=True, link__isnull=False),
            ),
            models.CheckConstraint(
                name="withdrawal_check_blood_pressure_pair",
                condition=Q(systolic__isnull=True, diastolic__isnull=True)
                | Q(systolic__isnull=False, diastolic__isnull=False, systolic__gt=F("diastolic")),
            ),
            models.CheckConstraint(
                name="withdrawal_check_escalation_holds",
                condition=Q(consider_higher_level_of_care=False) | Q(hold=True),
            ),
        ]
        indexes = [
            # A patient's checks, newest first (GET /withdrawal-checks/?patient=).
            models.Index(fields=["patient", "-recorded_at"], name="withdrawal_check_by_patient"),
            # A plan's checks, newest first (the plan page).
            models.Index(fields=["plan", "-recorded_at"], name="withdrawal_check_by_plan"),
        ]

    def __str__(self) -> str:
        return f"Withdrawal check {self.public_id}"


class PlanHold(PublicModel):
    """A pause of a plan: the next step held, from `held_on` until `resumed_on`. Resuming
    moves that step and every later planned one `days_shifted` days later."""

    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="holds")
    step = models.ForeignKey(
        TaperStep, on_delete=models.PROTECT, null=True, blank=True, related_name="holds", help_text="The step held."
    )
    # The check that caused it; empty for a manual hold. (Not "check": Model.check is Django's.)
    withdrawal_check = models.ForeignKey(
        WithdrawalCheck, on_delete=models.PROTECT, null=True, blank=True, related_name="holds"
    )
    reason = models.TextField(blank=True)
    held_on = models.DateField()
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )  # empty when a patient's own check held it
    resumed_on = models.DateField(null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resume_note = models.TextField(blank=True)
    days_shifted = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-held_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan"], condition=Q(resumed_on__isnull=True), name="plan_hold_one_open_per_plan"
            ),
            models.CheckConstraint(
                name="plan_hold_has_cause", condition=Q(withdrawal_check__isnull=False) | ~Q(reason="")
            ),
            models.CheckConstraint(
                name="plan_hold_resume_complete",
                condition=Q(resumed_on__isnull=True, resumed_by__isnull=True, days_shifted__isnull=True)
                | Q(resumed_on__gte=F("held_on"), resumed_by__isnull=False, days_shifted__isnull=False),
            ),
        ]
        # No extra index: a plan's holds are few, and the open-hold constraint indexes the lookup.

    def __str__(self) -> str:
        return f"Hold of taper plan from {self.held_on}"
