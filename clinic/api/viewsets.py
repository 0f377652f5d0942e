"""Base viewsets. Every API view of patient data derives from `PatientDataViewSet`.

It does three things for every subclass, so no endpoint can forget them:
- checks the caller's role (`allowed_roles`);
- scopes the queryset to what the caller may see (`scope_queryset`; the hook where the
  patients issue puts the care-team rule, a no-op until then); a record outside the
  scope is a 404, never a 403 that would confirm the patient exists;
- writes an audit event for every record read (the audited mixins) or written (actions
  call a service, then `audit`); DRF's unaudited mixins are refused at class creation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import mixins
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from clinic.api.permissions import HasClinicRole
from clinic.audit import audit_record_many, audit_target_for
from clinic.models import AuditAction
from clinic.roles import Role

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class PublicIdViewSet(GenericViewSet):
    """Objects are addressed by their UUID; integer keys never leave the database."""

    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    permission_classes = [IsAuthenticated, HasClinicRole]
    allowed_roles: frozenset[str] = frozenset(Role.values)


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PublicIdViewSet):
    """Reference data any staff role may read (locations, rooms, levels of care)."""


_UNAUDITED_MIXINS = (
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
)


class PatientDataViewSet(PublicIdViewSet):
    # Dotted attribute path from a record to its patient; "" when the record is the patient.
    patient_path: str = "patient"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Overriding get_queryset could skip the scoping; subclasses give base_queryset instead.
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must define base_queryset(), not get_queryset().")
        # DRF's stock mixins read and write without an audit event: use the audited read
        # mixins below, and actions that call a service and then self.audit() for writes.
        unaudited = [mixin.__name__ for mixin in _UNAUDITED_MIXINS if issubclass(cls, mixin)]
        if unaudited:
            raise TypeError(f"{cls.__name__} uses {', '.join(unaudited)}, which writes no audit event.")

    def base_queryset(self) -> QuerySet[Any]:
        """Every record of this endpoint, before access rules (usually a selector)."""
        return super().get_queryset()

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow to what the caller may see. The patients app overrides this."""
        return queryset

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope_queryset(self.base_queryset())

    def audit(self, objs: Iterable[Model], action: AuditAction) -> None:
        audit_record_many(
            (audit_target_for(obj, patient_path=self.patient_path) for obj in objs),
            action=action,
            actor=self.request.user,
            request=self.request,
        )


class AuditedListMixin:
    def list(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        records = page if page is not None else list(queryset)
        self.audit(records, AuditAction.LIST)
        data = self.get_serializer(records, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class AuditedRetrieveMixin:
    def retrieve(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        self.audit([record], AuditAction.READ)
        return Response(self.get_serializer(record).data)
