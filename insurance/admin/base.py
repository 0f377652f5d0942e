"""What every insurance admin page shares: patient scoping and audit, and saves through services
whose refusals come back as form errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import PatientAuditAdminMixin
from clinic.errors import ApplicationError
from patients.access import scope_to_visible_patients
from patients.models import Patient


def patient_name(path: str) -> Callable[[Any], str]:
    """A list column with the patient's legal name (str() of a patient is the MRN only)."""

    @admin.display(description="Name", ordering=f"{path.replace('.', '__')}__legal_last_name")
    def name(obj: Any) -> str:
        patient = obj
        for part in path.split("."):
            patient = getattr(patient, part)
        return f"{patient.legal_last_name}, {patient.legal_first_name}"

    return name


def refusal_errors(form: forms.BaseForm, error: ApplicationError) -> None:
    """Put a service's refusal on the form: its sentence above the form, and the short notes of
    `extra.fields` on the fields the form has."""
    form.add_error(None, error.message)
    for name, notes in (error.extra.get("fields") or {}).items():
        if name in form.fields and name not in (form.errors or {}):
            form.add_error(name, [str(note) for note in notes])


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


class _Refused(Exception):
    def __init__(self, error: ApplicationError) -> None:
        super().__init__(error.message)
        self.error = error


class ServiceFormAdmin(admin.ModelAdmin):
    """Add and change forms saved by a service. A refusal the form could not foresee (a race for
    the same primary coverage, an overlapping approved authorization) shows the form again with
    what was typed and the service's message, as form errors, never a 500 or a half-save.

    `save_model` calls `refused(error)` when the service refuses."""

    def refused(self, error: ApplicationError) -> _Refused:
        return _Refused(error)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as refused:
            # The admin's transaction rolled back with the exception. Validating the same POST a
            # second time, with the refusal added by the form's clean(), makes Django render the
            # form with the user's values and its own error display.
            request._insurance_refusal = refused.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        refusal: ApplicationError | None = getattr(request, "_insurance_refusal", None)
        if refusal is None:
            return form

        def clean(self: forms.ModelForm) -> Any:
            cleaned = form.clean(self)
            refusal_errors(self, refusal)
            return cleaned

        return type(form.__name__, (form,), {"clean": clean})


class HistoryWithoutRevert(SimpleHistoryAdmin):
    """The record's change history to read. A revert would save an old version past the services
    (their checks and audit), so the button is hidden and a posted revert refused."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        # simple_history falls back to the history table for a row the queryset does not hold.
        if self.get_object(request, object_id) is None:
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        # simple_history reads the version straight from the history table, past the scoping.
        if self.get_object(request, object_id) is None:
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)
