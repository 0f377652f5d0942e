"""What every insurance admin page shares: patient scoping and audit, and saves through services
whose refusals come back as form errors (clinic.admin_audit's ServiceFormAdmin and refusal_errors,
shared with the patients admin and imported from here by the insurance admin modules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from clinic.admin_audit import GuardedHistoryAdmin, PatientAuditAdminMixin, ServiceFormAdmin, refusal_errors
from patients.access import scope_to_visible_patients
from patients.models import Patient

__all__ = ["HistoryWithoutRevert", "InsuranceAdmin", "ServiceFormAdmin", "patient_name", "refusal_errors"]


def patient_name(path: str) -> Callable[[Any], str]:
    """A list column with the patient's legal name (str() of a patient is the MRN only)."""

    @admin.display(description="Name", ordering=f"{path.replace('.', '__')}__legal_last_name")
    def name(obj: Any) -> str:
        patient = obj
        for part in path.split("."):
            patient = getattr(patient, part)
        return f"{patient.legal_last_name}, {patient.legal_first_name}"

    return name


class InsuranceAdmin(PatientAuditAdminMixin, admin.ModelAdmin):
    """Rows about one patient each: the same patients as the API shows the user (front office
    and clinic administrators: everyone; anyone else: their care teams'), every page audited.
    Clinical roles hold no insurance model permissions (insurance.apps), so they see none here."""

    def scoped(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return scope_to_visible_patients(queryset, request.user, patient_path=self.patient_path, clinical=False)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scoped(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "patient":  # whatever the form posts: only patients this user may see
            kwargs["queryset"] = scope_to_visible_patients(
                Patient.objects.all(), request.user, patient_path="", clinical=False
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def page(self, request: HttpRequest, template: str, obj: Model | None, **context: Any) -> TemplateResponse:
        """A custom page (an upload, a review) in the admin's frame, with the record's breadcrumbs."""
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, **context},
        )


class HistoryWithoutRevert(GuardedHistoryAdmin):
    """Insurance records are written through the services: their history is read, never reverted."""

    allow_revert = False
