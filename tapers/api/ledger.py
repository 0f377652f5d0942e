"""Tapers API: the medication catalogue, prescribers, the prescription ledger, PDMP imports
and checks, risk flags. Thin: every write calls tapers.services.ledger."""

from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from clinic.api.filters import FilterSet, StrictBooleanFilter
from clinic.api.parsers import FormParser, MultiPartParser
from clinic.api.viewsets import AuditedListMixin, AuditedRetrieveMixin, PublicIdViewSet, ReadOnlyViewSet
from clinic.errors import ApplicationError
from patients.api.base import PatientScopedViewSet
from tapers import selectors_ledger as selectors
from tapers.api.ledger_serializers import (
    MedicationOutputSerializer,
    PdmpCheckCreateInputSerializer,
    PdmpCheckOutputSerializer,
    PdmpImportCreateInputSerializer,
    PdmpImportOutputSerializer,
    PrescriberInputSerializer,
    PrescriberOutputSerializer,
    PrescriberUpdateInputSerializer,
    PrescriptionCreateInputSerializer,
    PrescriptionEnteredInErrorInputSerializer,
    PrescriptionOutputSerializer,
    PrescriptionUpdateInputSerializer,
    RiskFlagAcknowledgeInputSerializer,
    RiskFlagOutputSerializer,
)
from tapers.models import Medication, PdmpCheck, PdmpImport, Prescriber, Prescription, RiskFlag
from tapers.services import ledger as services


class MedicationFilter(FilterSet):
    class Meta:
        model = Medication
        fields = ["drug_class", "half_life_group"]


class MedicationViewSet(ReadOnlyViewSet):
    """The medication catalogue (reference data, any staff role), with diazepam equivalents
    computed from tapers.equivalence (never stored)."""

    serializer_class = MedicationOutputSerializer
    filterset_class = MedicationFilter

    def get_queryset(self) -> QuerySet[Medication]:
        return selectors.medication_list()


class PrescriberFilter(FilterSet):
    npi = django_filters.CharFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")
    internal = StrictBooleanFilter(field_name="staff", lookup_expr="isnull", exclude=True)
    is_active = StrictBooleanFilter()

    class Meta:
        model = Prescriber
        fields = ["npi", "name", "internal", "is_active"]


class PrescriberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PublicIdViewSet):
    """Prescribers inside and outside the clinic (no patient data)."""

    serializer_class = PrescriberOutputSerializer
    allowed_roles = services.LEDGER_ROLES
    filterset_class = PrescriberFilter

    def get_queryset(self) -> QuerySet[Prescriber]:
        return selectors.prescriber_list()

    @extend_schema(request=PrescriberInputSerializer, responses={201: PrescriberOutputSerializer})
    def create(self, request: Request) -> Response:
        data = PrescriberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prescriber = services.prescriber_create(by=request.user, **data.validated_data)
        return Response(PrescriberOutputSerializer(prescriber).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PrescriberUpdateInputSerializer, responses=PrescriberOutputSerializer)
    def partial_update(self, request: Request, id: str) -> Response:
        data = PrescriberUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        prescriber = services.prescriber_update(prescriber=self.get_object(), by=request.user, **data.validated_data)
        return Response(PrescriberOutputSerializer(prescriber).data)


class PrescriptionFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id: their ledger.")
    entered_in_error = StrictBooleanFilter(
        field_name="entered_in_error_at", lookup_expr="isnull", exclude=True, help_text="false: the live ledger."
    )

    class Meta:
        model = Prescription
        fields = ["patient", "source", "entered_in_error"]


class PrescriptionViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """The controlled-prescription ledger: the care team's clinical staff only."""

    serializer_class = PrescriptionOutputSerializer
    allowed_roles = services.LEDGER_ROLES
    filterset_class = PrescriptionFilter

    def base_queryset(self) -> QuerySet[Prescription]:
        return selectors.prescription_list()

    @extend_schema(request=PrescriptionCreateInputSerializer, responses={201: PrescriptionOutputSerializer})
    def create(self, request: Request) -> Response:
        """Record a prescription we learned of; re-evaluates the patient's risk flags."""
        data = PrescriptionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        rx = services.prescription_create(patient=patient, by=request.user, request=request._request, **fields)
        return Response(self._fresh(rx), status=status.HTTP_201_CREATED)

    @extend_schema(request=PrescriptionUpdateInputSerializer, responses=PrescriptionOutputSerializer)
    def partial_update(self, request: Request, id: str) -> Response:
        """Correct a prescription (its history is kept); re-evaluates the risk flags."""
        data = PrescriptionUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rx = services.prescription_update(
            prescription=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(self._fresh(rx))

    @extend_schema(request=PrescriptionEnteredInErrorInputSerializer, responses=PrescriptionOutputSerializer)
    @action(detail=True, methods=["post"], url_path="entered-in-error")
    def entered_in_error(self, request: Request, id: str) -> Response:
        """Mark it entered in error: kept with its history, out of the rules and totals. No delete."""
        data = PrescriptionEnteredInErrorInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rx = services.prescription_mark_entered_in_error(
            prescription=self.get_object(),
            reason=data.validated_data["reason"],
            by=request.user,
            request=request._request,
        )
        return Response(self._fresh(rx))

    def _fresh(self, rx: Prescription) -> dict[str, Any]:
        return dict(PrescriptionOutputSerializer(selectors.prescription_list().get(pk=rx.pk)).data)


class _PatientFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id.")


class PdmpImportFilter(_PatientFilter):
    class Meta:
        model = PdmpImport
        fields = ["patient"]


class PdmpImportViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """PDMP report files imported into a patient's ledger."""

    serializer_class = PdmpImportOutputSerializer
    allowed_roles = services.LEDGER_ROLES
    filterset_class = PdmpImportFilter
    parser_classes = [MultiPartParser, FormParser]

    def base_queryset(self) -> QuerySet[PdmpImport]:
        return selectors.pdmp_import_list()

    @extend_schema(
        request={"multipart/form-data": PdmpImportCreateInputSerializer}, responses={201: PdmpImportOutputSerializer}
    )
    def create(self, request: Request) -> Response:
        """Import a PDMP CSV (multipart `file`). Idempotent: rows already recorded are skipped. A file
        with a missing column or a bad value adds nothing; `extra.problems` lists each line and column."""
        data = PdmpImportCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self.visible_patient(data.validated_data["patient"])
        upload = data.validated_data["file"]
        if upload.size is not None and upload.size > settings.PDMP_IMPORT_MAX_BYTES:
            raise ApplicationError(
                f"The file is {upload.size} bytes; the limit is {settings.PDMP_IMPORT_MAX_BYTES} bytes "
                "(PDMP_IMPORT_MAX_BYTES).",
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        record = services.pdmp_import_create(
            patient=patient,
            data=upload.read(),
            file_name=upload.name or "",
            state=data.validated_data.get("state", ""),
            by=request.user,
            request=request._request,
        )
        return Response(PdmpImportOutputSerializer(selectors.pdmp_import_list().get(pk=record.pk)).data, status=201)


class PdmpCheckFilter(_PatientFilter):
    due = StrictBooleanFilter(method="filter_due", help_text="true: the recheck is due today or earlier.")

    class Meta:
        model = PdmpCheck
        fields = ["patient", "state", "due"]

    def filter_due(self, queryset: QuerySet[PdmpCheck], name: str, value: bool) -> QuerySet[PdmpCheck]:
        today = timezone.localdate()
        return queryset.filter(next_due_on__lte=today) if value else queryset.filter(next_due_on__gt=today)


class PdmpCheckViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """The PDMP check log: who looked, when, in which state, what it showed, when next."""

    serializer_class = PdmpCheckOutputSerializer
    allowed_roles = services.LEDGER_ROLES
    filterset_class = PdmpCheckFilter

    def base_queryset(self) -> QuerySet[PdmpCheck]:
        return selectors.pdmp_check_list()

    @extend_schema(request=PdmpCheckCreateInputSerializer, responses={201: PdmpCheckOutputSerializer})
    def create(self, request: Request) -> Response:
        data = PdmpCheckCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        check = services.pdmp_check_record(patient=patient, by=request.user, request=request._request, **fields)
        return Response(PdmpCheckOutputSerializer(check).data, status=status.HTTP_201_CREATED)


class RiskFlagFilter(_PatientFilter):
    open = StrictBooleanFilter(field_name="cleared_at", lookup_expr="isnull", help_text="true: still raised.")

    class Meta:
        model = RiskFlag
        fields = ["patient", "open", "code", "severity"]


class RiskFlagViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Flags the ledger rules raised (tapers.risk), kept in step with every ledger change."""

    serializer_class = RiskFlagOutputSerializer
    allowed_roles = services.LEDGER_ROLES
    filterset_class = RiskFlagFilter

    def base_queryset(self) -> QuerySet[RiskFlag]:
        return selectors.risk_flag_list()

    @extend_schema(request=RiskFlagAcknowledgeInputSerializer, responses=RiskFlagOutputSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, id: str) -> Response:
        """Prescribers and clinicians: seen, with a note. Stays until the flag's prescriptions change."""
        data = RiskFlagAcknowledgeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flag = services.risk_flag_acknowledge(
            flag=self.get_object(), note=data.validated_data.get("note", ""), by=request.user, request=request._request
        )
        return Response(RiskFlagOutputSerializer(selectors.risk_flag_list().get(pk=flag.pk)).data)


router = SimpleRouter()
router.register("medications", MedicationViewSet, basename="medication")
router.register("prescribers", PrescriberViewSet, basename="prescriber")
router.register("prescriptions", PrescriptionViewSet, basename="prescription")
router.register("pdmp-imports", PdmpImportViewSet, basename="pdmp-import")
router.register("pdmp-checks", PdmpCheckViewSet, basename="pdmp-check")
router.register("risk-flags", RiskFlagViewSet, basename="risk-flag")

urlpatterns = router.urls
