"""What the patients admin pages share: picking a patient by a search that names them (never a
select of everyone, and only the patients the user may see), a list column with the patient's
name, and the form pages of the desk's verbs (admit, change the level of care, revoke)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from clinic.audit import audit_record, audit_record_many, audit_target_for
from clinic.models import AuditAction
from patients.access import scope_to_visible_patients
from patients.models import Patient


def patient_label(patient: Patient) -> str:
    """How a patient is offered in a picker: the desk tells two John Smiths apart by the date of birth."""
    return (
        f"{patient.mrn} · {patient.legal_last_name}, {patient.legal_first_name} · born {patient.date_of_birth:%Y-%m-%d}"
    )


def patient_name(path: str) -> Callable[[Any], str]:
    """A list column with the patient's legal name (str() of a patient is the MRN only)."""

    @admin.display(description="Name", ordering=f"{path.replace('.', '__')}__legal_last_name")
    def name(obj: Any) -> str:
        patient = obj
        for part in path.split("."):
            patient = getattr(patient, part)
        return f"{patient.legal_last_name}, {patient.legal_first_name}"

    return name


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return patient_label(obj)


class PatientAutocomplete(AutocompleteSelect):
    """Django's autocomplete widget, asking PatientAutocompleteView rather than the site's own view
    (whose answers would be bare MRNs, and unaudited)."""

    url_name = "%s:patients_patient_autocomplete"

    def build_attrs(self, base_attrs: dict[str, Any], extra_attrs: dict[str, Any] | None = None) -> dict[str, Any]:
        # Wide enough for "MRN · name · born date" without cutting off the date of birth.
        return {**super().build_attrs(base_attrs, extra_attrs), "data-width": "32em"}


class PatientAutocompleteView(AutocompleteJsonView):
    """The patient picker's search: the patient admin's search fields (name, MRN, phone, date of
    birth) over the patients the user may see, each offered with name and date of birth, and
    every patient offered audited as listed, as the API's patient search is."""

    def process_request(self, request: HttpRequest) -> Any:
        term, model_admin, source_field, to_field_name = super().process_request(request)
        if model_admin.model is not Patient:
            raise PermissionDenied
        return term, model_admin, source_field, to_field_name

    def serialize_result(self, obj: Any, to_field_name: str) -> dict[str, str]:
        return {"id": str(getattr(obj, to_field_name)), "text": patient_label(obj)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        audit_record_many(
            (audit_target_for(patient, patient_path="") for patient in context["object_list"]),
            action=AuditAction.LIST,
            actor=self.request.user,
            request=self.request,
            via="admin",
        )
        return context


class PatientPickerMixin(admin.ModelAdmin):
    """Forms with a patient field listed in `autocomplete_fields`: a search that names the
    patients, offering and accepting only those the user may see (`picker_clinical`: only those
    whose clinical records they may open). A form page shown with a patient picked names them,
    so it is audited as a read of that patient."""

    picker_clinical = False

    def pickable_patients(self, request: HttpRequest) -> QuerySet[Patient]:
        return scope_to_visible_patients(
            Patient.objects.all(), request.user, patient_path="", clinical=self.picker_clinical
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Patient and db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault("widget", PatientAutocomplete(db_field, self.admin_site, using=kwargs.get("using")))
            # Whatever the form posts: only patients this user may see.
            kwargs["queryset"] = self.pickable_patients(request)
            kwargs["form_class"] = PatientChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        response = super().add_view(request, form_url, extra_context)
        picked = (request.POST if request.method == "POST" else request.GET).get("patient", "")
        if response.status_code == 200 and picked.isdigit():
            patient = self.pickable_patients(request).filter(pk=picked).first()
            if patient is not None:
                audit_record(
                    audit_target_for(patient, patient_path=""),
                    action=AuditAction.READ,
                    actor=request.user,
                    request=request,
                    via="admin",
                )
        return response


def desk_page(
    model_admin: admin.ModelAdmin, request: HttpRequest, obj: Model | None, *, title: str, **context: Any
) -> TemplateResponse:
    """A page of the desk's own (admit, change the level, confirm a revocation) in the admin's
    frame, with the record's breadcrumbs: admin/patients/form_page.html."""
    return TemplateResponse(
        request,
        "admin/patients/form_page.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "original": obj,
            "title": title,
            **context,
        },
    )
