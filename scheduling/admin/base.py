"""What the scheduling admin's pages share."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin
from patients.access import scope_to_visible_patients


class FrontOfficeRowsAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Rows about one patient each, listed for whoever may see that patient's scheduling
    (the front office: every patient; clinical staff: their care teams'), audited."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=False
        )
