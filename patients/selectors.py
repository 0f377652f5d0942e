from django.db.models import QuerySet

from patients.models import Patient


def patient_list() -> QuerySet[Patient]:
    return Patient.objects.all()
