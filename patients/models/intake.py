"""The intake assessment (DESIGN.md flow 1): what a clinician learns at intake, the level of
care patients.placement proposes from it, and the clinician's decision."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField

from clinic.models import PublicModel
from clinic.validators import validate_npi
from tapers.equivalence import DRUGS


class CoOccurringCondition(models.TextChoices):
    ANXIETY = "anxiety", "Anxiety"
    PANIC = "panic", "Panic disorder"
    PTSD = "ptsd", "PTSD"
    DEPRESSION = "depression", "Depression"
    INSOMNIA = "insomnia", "Insomnia"
    BIPOLAR = "bipolar", "Bipolar disorder"
    OTHER = "other", "Other"


class Pregnancy(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    NOT_PREGNANT = "not_pregnant", "Not pregnant"
    PREGNANT = "pregnant", "Pregnant"
    UNKNOWN = "unknown", "Unknown"


class HomeStability(models.TextChoices):
    STABLE = "stable", "Stable housing"
    UNSTABLE = "unstable", "Unstable housing"
    UNHOUSED = "unhoused", "Unhoused"


class SupportLevel(models.TextChoices):
    STRONG = "strong", "Strong support at home"
    SOME = "some", "Some support"
    NONE = "none", "No support"


class PlacementDecision(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed the proposed level"
    OVERRIDDEN = "overridden", "Chose another level"


# What the clinician answers (the API's and the admin's form fields); the rest is computed.
ANSWER_FIELDS = [
    "prior_withdrawal_seizure",
    "prior_withdrawal_delirium",
    "co_occurring",
    "co_occurring_other",
    "pregnancy",
    "home_stability",
    "support",
    "home_notes",
    "cssrs_wish_to_be_dead",
    "cssrs_suicidal_thoughts",
    "cssrs_method",
    "cssrs_intent",
    "cssrs_plan",
    "cssrs_behavior",
    "cssrs_behavior_past_3_months",
    "notes",
]


class IntakeAssessment(PublicModel):
    """One intake assessment. Recorded once and not edited: a correction is a new
    assessment, so the proposal always matches the answers it was computed from."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="intake_assessments")
    assessed_on = models.DateField()
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    prior_withdrawal_seizure = models.BooleanField()
    prior_withdrawal_delirium = models.BooleanField()
    co_occurring = ArrayField(
        models.CharField(max_length=16, choices=CoOccurringCondition.choices), default=list, blank=True
    )
    co_occurring_other = models.CharField(max_length=200, blank=True)
    pregnancy = models.CharField(max_length=16, choices=Pregnancy.choices)
    home_stability = models.CharField(max_length=16, choices=HomeStability.choices)
    support = models.CharField(max_length=16, choices=SupportLevel.choices)
    home_notes = models.TextField(blank=True)
    # C-SSRS screener (Columbia Lighthouse Project), past month; questions 3-5 are asked only
    # when question 2 is yes, and "in the past 3 months" only when question 6 is yes.
    cssrs_wish_to_be_dead = models.BooleanField("C-SSRS 1: wished to be dead")
    cssrs_suicidal_thoughts = models.BooleanField("C-SSRS 2: suicidal thoughts")
    cssrs_method = models.BooleanField("C-SSRS 3: thought about how", null=True, blank=True)
    cssrs_intent = models.BooleanField("C-SSRS 4: some intention of acting", null=True, blank=True)
    cssrs_plan = models.BooleanField("C-SSRS 5: worked out details, intends to carry out", null=True, blank=True)
    cssrs_behavior = models.BooleanField("C-SSRS 6: ever done, started or prepared anything to end life")
    cssrs_behavior_past_3_months = models.BooleanField("C-SSRS 6: in the past 3 months", null=True, blank=True)
    notes = models.TextField(blank=True)

    # The proposal, computed by patients.placement when the assessment is recorded.
    total_daily_dze_low_mg = models.DecimalField(max_digits=8, decimal_places=2)
    total_daily_dze_high_mg = models.DecimalField(max_digits=8, decimal_places=2)
    proposed_level = models.ForeignKey("clinic.LevelOfCare", on_delete=models.PROTECT, related_name="+")
    proposal_rules = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    proposal_reasons = ArrayField(models.TextField(), default=list, blank=True)

    # The clinician's decision: the software proposes, a clinician decides.
    decision = models.CharField(max_length=16, choices=PlacementDecision.choices, blank=True)
    decided_level = models.ForeignKey(
        "clinic.LevelOfCare", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assessed_on", "-id"]
        indexes = [
            # A patient's intakes, latest first (the patient page and the admit action).
            models.Index(fields=["patient", "assessed_on"], name="intake_patient_date"),
        ]
        constraints = [
            models.CheckConstraint(
                name="intake_decision_complete",
                condition=Q(decision="", decided_level__isnull=True, decided_by__isnull=True, decided_at__isnull=True)
                | (
                    ~Q(decision="") & Q(decided_level__isnull=False, decided_by__isnull=False, decided_at__isnull=False)
                ),
                violation_error_message="A decision names its level, who decided and when.",
            ),
            models.CheckConstraint(
                name="intake_override_has_reason",
                condition=~Q(decision="overridden", decision_reason=""),
                violation_error_message="Choosing another level than the proposed one needs a reason.",
            ),
            models.CheckConstraint(
                name="intake_cssrs_skip_logic",
                condition=(
                    Q(cssrs_suicidal_thoughts=True, cssrs_method__isnull=False)
                    & Q(cssrs_intent__isnull=False, cssrs_plan__isnull=False)
                )
                | (
                    Q(cssrs_suicidal_thoughts=False, cssrs_method__isnull=True)
                    & Q(cssrs_intent__isnull=True, cssrs_plan__isnull=True)
                ),
                violation_error_message="C-SSRS questions 3-5 are answered exactly when question 2 is yes.",
            ),
            models.CheckConstraint(
                name="intake_cssrs_behavior_recency",
                condition=Q(cssrs_behavior=True, cssrs_behavior_past_3_months__isnull=False)
                | Q(cssrs_behavior=False, cssrs_behavior_past_3_months__isnull=True),
                violation_error_message="C-SSRS 'in the past 3 months' is answered exactly when question 6 is yes.",
            ),
        ]

    def __str__(self) -> str:
        return f"Intake {self.assessed_on:%Y-%m-%d}"

    def cssrs_answers(self) -> dict[int, bool]:
        """Screener answers by question; question 6 counts as yes only within 3 months, as
        the screener's high-risk triage reads it."""
        return {
            1: self.cssrs_wish_to_be_dead,
            2: self.cssrs_suicidal_thoughts,
            3: bool(self.cssrs_method),
            4: bool(self.cssrs_intent),
            5: bool(self.cssrs_plan),
            6: bool(self.cssrs_behavior and self.cssrs_behavior_past_3_months),
        }


class BenzodiazepineSource(models.TextChoices):
    PRESCRIBED = "prescribed", "Prescribed to the patient"
    NOT_PRESCRIBED = "not_prescribed", "Not prescribed (someone else's, street or online)"


class IntakeBenzodiazepine(models.Model):
    """One benzodiazepine (or z-drug) the patient takes. The drug is a generic name of the
    project's equivalence table (tapers.equivalence), so its diazepam equivalent is known."""

    intake = models.ForeignKey(IntakeAssessment, on_delete=models.CASCADE, related_name="benzodiazepines")
    drug = models.CharField(max_length=32, choices=[(name, name.title()) for name in sorted(DRUGS)])
    daily_dose_mg = models.DecimalField(
        max_digits=7,
        decimal_places=3,
        validators=[
            MinValueValidator(Decimal("0.001"), "Give the daily dose in mg (more than 0)."),
            MaxValueValidator(1000),
        ],
    )
    duration_months = models.PositiveSmallIntegerField(help_text="How long they have taken it (months).")
    days_per_week = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(7)])
    source = models.CharField(max_length=16, choices=BenzodiazepineSource.choices)
    prescriber_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="intake_benzo_days_per_week", condition=Q(days_per_week__gte=1, days_per_week__lte=7)
            ),
            models.CheckConstraint(name="intake_benzo_dose_positive", condition=Q(daily_dose_mg__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.daily_dose_mg} mg/day"


class Substance(models.TextChoices):
    ALCOHOL = "alcohol", "Alcohol"
    OPIOID_PRESCRIBED = "opioid_prescribed", "Prescribed opioids"
    OPIOID_ILLICIT = "opioid_illicit", "Illicit opioids (heroin, pressed pills)"
    FENTANYL = "fentanyl", "Fentanyl"
    STIMULANT = "stimulant", "Stimulants"
    OTHER_SEDATIVE = "other_sedative", "Other sedatives (barbiturates, gabapentinoids)"
    CANNABIS = "cannabis", "Cannabis"
    OTHER = "other", "Other"


class UseFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    MOST_DAYS = "most_days", "Most days (4-6 a week)"
    WEEKLY = "weekly", "Weekly (1-3 a week)"
    LESS_THAN_WEEKLY = "less_than_weekly", "Less than weekly"


class IntakeSubstance(models.Model):
    """Another substance used in the past 12 months."""

    intake = models.ForeignKey(IntakeAssessment, on_delete=models.CASCADE, related_name="substances")
    substance = models.CharField(max_length=24, choices=Substance.choices)
    frequency = models.CharField(max_length=16, choices=UseFrequency.choices)
    last_used_on = models.DateField(null=True, blank=True)
    details = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_substance_display()}, {self.get_frequency_display().lower()}"


class IntakePrescriber(models.Model):
    """Someone currently prescribing for the patient (any medication): the people the care
    team coordinates with, once a consent allows it."""

    intake = models.ForeignKey(IntakeAssessment, on_delete=models.CASCADE, related_name="prescribers")
    name = models.CharField(max_length=200)
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    practice = models.CharField(max_length=200, blank=True)
    phone = PhoneNumberField(blank=True)
    prescribes = models.CharField(max_length=200, blank=True, help_text="What they prescribe, e.g. clonazepam.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
