from typing import Any

from drf_spectacular.utils import extend_schema_field
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

from clinic.models import LevelOfCare
from patients.access import EPISODE_CLINICAL_FIELDS
from patients.models import (
    BreakGlassGrant,
    CareTeamMember,
    CareTeamRole,
    Consent,
    ConsentRecipientType,
    DischargeReason,
    Disclosure,
    DisclosureInformation,
    DisclosurePurpose,
    EpisodeOfCare,
    LevelOfCareStay,
    MeasureInstrument,
    MeasureResponse,
    Patient,
    PatientContact,
    Referral,
    SignatureMethod,
)


class CareTeamMemberOutputSerializer(serializers.ModelSerializer[CareTeamMember]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    member = serializers.UUIDField(source="member.staff_profile.public_id", read_only=True, allow_null=True)
    member_name = serializers.CharField(source="member.get_full_name", read_only=True)

    class Meta:
        model = CareTeamMember
        fields = ["id", "patient", "member", "member_name", "team_role", "started_on", "ended_on"]


class CareTeamMemberCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField(help_text="Patient id.")
    member = serializers.UUIDField(help_text="Staff id (from /api/v1/staff/).")
    team_role = serializers.ChoiceField(choices=CareTeamRole.choices)
    started_on = serializers.DateField()


class CareTeamMemberEndInputSerializer(serializers.Serializer[Any]):
    ended_on = serializers.DateField()


PATIENT_DETAIL_FIELDS = [
    "preferred_name",
    "sex_assigned_at_birth",
    "gender_identity",
    "pronouns",
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "preferred_language",
    "reminder_channel",
]


class PatientContactOutputSerializer(serializers.ModelSerializer[PatientContact]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    phone = serializers.CharField(read_only=True)

    class Meta:
        model = PatientContact
        fields = ["id", "name", "relationship", "phone", "email", "is_emergency_contact", "is_support_person"]


class PatientOutputSerializer(serializers.ModelSerializer[Patient]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    time_zone = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    contacts = PatientContactOutputSerializer(many=True, read_only=True)
    current_level = serializers.SerializerMethodField()
    # Prefetched by selectors.patient_list (the open memberships, each with its staff profile).
    care_team = CareTeamMemberOutputSerializer(source="open_care_team", many=True, read_only=True)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_current_level(self, patient: Patient) -> str | None:
        # Prefetched by selectors.patient_list (open episode, open stay); a freshly created
        # patient without the prefetch has no episode yet.
        for episode in getattr(patient, "open_episodes", []):
            for stay in episode.open_stays:
                return str(stay.level.code)
        return None

    class Meta:
        model = Patient
        fields = ["id", "mrn", "legal_first_name", "legal_last_name", "date_of_birth", "time_zone", "status"]
        fields += [*PATIENT_DETAIL_FIELDS, "contacts", "current_level", "care_team"]


class PatientCreateInputSerializer(serializers.ModelSerializer[Patient]):
    """Validates shape only; patient_create validates the record and writes it."""

    phone = PhoneNumberField(required=False, allow_blank=True, help_text="E.164, e.g. +16175550123.")
    time_zone = TimeZoneSerializerField(use_pytz=False, help_text="IANA time zone, e.g. America/New_York.")

    class Meta:
        model = Patient
        fields = ["legal_first_name", "legal_last_name", "date_of_birth", "time_zone", *PATIENT_DETAIL_FIELDS]
        # Uniqueness and model constraints are the service's to check, with one message.
        validators: list[Any] = []


class BreakGlassInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(help_text="Why you need this patient's records now. Audited.")


class BreakGlassOutputSerializer(serializers.ModelSerializer[BreakGlassGrant]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)

    class Meta:
        model = BreakGlassGrant
        fields = ["id", "patient", "reason", "expires_at"]


class LevelOfCareStayOutputSerializer(serializers.ModelSerializer[LevelOfCareStay]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    level = serializers.CharField(source="level.code", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)

    class Meta:
        model = LevelOfCareStay
        fields = ["id", "level", "started_on", "ended_on", "kind", "reason", "decided_by"]


class EpisodeOutputSerializer(serializers.ModelSerializer[EpisodeOfCare]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    intake_assessment = serializers.UUIDField(source="intake_assessment.public_id", read_only=True, allow_null=True)
    current_level = serializers.SerializerMethodField()
    stays = LevelOfCareStayOutputSerializer(many=True, read_only=True)
    # Null for a caller who may not read the patient's clinical records (to_representation).
    relapse_prevention_plan = serializers.CharField(read_only=True, allow_null=True)
    safety_plan = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = EpisodeOfCare
        fields = [
            "id",
            "patient",
            "admitted_on",
            "discharged_on",
            "discharge_reason",
            "intake_assessment",
            "current_level",
            "stays",
            "follow_up_appointments",
            "community_resources",
            "relapse_prevention_plan",
            "safety_plan",
        ]

    # EPISODE_CLINICAL_FIELDS are null for the front office. The view puts in the context
    # whether the caller may see a patient clinically; without it they are null for anyone.

    def to_representation(self, episode: EpisodeOfCare) -> dict[str, Any]:
        data = super().to_representation(episode)
        clinically_visible = self.context.get("clinically_visible")
        if clinically_visible is None or not clinically_visible(episode.patient_id):
            for name in EPISODE_CLINICAL_FIELDS:
                data[name] = None
        return data

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_current_level(self, episode: EpisodeOfCare) -> str | None:
        # From the prefetched stays: no query per episode.
        open_stays = [stay for stay in episode.stays.all() if stay.ended_on is None]
        return open_stays[0].level.code if open_stays else None


class EpisodeAdmitInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    level = serializers.SlugRelatedField(
        slug_field="code",
        queryset=LevelOfCare.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="Level code; defaults to the level decided at `intake_assessment`.",
    )
    intake_assessment = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The decided intake assessment this admission follows.",
    )
    admitted_on = serializers.DateField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class EpisodeTransitionInputSerializer(serializers.Serializer[Any]):
    to_level = serializers.SlugRelatedField(slug_field="code", queryset=LevelOfCare.objects.filter(is_active=True))
    effective_on = serializers.DateField()
    reason = serializers.CharField()


class EpisodeDischargeInputSerializer(serializers.Serializer[Any]):
    discharged_on = serializers.DateField()
    reason = serializers.ChoiceField(choices=DischargeReason.choices)
    follow_up_appointments = serializers.CharField(required=False, allow_blank=True, default="")
    community_resources = serializers.CharField(required=False, allow_blank=True, default="")
    relapse_prevention_plan = serializers.CharField(required=False, allow_blank=True, default="")
    safety_plan = serializers.CharField(help_text="Must give the 988 Suicide & Crisis Lifeline.")


class ConsentOutputSerializer(serializers.ModelSerializer[Consent]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    is_revoked = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = [
            "id",
            "patient",
            "recipient_type",
            "recipient_name",
            "information",
            "amount_and_kind",
            "purposes",
            "effective_on",
            "expires_on",
            "expiry_event",
            "signed_at",
            "signature_method",
            "witness_name",
            "right_to_revoke_statement",
            "revoked_at",
            "is_revoked",
        ]

    def get_is_revoked(self, consent: Consent) -> bool:
        return consent.revoked_at is not None


class ConsentCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    recipient_type = serializers.ChoiceField(choices=ConsentRecipientType.choices)
    recipient_name = serializers.CharField()
    information = serializers.ListField(
        child=serializers.ChoiceField(choices=DisclosureInformation.choices), min_length=1
    )
    amount_and_kind = serializers.CharField()
    purposes = serializers.ListField(child=serializers.ChoiceField(choices=DisclosurePurpose.choices), min_length=1)
    effective_on = serializers.DateField()
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    expiry_event = serializers.CharField(required=False, allow_blank=True, default="")
    signed_at = serializers.DateTimeField()
    signature_method = serializers.ChoiceField(choices=SignatureMethod.choices)
    witness_name = serializers.CharField(required=False, allow_blank=True, default="")


class DisclosureOutputSerializer(serializers.ModelSerializer[Disclosure]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    consent = serializers.UUIDField(source="consent.public_id", read_only=True)
    disclosed_by = serializers.CharField(source="disclosed_by.username", read_only=True)

    class Meta:
        model = Disclosure
        fields = [
            "id",
            "patient",
            "consent",
            "recipient_type",
            "recipient_name",
            "information",
            "purpose",
            "description",
            "disclosed_at",
            "disclosed_by",
            "redisclosure_notice",
        ]


class DisclosureCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    recipient_type = serializers.ChoiceField(choices=ConsentRecipientType.choices)
    recipient_name = serializers.CharField()
    information = serializers.ListField(
        child=serializers.ChoiceField(choices=DisclosureInformation.choices), min_length=1
    )
    purpose = serializers.ChoiceField(choices=DisclosurePurpose.choices)
    description = serializers.CharField()


class ReferralOutputSerializer(serializers.ModelSerializer[Referral]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True)
    converted_patient = serializers.UUIDField(source="converted_patient.public_id", read_only=True, allow_null=True)
    phone = serializers.CharField(read_only=True)
    referrer_phone = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id",
            "source",
            "referrer_name",
            "referrer_phone",
            "received_at",
            "reason",
            "status",
            "owner",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "email",
            "time_zone",
            "converted_patient",
        ]


class ReferralCreateInputSerializer(serializers.ModelSerializer[Referral]):
    phone = PhoneNumberField(required=False, allow_blank=True)
    referrer_phone = PhoneNumberField(required=False, allow_blank=True)
    time_zone = TimeZoneSerializerField(use_pytz=False, required=False)

    class Meta:
        model = Referral
        fields = [
            "source",
            "referrer_name",
            "referrer_phone",
            "received_at",
            "reason",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "email",
            "time_zone",
        ]


class MeasureOutputSerializer(serializers.ModelSerializer[MeasureResponse]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)

    class Meta:
        model = MeasureResponse
        fields = ["id", "patient", "instrument", "administered_on", "answers", "total", "band", "flags"]


class MeasureCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    instrument = serializers.ChoiceField(choices=MeasureInstrument.choices)
    answers = serializers.DictField(
        child=serializers.IntegerField(), help_text="Item name to answer (0-3, AUDIT-C 0-4)."
    )
    administered_on = serializers.DateField()
