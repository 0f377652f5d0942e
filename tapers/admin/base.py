"""The bases of the tapers admin's pages: clinical records (read-only, care team, audited) and the
catalogue's history (reverted only by who may change it)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin
from clinic.roles import CLINICAL_ROLES, may_act_as
from patients.access import scope_to_visible_patients


class ClinicalReadOnlyAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Clinical records, read-only: writes go through the API's services. Clinical roles only
    (clinician, prescriber, nurse), their care teams' (or break-the-glass) patients only, as in
    the API, and every page shown is audited. Admissions, billing and clinic administrators see
    none of it (DESIGN.md, Roles), even if a group gave them the model permission by hand."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_act_as(request.user, CLINICAL_ROLES) and super().has_view_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path=self.patient_path, clinical=True
        )

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> NoReturn:
        # Django's admin answers a record outside the queryset (another team's patient, as one that
        # never existed) with a redirect home and "doesn't exist"; the API answers 404 (STYLE.md),
        # and so does this page. The one hook the change, delete and history views share.
        raise Http404


class ClinicalHistoryAdmin(ClinicalReadOnlyAdmin, SimpleHistoryAdmin):
    """A clinical record with its change history to read, under the same care-team rule and audit.

    simple_history's history pages read the history table directly: a record outside the queryset
    would be shown from its history rows, and its version page saves a posted "revert" past the
    services with no change permission asked. Here both need the record in the user's queryset,
    and nothing is reverted."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def _visible_or_404(self, request: HttpRequest, object_id: str) -> None:
        # In the order of Django's own change view: 403 without the permission, then 404.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        self._visible_or_404(request, object_id)
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class CatalogueHistoryAdmin(SimpleHistoryAdmin):
    """Reference data with its history. simple_history saves a posted revert for anyone who may view
    the record; here only someone who may change it reverts it."""

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST" and not self.has_change_permission(
            request, self.get_object(request, unquote(object_id))
        ):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.has_change_permission(request, obj)
