"""Input and output serializers of the ledger API (each name unique in the OpenAPI schema)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from clinic.validators import validate_npi
from tapers import equivalence
from tapers.models import (
    DosageForm,
    Medication,
    MedicationStrength,
    PdmpCheck,
    PdmpImport,
    Pharmacy,
    Prescriber,
    Prescription,
    PrescriptionSource,
    RiskFlag,
)

_STATE = RegexValidator(r"^[A-Za-z]{2}$", "Use the two-letter state code, e.g. NY.")


# --- catalogue ------------------------------------------------------------------------------


class MedicationStrengthOutputSerializer(serializers.ModelSerializer[MedicationStrength]):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = MedicationStrength
        fields = ["id", "form", "strength_mg", "scored"]


class DiazepamEquivalentOutputSerializer(serializers.Serializer[Any]):
    low_mg = serializers.DecimalField(max_digits=8, decimal_places=3, help_text="mg of this drug ~ diazepam 10 mg.")
    high_mg = serializers.DecimalField(max_digits=8, decimal_places=3, help_text="Equal to low_mg unless a range.")


class DiazepamEquivalentsOutputSerializer(serializers.Serializer[Any]):
    ashton = DiazepamEquivalentOutputSerializer(allow_null=True, help_text="Ashton Manual 2002 / 2007 (default).")
    va_dod = DiazepamEquivalentOutputSerializer(allow_null=True, help_text="VA/DoD SUD CPG 2021.")


class MedicationOutputSerializer(serializers.ModelSerializer[Medication]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    strengths = MedicationStrengthOutputSerializer(many=True, read_only=True)
    diazepam_equivalents = serializers.SerializerMethodField(
        help_text="The dose of this drug about equal to diazepam 10 mg in each table (tapers.equivalence); "
        "null where a table gives none."
    )

    class Meta:
        model = Medication
        fields = [
            "id",
            "generic_name",
            "brand_names",
            "drug_class",
            "half_life_group",
            "strengths",
            "diazepam_equivalents",
        ]

    @extend_schema_field(DiazepamEquivalentsOutputSerializer)
    def get_diazepam_equivalents(self, medication: Medication) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for table in ("ashton", "va_dod"):
            found = equivalence.TABLES[table].get(medication.generic_name)
            out[table] = None if found is None else DiazepamEquivalentOutputSerializer(found).data
        return out


# --- prescribers ----------------------------------------------------------------------------


class PrescriberOutputSerializer(serializers.ModelSerializer[Prescriber]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    internal = serializers.BooleanField(source="is_internal", read_only=True)

    class Meta:
        model = Prescriber
        fields = [
            "id",
            "name",
            "credentials",
            "npi",
            "practice",
            "phone",
            "fax",
            "secure_email",
            "address",
            "state",
            "internal",
            "is_active",
        ]


class PrescriberInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    credentials = serializers.CharField(max_length=100, required=False, allow_blank=True)
    npi = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        validators=[validate_npi],
        help_text="10 digits with a check digit; the NPPES registry has it.",
    )
    practice = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = PhoneNumberField(required=False, allow_blank=True, help_text="E.164, e.g. +16175550123.")
    fax = PhoneNumberField(required=False, allow_blank=True)
    secure_email = serializers.EmailField(required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    state = serializers.CharField(max_length=2, required=False, allow_blank=True, validators=[_STATE])

    def validate_state(self, value: str) -> str:
        return value.upper()


class PrescriberUpdateInputSerializer(PrescriberInputSerializer):
    name = serializers.CharField(max_length=200, required=False)


# --- prescriptions --------------------------------------------------------------------------


def _ref(queryset: Any, **kwargs: Any) -> serializers.SlugRelatedField[Any]:
    return serializers.SlugRelatedField(slug_field="public_id", queryset=queryset, **kwargs)


class PrescriptionOutputSerializer(serializers.ModelSerializer[Prescription]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    medication = serializers.UUIDField(source="medication.public_id", read_only=True, allow_null=True)
    generic_name = serializers.CharField(source="medication.generic_name", read_only=True, allow_null=True)
    drug_class = serializers.SerializerMethodField()
    prescriber = serializers.UUIDField(source="prescriber.public_id", read_only=True)
    prescriber_name = serializers.CharField(source="prescriber.name", read_only=True)
    pharmacy = serializers.UUIDField(source="pharmacy.public_id", read_only=True, allow_null=True)
    pharmacy_name = serializers.CharField(source="pharmacy.name", read_only=True, allow_null=True)
    pdmp_import = serializers.UUIDField(source="pdmp_import.public_id", read_only=True, allow_null=True)
    recorded_by = serializers.CharField(source="recorded_by.get_username", read_only=True)
    entered_in_error = serializers.BooleanField(source="is_entered_in_error", read_only=True)
    entered_in_error_by = serializers.CharField(
        source="entered_in_error_by.get_username", read_only=True, allow_null=True
    )

    class Meta:
        model = Prescription
        fields = [
            "id",
            "patient",
            "medication",
            "generic_name",
            "drug_class",
            "drug_name",
            "strength",
            "strength_mg",
            "form",
            "directions",
            "daily_dose_mg",
            "daily_dose_derived",
            "quantity",
            "days_supply",
            "written_on",
            "filled_on",
            "prescriber",
            "prescriber_name",
            "pharmacy",
            "pharmacy_name",
            "rx_number",
            "source",
            "pdmp_import",
            "recorded_by",
            "created_at",
            "entered_in_error",
            "entered_in_error_at",
            "entered_in_error_by",
            "entered_in_error_reason",
        ]

    def get_drug_class(self, rx: Prescription) -> str:
        return rx.medication.drug_class if rx.medication else "other"


class PrescriptionCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    medication = _ref(Medication.objects.all(), required=False, allow_null=True, help_text="Catalogue id.")
    drug_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="As written; matched to the catalogue if no id."
    )
    strength = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="e.g. 0.5 mg")
    strength_mg = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), required=False, allow_null=True
    )
    form = serializers.ChoiceField(choices=DosageForm.choices, required=False, allow_blank=True)
    directions = serializers.CharField(required=False, allow_blank=True)
    daily_dose_mg = serializers.DecimalField(
        max_digits=10,
        decimal_places=3,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="Omit to derive it as quantity x strength / days' supply (the answer says so).",
    )
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3, min_value=Decimal(0))
    days_supply = serializers.IntegerField(min_value=1, max_value=3650)
    written_on = serializers.DateField()
    filled_on = serializers.DateField(required=False, allow_null=True)
    prescriber = _ref(Prescriber.objects.all())
    pharmacy = _ref(Pharmacy.objects.all(), required=False, allow_null=True)
    rx_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field named "source", not Field.source
        choices=[c for c in PrescriptionSource.choices if c[0] != PrescriptionSource.PDMP_IMPORT]
    )
    # "A medication or a drug name" is the service's rule (tapers.services.ledger), not repeated here.


class PrescriptionUpdateInputSerializer(serializers.Serializer[Any]):
    medication = _ref(Medication.objects.all(), required=False, allow_null=True)
    drug_name = serializers.CharField(max_length=200, required=False)
    strength = serializers.CharField(max_length=100, required=False, allow_blank=True)
    strength_mg = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), required=False, allow_null=True
    )
    form = serializers.ChoiceField(choices=DosageForm.choices, required=False, allow_blank=True)
    directions = serializers.CharField(required=False, allow_blank=True)
    daily_dose_mg = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal(0), required=False, allow_null=True
    )
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3, min_value=Decimal(0), required=False)
    days_supply = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    written_on = serializers.DateField(required=False)
    filled_on = serializers.DateField(required=False, allow_null=True)
    prescriber = _ref(Prescriber.objects.all(), required=False)
    pharmacy = _ref(Pharmacy.objects.all(), required=False, allow_null=True)
    rx_number = serializers.CharField(max_length=50, required=False, allow_blank=True)


class PrescriptionEnteredInErrorInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(help_text="Why: wrong patient, duplicate, typed by mistake...")


# --- PDMP -----------------------------------------------------------------------------------


class PdmpImportOutputSerializer(serializers.ModelSerializer[PdmpImport]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    imported_by = serializers.CharField(source="imported_by.get_username", read_only=True)
    notes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = PdmpImport
        fields = [
            "id",
            "patient",
            "file_name",
            "file_sha256",
            "state",
            "rows_read",
            "rows_added",
            "rows_already_recorded",
            "notes",
            "imported_by",
            "created_at",
        ]


class PdmpImportCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    file = serializers.FileField(help_text="The PDMP report as CSV (columns in the README).")
    state = serializers.CharField(max_length=2, required=False, allow_blank=True, validators=[_STATE])

    def validate_state(self, value: str) -> str:
        return value.upper()


class PdmpCheckOutputSerializer(serializers.ModelSerializer[PdmpCheck]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    checked_by = serializers.CharField(source="checked_by.get_username", read_only=True)

    class Meta:
        model = PdmpCheck
        fields = ["id", "patient", "checked_by", "checked_at", "state", "result_summary", "next_due_on", "reminded_at"]


class PdmpCheckCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    state = serializers.CharField(max_length=2, validators=[_STATE])
    result_summary = serializers.CharField(help_text="What the PDMP showed, e.g. 'No other prescribers'.")
    checked_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    next_due_on = serializers.DateField(required=False, help_text="Default: the check's date + PDMP_RECHECK_DAYS.")


# --- risk flags -----------------------------------------------------------------------------


class RiskFlagOutputSerializer(serializers.ModelSerializer[RiskFlag]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    prescriptions: Any = serializers.SlugRelatedField(slug_field="public_id", many=True, read_only=True)
    open = serializers.BooleanField(source="is_open", read_only=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.get_username", read_only=True, allow_null=True)

    class Meta:
        model = RiskFlag
        fields = [
            "id",
            "patient",
            "code",
            "severity",
            "message",
            "source",
            "naloxone_prompt",
            "prescriptions",
            "open",
            "raised_at",
            "cleared_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledgement_note",
        ]


class RiskFlagAcknowledgeInputSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(required=False, allow_blank=True, help_text="What was done or decided.")
