"""Serializers of the coordination endpoints: the prescriber of record and communications."""

from typing import Any

from rest_framework import serializers

from patients.models import DisclosureInformation, DisclosurePurpose
from tapers.models import Communication, CommunicationChannel, CommunicationDirection, Prescriber, PrescriberOfRecord


class CoordinationPrescriberSerializer(serializers.ModelSerializer[Prescriber]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    internal = serializers.BooleanField(source="is_internal", read_only=True)

    class Meta:
        model = Prescriber
        fields = ["id", "name", "credentials", "practice", "internal"]


class PrescriberOfRecordOutputSerializer(serializers.ModelSerializer[PrescriberOfRecord]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True)
    patient = serializers.UUIDField(source="episode.patient.public_id", read_only=True)
    prescriber = CoordinationPrescriberSerializer(read_only=True)
    current = serializers.SerializerMethodField()
    set_by = serializers.CharField(source="set_by.username", read_only=True)

    class Meta:
        model = PrescriberOfRecord
        fields = ["id", "episode", "patient", "prescriber", "started_on", "ended_on", "current", "reason", "set_by"]

    def get_current(self, obj: PrescriberOfRecord) -> bool:
        return obj.ended_on is None


class PrescriberOfRecordSetInputSerializer(serializers.Serializer[Any]):
    episode = serializers.UUIDField(help_text="Episode of care id (an open episode).")
    prescriber = serializers.UUIDField(help_text="Prescriber id (ours or outside).")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    started_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Default today; may be backdated BACKDATE_WINDOW_DAYS with a reason.",
    )
    notify = serializers.BooleanField(
        required=False, default=True, help_text="Send the other outside prescribers a notice, consent permitting."
    )


class NoticeSentSerializer(serializers.Serializer[Any]):
    prescriber = CoordinationPrescriberSerializer()
    communication = serializers.UUIDField(source="communication.public_id")
    channel = serializers.CharField(source="communication.channel")
    status = serializers.CharField(source="communication.status")


class MissingConsentSerializer(serializers.Serializer[Any]):
    recipient_type = serializers.CharField()
    recipient_name = serializers.CharField()
    information = serializers.ListField(child=serializers.CharField())
    purpose = serializers.CharField()


class NoticeNotSentSerializer(serializers.Serializer[Any]):
    prescriber = CoordinationPrescriberSerializer()
    reason = serializers.CharField()
    missing_consent = MissingConsentSerializer(allow_null=True)


class PrescriberOfRecordChangeOutputSerializer(serializers.Serializer[Any]):
    prescriber_of_record = PrescriberOfRecordOutputSerializer(source="record")
    notified = NoticeSentSerializer(many=True, help_text="Outside prescribers sent a notice (or queued to be).")
    not_notified = NoticeNotSentSerializer(
        many=True, help_text="Outside prescribers sent nothing, and why (e.g. the consent that is missing)."
    )


class CommunicationOutputSerializer(serializers.ModelSerializer[Communication]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    prescriber = CoordinationPrescriberSerializer(read_only=True)
    disclosure = serializers.UUIDField(source="disclosure.public_id", read_only=True, allow_null=True)
    consent = serializers.UUIDField(source="disclosure.consent.public_id", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    sent_by = serializers.CharField(source="sent_by.username", read_only=True, allow_null=True)

    class Meta:
        model = Communication
        fields = [
            "id",
            "patient",
            "prescriber",
            "direction",
            "channel",
            "subject",
            "body",
            "information",
            "purpose",
            "status",
            "failure_reason",
            "sent_by",
            "sent_at",
            "received_at",
            "response",
            "responded_at",
            "disclosure",
            "consent",
            "created_by",
            "created_at",
        ]


class CommunicationCreateInputSerializer(serializers.Serializer[Any]):
    patient = serializers.UUIDField()
    prescriber = serializers.UUIDField(help_text="An outside prescriber's id.")
    direction = serializers.ChoiceField(choices=CommunicationDirection.choices)
    channel = serializers.ChoiceField(choices=CommunicationChannel.choices)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=20000)
    information = serializers.ListField(
        child=serializers.ChoiceField(choices=DisclosureInformation.choices),
        required=False,
        default=list,
        help_text="Outbound: what the letter discloses (the consent must cover all of it).",
    )
    purpose = serializers.ChoiceField(
        choices=DisclosurePurpose.choices,
        required=False,
        default=DisclosurePurpose.CARE_COORDINATION,
        help_text="Outbound: why (the consent must name it; a TPO consent covers treatment).",
    )
    received_at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="Inbound only.")


class CommunicationResponseInputSerializer(serializers.Serializer[Any]):
    response = serializers.CharField(max_length=20000)
    responded_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
