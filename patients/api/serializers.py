from rest_framework import serializers

from patients.models import Patient


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
