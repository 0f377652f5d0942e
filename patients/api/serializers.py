from typing import Any

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

from patients.models import BreakGlassGrant, CareTeamMember, CareTeamRole, Patient, PatientContact


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

    class Meta:
        model = Patient
        fields = ["id", "mrn", "legal_first_name", "legal_last_name", "date_of_birth", "time_zone", "status"]
        fields += [*PATIENT_DETAIL_FIELDS, "contacts"]


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
