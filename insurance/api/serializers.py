"""Input and output serializers of the insurance API (each name unique in the OpenAPI schema)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from clinic.models import LevelOfCare
from insurance.models import (
    Authorization,
    AuthorizationReview,
    AuthorizationStatus,
    AuthorizationUnit,
    BillingAlert,
    CheckMode,
    Coverage,
    CoveragePriority,
    EligibilityCheck,
    Instalment,
    Payer,
    PaymentPlan,
    ReviewOutcome,
    ReviewType,
    Sex,
    SubscriberRelationship,
)


def _money(**options: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=10, decimal_places=2, **options)


# --- payers -------------------------------------------------------------------------------------


class PayerOutputSerializer(serializers.ModelSerializer[Payer]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    phone = serializers.CharField(read_only=True)

    class Meta:
        model = Payer
        fields = ["id", "name", "payer_id", "phone", "portal_url", "is_active"]


class PayerInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    payer_id = serializers.CharField(max_length=80, help_text="The clearinghouse's payer id.")
    phone = PhoneNumberField(required=False, allow_blank=True)
    portal_url = serializers.URLField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True)


class PayerUpdateInputSerializer(PayerInputSerializer):
    is_active = serializers.BooleanField(required=False)


# --- coverages ----------------------------------------------------------------------------------


class CoverageOutputSerializer(serializers.ModelSerializer[Coverage]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    payer = PayerOutputSerializer(read_only=True)

    class Meta:
        model = Coverage
        fields = [
            "id",
            "patient",
            "payer",
            "member_id",
            "group_number",
            "plan_name",
            "priority",
            "subscriber_relationship",
            "subscriber_first_name",
            "subscriber_last_name",
            "subscriber_date_of_birth",
            "subscriber_sex",
            "effective_on",
            "terminates_on",
        ]


class _CoverageFields(serializers.Serializer[Any]):
    member_id = serializers.CharField(max_length=80)
    group_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    plan_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=CoveragePriority.choices, required=False)
    subscriber_relationship = serializers.ChoiceField(choices=SubscriberRelationship.choices, required=False)
    subscriber_first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    subscriber_last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    subscriber_date_of_birth = serializers.DateField(required=False, allow_null=True)
    subscriber_sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True)
    effective_on = serializers.DateField()
    terminates_on = serializers.DateField(required=False, allow_null=True)


class CoverageCreateInputSerializer(_CoverageFields):
    patient = serializers.UUIDField()
    payer = serializers.SlugRelatedField(slug_field="public_id", queryset=Payer.objects.filter(is_active=True))


class CoverageUpdateInputSerializer(_CoverageFields):
    pass


# --- eligibility --------------------------------------------------------------------------------


class EligibilityCheckOutputSerializer(serializers.ModelSerializer[EligibilityCheck]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    coverage = serializers.UUIDField(source="coverage.public_id", read_only=True)
    patient = serializers.UUIDField(source="coverage.patient.public_id", read_only=True)
    payer = serializers.CharField(source="coverage.payer.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.get_username", read_only=True)
    answered_by = serializers.CharField(
        source="answered_by.get_username", read_only=True, allow_null=True, default=None
    )
    summary = serializers.JSONField(
        read_only=True,
        help_text="Per level of care (php, iop, outpatient): active, co-pay, co-insurance, deductible and "
        "out-of-pocket remaining, visit limits, authorization required, and an estimate of the patient's share. "
        "Empty when the answer was unreadable, rejected or about another member.",
    )

    class Meta:
        model = EligibilityCheck
        fields = [
            "id",
            "coverage",
            "patient",
            "payer",
            "mode",
            "status",
            "service_date",
            "service_types",
            "trace_number",
            "member_mismatch",
            "mismatch_reasons",
            "failure",
            "summary",
            "payer_contact",
            "payer_reference",
            "notes",
            "requested_by",
            "created_at",
            "answered_by",
            "answered_at",
        ]


class EligibilityCheckDetailOutputSerializer(EligibilityCheckOutputSerializer):
    parsed = serializers.JSONField(
        read_only=True, help_text="The whole parsed 271: payer, members, benefits, rejections, warnings, errors."
    )

    class Meta(EligibilityCheckOutputSerializer.Meta):
        fields = [*EligibilityCheckOutputSerializer.Meta.fields, "parsed"]


class EligibilityCheckCreateInputSerializer(serializers.Serializer[Any]):
    coverage = serializers.UUIDField()
    mode = serializers.ChoiceField(
        choices=CheckMode.choices, required=False, help_text="Default: http when a clearinghouse is set, else file."
    )
    service_date = serializers.DateField(required=False, help_text="Default: today.")


class EligibilityResponseInputSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(required=False, help_text="The payer's 271, as downloaded.")
    x12 = serializers.CharField(required=False, trim_whitespace=False, help_text="Or the 271 as text.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("x12")):
            raise serializers.ValidationError("Send the 271 as `file` or as `x12` text, one of the two.")
        return attrs


class ManualLevelInputSerializer(serializers.Serializer[Any]):
    active = serializers.BooleanField(allow_null=True, required=False)
    copay = _money(min_value=Decimal("0"), required=False, allow_null=True)
    coinsurance = serializers.DecimalField(
        max_digits=4,
        decimal_places=3,
        min_value=Decimal("0"),
        max_value=Decimal("1"),
        required=False,
        allow_null=True,
        help_text="A fraction: 0.2 is 20 %.",
    )
    deductible_remaining = _money(min_value=Decimal("0"), required=False, allow_null=True)
    out_of_pocket_remaining = _money(min_value=Decimal("0"), required=False, allow_null=True)
    visit_limit = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    authorization_required = serializers.BooleanField(allow_null=True, required=False)


class ManualLevelsInputSerializer(serializers.Serializer[Any]):
    php = ManualLevelInputSerializer(required=False)
    iop = ManualLevelInputSerializer(required=False)
    outpatient = ManualLevelInputSerializer(required=False)


class EligibilityManualInputSerializer(serializers.Serializer[Any]):
    levels = ManualLevelsInputSerializer()
    payer_contact = serializers.CharField(max_length=200, help_text="Who at the payer said it.")
    payer_reference = serializers.CharField(max_length=80, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)


# --- authorizations ---------------------------------------------------------------------------


class AuthorizationReviewOutputSerializer(serializers.ModelSerializer[AuthorizationReview]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.get_username", read_only=True)

    class Meta:
        model = AuthorizationReview
        fields = [
            "id",
            "review_type",
            "review_on",
            "outcome",
            "units_added",
            "extended_to",
            "reviewer",
            "notes",
            "recorded_by",
            "created_at",
        ]


class AuthorizationOutputSerializer(serializers.ModelSerializer[Authorization]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    coverage = serializers.UUIDField(source="coverage.public_id", read_only=True)
    patient = serializers.UUIDField(source="coverage.patient.public_id", read_only=True)
    payer = serializers.CharField(source="coverage.payer.name", read_only=True)
    level = serializers.CharField(source="level.code", read_only=True)
    units_remaining = serializers.IntegerField(read_only=True)
    reviews = AuthorizationReviewOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Authorization
        fields = [
            "id",
            "coverage",
            "patient",
            "payer",
            "level",
            "number",
            "status",
            "requested_on",
            "decided_on",
            "starts_on",
            "ends_on",
            "unit",
            "units_authorized",
            "units_used",
            "units_scheduled",
            "units_remaining",
            "runs_out_on",
            "usage_refreshed_at",
            "next_review_on",
            "notes",
            "reviews",
        ]


class _AuthorizationFields(serializers.Serializer[Any]):
    number = serializers.CharField(max_length=80, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=AuthorizationStatus.choices, required=False)
    requested_on = serializers.DateField(required=False)
    decided_on = serializers.DateField(required=False, allow_null=True)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    unit = serializers.ChoiceField(choices=AuthorizationUnit.choices)
    units_authorized = serializers.IntegerField(min_value=0, required=False)
    next_review_on = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class AuthorizationCreateInputSerializer(_AuthorizationFields):
    coverage = serializers.UUIDField()
    level = serializers.SlugRelatedField(
        slug_field="code",
        queryset=LevelOfCare.objects.filter(is_residential=False),
        help_text="php, iop or outpatient.",
    )


class AuthorizationUpdateInputSerializer(_AuthorizationFields):
    pass


class AuthorizationReviewInputSerializer(serializers.Serializer[Any]):
    review_type = serializers.ChoiceField(choices=ReviewType.choices)
    review_on = serializers.DateField()
    outcome = serializers.ChoiceField(choices=ReviewOutcome.choices, required=False, default=ReviewOutcome.PENDING)
    units_added = serializers.IntegerField(min_value=0, required=False, default=0)
    extended_to = serializers.DateField(required=False, allow_null=True)
    next_review_on = serializers.DateField(required=False, allow_null=True)
    number = serializers.CharField(
        max_length=80, required=False, allow_blank=True, help_text="The payer's number, once issued."
    )
    reviewer = serializers.CharField(max_length=200, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)


# --- the billing work queue -------------------------------------------------------------------


class BillingAlertOutputSerializer(serializers.ModelSerializer[BillingAlert]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    authorization = serializers.UUIDField(
        source="authorization.public_id", read_only=True, allow_null=True, default=None
    )
    level = serializers.CharField(source="level.code", read_only=True, allow_null=True, default=None)
    resolved_by = serializers.CharField(
        source="resolved_by.get_username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = BillingAlert
        fields = [
            "id",
            "kind",
            "patient",
            "authorization",
            "level",
            "due_on",
            "message",
            "created_at",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]


class BillingAlertResolveInputSerializer(serializers.Serializer[Any]):
    resolution = serializers.CharField(max_length=300)


# --- self-pay ----------------------------------------------------------------------------------


class InstalmentOutputSerializer(serializers.ModelSerializer[Instalment]):
    class Meta:
        model = Instalment
        fields = ["due_on", "amount", "paid_amount", "paid_on"]


class PaymentPlanOutputSerializer(serializers.ModelSerializer[PaymentPlan]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    instalments = InstalmentOutputSerializer(many=True, read_only=True)
    paid = _money(source="paid_total", read_only=True)

    class Meta:
        model = PaymentPlan
        fields = ["id", "patient", "total", "agreed_on", "notes", "instalments", "paid"]


class InstalmentInputSerializer(serializers.Serializer[Any]):
    due_on = serializers.DateField()
    amount = _money(min_value=Decimal("0.01"))


class PaymentPlanCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    total = _money(min_value=Decimal("0.01"))
    agreed_on = serializers.DateField()
    instalments = InstalmentInputSerializer(many=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class PaymentInputSerializer(serializers.Serializer[Any]):
    due_on = serializers.DateField(help_text="The instalment paid (by its due date).")
    amount = _money(min_value=Decimal("0.01"))
    paid_on = serializers.DateField()
