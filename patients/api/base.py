from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from clinic.api.viewsets import PatientDataViewSet
from clinic.errors import NotFound
from patients.access import scope_to_visible_patients, visible_patient
from patients.models import Patient


class PatientScopedViewSet(PatientDataViewSet):
    """Every patient-data endpoint of the higher apps derives from this.

    `clinical = True` (the default) limits records to the caller's care-team and
    break-the-glass patients; `False` is for what the front office may also see
    (demographics, consents, coverage, scheduling).
    """

    clinical: bool = True

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return scope_to_visible_patients(
            queryset, self.request.user, patient_path=self.patient_path, clinical=self.clinical
        )

    def visible_patient(self, public_id: UUID) -> Patient:
        """The patient a new record is for, if the caller may see them (else 404)."""
        patient = visible_patient(self.request.user, public_id, clinical=self.clinical)
        if patient is None:
            raise NotFound("No Patient matches the given query.")
        return patient
