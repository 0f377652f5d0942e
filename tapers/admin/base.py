"""The bases of the tapers admin's pages: clinical records (read-only, care team, audited) and the
catalogue's history (reverted only by who may change it)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from clinic.admin_audit import GuardedHistoryAdmin, PatientAuditAdminMixin, ReadOnlyModelAdmin
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


class ClinicalHistoryAdmin(ClinicalReadOnlyAdmin, GuardedHistoryAdmin):
    """A clinical record with its change history to read, under the same care-team rule and audit;
    never reverted (clinical records are written through the services)."""

    allow_revert = False
