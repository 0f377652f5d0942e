"""The medication catalogue, prescribers and pharmacies.

Diazepam equivalents are not stored here: tapers.equivalence is the one place they live (the
Ashton table by default, the VA/DoD table selectable), and `Medication.diazepam_equivalent`
reads them from there, so a figure can never disagree between the catalogue and the engine.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from clinic.models import US_STATE, PublicModel
from clinic.validators import validate_npi
from tapers import equivalence


class DrugClass(models.TextChoices):
    # The values of tapers.risk.DrugClass, so a ledger row goes to the rules as it is.
    BENZODIAZEPINE = "benzodiazepine", "Benzodiazepine"
    Z_DRUG = "z-drug", "Z-drug"
    OPIOID = "opioid", "Opioid"
    STIMULANT = "stimulant", "Stimulant"
    OTHER = "other", "Other"


class HalfLifeGroup(models.TextChoices):
    # Ashton's grouping by elimination half-life, parent drug and active metabolites
    # (Ashton Manual, Table 1; ../shared/reference/clinical.md 1.1).
    SHORT = "short", "Short (under 12 h)"
    INTERMEDIATE = "intermediate", "Intermediate (12-24 h)"
    LONG = "long", "Long (over 24 h)"


class DosageForm(models.TextChoices):
    TABLET = "tablet", "Tablet"
    CAPSULE = "capsule", "Capsule"
    ORAL_LIQUID = "oral_liquid", "Oral liquid"
    ORALLY_DISINTEGRATING = "odt", "Orally disintegrating tablet"
    EXTENDED_RELEASE = "er_tablet", "Extended-release tablet"
    OTHER = "other", "Other"


class Medication(PublicModel):
    """A drug the clinic may see on a ledger or in a plan, by its generic name."""

    generic_name = models.CharField(max_length=100, unique=True, help_text="Lower case, e.g. alprazolam.")
    brand_names = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    drug_class = models.CharField(max_length=16, choices=DrugClass.choices)
    half_life_group = models.CharField(max_length=16, choices=HalfLifeGroup.choices, blank=True)
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["generic_name"]
        constraints = [
            models.CheckConstraint(
                name="medication_generic_lower_case",
                condition=Q(generic_name=Lower("generic_name")),
                violation_error_message="Write the generic name in lower case.",
            ),
        ]

    def __str__(self) -> str:
        return self.generic_name

    def diazepam_equivalent(self, *, table: str = equivalence.DEFAULT_TABLE) -> equivalence.Equivalent | None:
        """The dose (mg, maybe a range) of this drug about equal to diazepam 10 mg in the named
        table, or None when the table gives none (opioids, stimulants, drugs it leaves out)."""
        return equivalence.TABLES[table].get(self.generic_name)


class MedicationStrength(PublicModel):
    """One product the pharmacy can dispense: a form and strength, e.g. diazepam 5 mg scored
    tablet, or diazepam oral liquid 1 mg/ml (strength per ml)."""

    medication = models.ForeignKey(Medication, on_delete=models.CASCADE, related_name="strengths")
    form = models.CharField(max_length=16, choices=DosageForm.choices)
    strength_mg = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="mg per tablet or capsule; mg per ml for an oral liquid.",
    )
    scored = models.BooleanField(default=False, help_text="A scored tablet may be halved.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["medication__generic_name", "form", "strength_mg"]
        constraints = [
            models.UniqueConstraint(fields=["medication", "form", "strength_mg"], name="medication_strength_unique"),
            models.CheckConstraint(name="medication_strength_positive", condition=Q(strength_mg__gt=0)),
            models.CheckConstraint(
                name="medication_only_tablets_scored",
                condition=Q(scored=False) | Q(form="tablet"),
                violation_error_message="Only a tablet can be scored.",
            ),
        ]

    def __str__(self) -> str:
        unit = "mg/ml" if self.form == DosageForm.ORAL_LIQUID else "mg"
        return f"{self.medication.generic_name} {self.strength_mg.normalize():f} {unit} {self.get_form_display()}"


class Prescriber(PublicModel):
    """Someone who prescribes to our patients: one of our staff (`staff` set) or an outside
    prescriber we coordinate with."""

    staff = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prescriber",
        help_text="Set for our own prescribers; empty for outside ones.",
    )
    name = models.CharField(max_length=200)
    credentials = models.CharField(max_length=100, blank=True, help_text="e.g. MD, DO, NP, PA")
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    practice = models.CharField(max_length=200, blank=True)
    phone = PhoneNumberField(blank=True)
    fax = PhoneNumberField(blank=True)
    secure_email = models.EmailField(blank=True, help_text="Direct or other secure address for records.")
    address = models.TextField(blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[US_STATE])
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["npi"], condition=~Q(npi=""), name="prescriber_npi_unique"),
        ]
        indexes = [models.Index(fields=["name"], name="prescriber_name")]

    def __str__(self) -> str:
        return f"{self.name}, {self.credentials}" if self.credentials else self.name

    @property
    def is_internal(self) -> bool:
        return self.staff_id is not None


class Pharmacy(PublicModel):
    """A dispensing pharmacy, as a ledger row or a PDMP report names it."""

    name = models.CharField(max_length=200)
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    ncpdp_id = models.CharField("NCPDP ID", max_length=7, blank=True, help_text="7-digit NCPDP provider ID.")
    phone = PhoneNumberField(blank=True)
    address = models.TextField(blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[US_STATE])

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "pharmacies"
        constraints = [
            models.UniqueConstraint(fields=["npi"], condition=~Q(npi=""), name="pharmacy_npi_unique"),
            models.UniqueConstraint(fields=["ncpdp_id"], condition=~Q(ncpdp_id=""), name="pharmacy_ncpdp_unique"),
        ]

    def __str__(self) -> str:
        return self.name
