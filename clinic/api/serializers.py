from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.models import LevelOfCare, Location, Room, StaffProfile
from clinic.roles import roles_of


class TokenObtainInputSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    otp_token = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=16,
        help_text="The current code of the user's authenticator app; required when the user has one.",
    )


class TokenOutputSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="Extended each time the token is used.")


class MeOutputSerializer(serializers.ModelSerializer[Any]):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["username", "first_name", "last_name", "email", "roles"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, user: Any) -> list[str]:
        return sorted(roles_of(user))


class LocationOutputSerializer(serializers.ModelSerializer[Location]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    time_zone = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)

    class Meta:
        model = Location
        fields = [
            "id",
            "name",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "phone",
            "time_zone",
            "state_license_number",
            "state_license_expires",
            "accreditation_body",
            "accreditation_expires",
            "is_active",
        ]


class RoomOutputSerializer(serializers.ModelSerializer[Room]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    location = serializers.UUIDField(source="location.public_id", read_only=True)

    class Meta:
        model = Room
        fields = ["id", "location", "name", "capacity", "is_virtual", "is_active"]


class StaffOutputSerializer(serializers.ModelSerializer[StaffProfile]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    roles = serializers.SerializerMethodField()
    primary_location = serializers.UUIDField(source="primary_location.public_id", read_only=True, allow_null=True)

    class Meta:
        model = StaffProfile
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "credentials",
            "npi",
            "license_state",
            "license_number",
            "license_expires",
            "primary_location",
            "roles",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, profile: StaffProfile) -> list[str]:
        return sorted(roles_of(profile.user))


class LevelOfCareOutputSerializer(serializers.ModelSerializer[LevelOfCare]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    hours_band = serializers.CharField(read_only=True)

    class Meta:
        model = LevelOfCare
        fields = [
            "id",
            "code",
            "name",
            "asam_code",
            "asam_edition",
            "min_weekly_hours",
            "max_weekly_hours",
            "hours_band",
            "is_residential",
            "is_active",
        ]
