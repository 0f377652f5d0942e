"""Admin pages that show patient data write the same audit events as the API, and admin forms
saved by services show the services' refusals."""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import ModelDelta
from simple_history.template_utils import HistoricalRecordContextHelper

from clinic.audit import audit_record, audit_record_many, audit_target_for
from clinic.errors import ApplicationError
from clinic.models import AuditAction


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For records made only by services (audit events, break-the-glass grants): the admin
    lists and shows them, and never adds, edits or deletes one."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PatientAuditAdminMixin(admin.ModelAdmin):
    # Dotted attribute path from a record to its patient; "" when the record is the patient.
    patient_path = "patient"

    def _audit(self, request: HttpRequest, obj: Model, action: AuditAction) -> None:
        audit_record(
            audit_target_for(obj, patient_path=self.patient_path),
            action=action,
            actor=request.user,
            request=request,
            via="admin",
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if response.status_code == 200 else None
        if changelist is not None:
            # One event per patient on the page, in one INSERT, as the API's lists do.
            audit_record_many(
                (audit_target_for(obj, patient_path=self.patient_path) for obj in changelist.result_list),
                action=AuditAction.LIST,
                actor=request.user,
                request=request,
                via="admin",
            )
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        # Any page rendered with the record (a GET, or a POST re-shown with errors) is a read;
        # a successful save redirects and is audited by save_model.
        self._audit_rendered(request, object_id, response)
        return response

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        self._audit_rendered(request, object_id, response)
        return response

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        response = super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]
        self._audit_rendered(request, object_id, response)
        return response

    def _audit_rendered(self, request: HttpRequest, object_id: str, response: HttpResponse) -> None:
        if response.status_code != 200:
            return
        obj = self.get_object(request, object_id)
        if obj is not None:
            self._audit(request, obj, AuditAction.READ)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._audit(request, obj, AuditAction.UPDATE if change else AuditAction.CREATE)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._audit(request, obj, AuditAction.DELETE)
        super().delete_model(request, obj)


class ServiceRefused(Exception):
    """Raised by an admin's save hooks when the service refused the change."""


class ServiceSavedAdminMixin(admin.ModelAdmin):
    """For admins whose add/change forms are saved by a service in save_related: when the
    service refuses (an ApplicationError the form could not foresee), show its message and
    the form page again instead of a 500; the admin's transaction has rolled back."""

    def service_refused(self, request: HttpRequest, message: str) -> ServiceRefused:
        self.message_user(request, f"Not saved: {message}", level=messages.ERROR)
        return ServiceRefused(message)

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ServiceRefused:
            return HttpResponseRedirect(request.get_full_path())


def refusal_errors(form: forms.BaseForm, error: ApplicationError) -> None:
    """Put a service's refusal on the form: its sentence above the form, and the short notes of
    `extra.fields` on the fields the form has."""
    form.add_error(None, error.message)
    for name, notes in (error.extra.get("fields") or {}).items():
        if name in form.fields and name not in (form.errors or {}):
            form.add_error(name, [str(note) for note in notes])


class _FormRefused(Exception):
    def __init__(self, error: ApplicationError) -> None:
        super().__init__(error.message)
        self.error = error


class ServiceFormAdmin(admin.ModelAdmin):
    """Add and change forms saved by a service. A refusal the form could not foresee (a race for
    the same primary coverage, a role the service will not accept) shows the form again with what
    was typed and the service's message, as form errors, never a 500 or a half-save.

    `save_model` (or `save_related`) raises `self.refused(error)` when the service refuses."""

    def refused(self, error: ApplicationError) -> _FormRefused:
        return _FormRefused(error)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _FormRefused as refused:
            # The admin's transaction rolled back with the exception. Validating the same POST a
            # second time, with the refusal added by the form's clean(), makes Django render the
            # form with the user's values and its own error display.
            request._service_refusal = refused.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        refusal: ApplicationError | None = getattr(request, "_service_refusal", None)
        if refusal is None:
            return form

        def clean(self: forms.ModelForm) -> Any:
            cleaned = form.clean(self)
            refusal_errors(self, refusal)
            return cleaned

        return type(form.__name__, (form,), {"clean": clean})


class _ShownFieldsContextHelper(HistoricalRecordContextHelper):
    """The history page's changes, of the fields the change page shows this user only."""

    def __init__(self, model: type[Model], record: Any, *, shown: frozenset[str]) -> None:
        super().__init__(model, record)
        self.shown = shown

    def context_for_delta_changes(self, delta: ModelDelta) -> list[dict[str, Any]]:
        changes = [change for change in delta.changes if change.field in self.shown]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=changes))


class GuardedHistoryAdmin(SimpleHistoryAdmin):
    """simple_history's pages under this admin's own rules.

    Its history pages read the history table directly, so a record outside the user's queryset
    (another care team's patient) would be shown from its history rows; and its version page
    saves a posted "revert" for anyone who may merely view the record. Here the record must be in
    the user's queryset (403 without the view permission, then 404, in the order of Django's own
    change view), and a revert needs the change permission on it. `allow_revert = False` is for
    records written only through services: a revert would save an old version past their checks
    and audit, so it is refused outright. The history page lists the changes of the fields the
    change page shows this user only (`get_fieldsets`), so a field hidden there (an episode's
    safety plan from the front office) is not read from its old and new values here.
    """

    allow_revert = True

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.allow_revert or not self.has_change_permission(request, obj)

    def _visible(self, request: HttpRequest, object_id: str) -> Model:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        obj = self._visible(request, object_id)
        request.history_shown_fields = frozenset(  # type: ignore[attr-defined]
            flatten_fieldsets(self.get_fieldsets(request, obj))
        )
        return super().history_view(request, object_id, extra_context)

    def get_historical_record_context_helper(self, request: HttpRequest, historical_record: Any) -> Any:
        shown = getattr(request, "history_shown_fields", None)
        if shown is None:
            return super().get_historical_record_context_helper(request, historical_record)
        return _ShownFieldsContextHelper(self.model, historical_record, shown=shown)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        obj = self._visible(request, object_id)
        if request.method == "POST" and self.revert_disabled(request, obj):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
