from typing import Any

from django.db.models import QuerySet

from clinic.api.viewsets import AuditedListMixin, AuditedRetrieveMixin, PatientDataViewSet
from patients import selectors
from patients.api.serializers import PatientOutputSerializer


class PatientViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientDataViewSet):
    serializer_class = PatientOutputSerializer
    patient_path = ""
    filterset_fields = ["status"]

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.patient_list()
