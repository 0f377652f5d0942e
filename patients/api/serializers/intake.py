"""Intake assessments: the answers in, the answers with the proposed level and the decision out."""

from decimal import Decimal
from typing import Any

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from clinic.models import LevelOfCare
from patients.models import (
    CoOccurringCondition,
    IntakeAssessment,
    IntakeBenzodiazepine,
    IntakePrescriber,
    IntakeSubstance,
)
from patients.models.intake import ANSWER_FIELDS

MAX_ROWS = 10
BENZODIAZEPINE_FIELDS = ["drug", "daily_dose_mg", "duration_months", "days_per_week", "source", "prescriber_name"]
SUBSTANCE_FIELDS = ["substance", "frequency", "last_used_on", "details"]
PRESCRIBER_FIELDS = ["name", "npi", "practice", "phone", "prescribes"]


class IntakeBenzodiazepineSerializer(serializers.ModelSerializer[IntakeBenzodiazepine]):
    # Brand names are accepted (Xanax); the service stores the generic name.
    drug = serializers.CharField(max_length=64, help_text="Generic or brand name, e.g. clonazepam or Klonopin.")
    daily_dose_mg = serializers.DecimalField(
        max_digits=7, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal(1000)
    )
    days_per_week = serializers.IntegerField(min_value=1, max_value=7)

    class Meta:
        model = IntakeBenzodiazepine
        fields = BENZODIAZEPINE_FIELDS


class IntakeSubstanceSerializer(serializers.ModelSerializer[IntakeSubstance]):
    class Meta:
        model = IntakeSubstance
        fields = SUBSTANCE_FIELDS


class IntakePrescriberSerializer(serializers.ModelSerializer[IntakePrescriber]):
    phone = PhoneNumberField(required=False, allow_blank=True)

    class Meta:
        model = IntakePrescriber
        fields = PRESCRIBER_FIELDS


class IntakeAssessmentCreateInputSerializer(serializers.ModelSerializer[IntakeAssessment]):
    """Validates shape only; intake_record checks the record and computes the proposal."""

    patient = serializers.UUIDField(help_text="Patient id.")
    # Bounded lists: an intake lists a handful of each, and totals must fit their columns.
    benzodiazepines = IntakeBenzodiazepineSerializer(many=True, required=False, default=list, max_length=MAX_ROWS)  # type: ignore[call-arg]
    substances = IntakeSubstanceSerializer(many=True, required=False, default=list, max_length=MAX_ROWS)  # type: ignore[call-arg]
    prescribers = IntakePrescriberSerializer(many=True, required=False, default=list, max_length=MAX_ROWS)  # type: ignore[call-arg]
    co_occurring = serializers.ListField(
        child=serializers.ChoiceField(choices=CoOccurringCondition.choices), required=False, default=list, max_length=10
    )

    class Meta:
        model = IntakeAssessment
        fields = ["patient", "assessed_on", "benzodiazepines", "substances", "prescribers", *ANSWER_FIELDS]
        validators: list[Any] = []


class IntakeAssessmentOutputSerializer(serializers.ModelSerializer[IntakeAssessment]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    assessed_by = serializers.CharField(source="assessed_by.username", read_only=True)
    benzodiazepines = IntakeBenzodiazepineSerializer(many=True, read_only=True)
    substances = IntakeSubstanceSerializer(many=True, read_only=True)
    prescribers = IntakePrescriberSerializer(many=True, read_only=True)
    proposed_level = serializers.CharField(source="proposed_level.code", read_only=True)
    decided_level = serializers.CharField(source="decided_level.code", read_only=True, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True)

    class Meta:
        model = IntakeAssessment
        fields = ["id", "patient", "assessed_on", "assessed_by", "benzodiazepines", "substances", "prescribers"]
        fields += [*ANSWER_FIELDS, "total_daily_dze_low_mg", "total_daily_dze_high_mg"]
        fields += ["proposed_level", "proposal_rules", "proposal_reasons"]
        fields += ["decision", "decided_level", "decision_reason", "decided_by", "decided_at"]


class IntakeDecisionInputSerializer(serializers.Serializer[Any]):
    level = serializers.SlugRelatedField(slug_field="code", queryset=LevelOfCare.objects.filter(is_active=True))
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required when the level is not the proposed one."
    )
