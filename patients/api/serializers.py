from typing import Any

from rest_framework import serializers

from patients.models import BreakGlassGrant, CareTeamMember, CareTeamRole, Patient


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


class PatientOutputSerializer(serializers.ModelSerializer[Patient]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    time_zone = serializers.CharField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "legal_first_name",
            "legal_last_name",
            "preferred_name",
            "date_of_birth",
            "time_zone",
            "status",
        ]


class BreakGlassInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(help_text="Why you need this patient's records now. Audited.")


class BreakGlassOutputSerializer(serializers.ModelSerializer[BreakGlassGrant]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)

    class Meta:
        model = BreakGlassGrant
        fields = ["id", "patient", "reason", "expires_at"]
