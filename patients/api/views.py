from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.viewsets import AuditedListMixin, AuditedRetrieveMixin
from clinic.errors import ApplicationError, NotFound
from patients import selectors, services
from patients.api.base import PatientScopedViewSet
from patients.api.serializers import (
    BreakGlassInputSerializer,
    BreakGlassOutputSerializer,
    CareTeamMemberCreateInputSerializer,
    CareTeamMemberEndInputSerializer,
    CareTeamMemberOutputSerializer,
    PatientCreateInputSerializer,
    PatientOutputSerializer,
)
from patients.models import Patient


class PatientViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    serializer_class = PatientOutputSerializer
    patient_path = ""
    clinical = False  # demographics: the front office sees every patient
    filterset_fields = ["status"]

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.patient_list()

    @extend_schema(request=PatientCreateInputSerializer, responses={201: PatientOutputSerializer})
    def create(self, request: Request) -> Response:
        """Register a patient (admissions, clinic admin). The MRN is issued here."""
        data = PatientCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_register(by=request.user, request=request._request, **data.validated_data)
        return Response(PatientOutputSerializer(patient).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BreakGlassInputSerializer, responses={201: BreakGlassOutputSerializer})
    @action(detail=True, methods=["post"], url_path="break-glass")
    def break_glass(self, request: Request, id: str) -> Response:
        """Open this patient's clinical records to you (off the care team) for a limited time, with a reason."""
        data = BreakGlassInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Deliberately unscoped: the caller cannot see the patient yet; that is the point.
        patient = Patient.objects.filter(public_id=id).first()
        if patient is None:
            raise NotFound("No Patient matches the given query.")
        grant = services.break_glass_grant(
            patient=patient, user=request.user, reason=data.validated_data["reason"], request=request._request
        )
        return Response(BreakGlassOutputSerializer(grant).data, status=status.HTTP_201_CREATED)


class CareTeamMemberViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    serializer_class = CareTeamMemberOutputSerializer
    clinical = False  # who is on the team is not a clinical record; the front office assigns it
    filterset_fields = {"patient__public_id": ["exact"], "team_role": ["exact"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.care_team_member_list()

    @extend_schema(request=CareTeamMemberCreateInputSerializer, responses={201: CareTeamMemberOutputSerializer})
    def create(self, request: Request) -> Response:
        data = CareTeamMemberCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self.visible_patient(data.validated_data["patient"])
        member = (
            get_user_model()
            .objects.filter(staff_profile__public_id=data.validated_data["member"], is_active=True)
            .first()
        )
        if member is None:
            raise ApplicationError(
                "No active staff member has that id.", extra={"fields": {"member": ["Unknown staff id."]}}
            )
        membership = services.care_team_member_add(
            patient=patient,
            member=member,
            team_role=data.validated_data["team_role"],
            started_on=data.validated_data["started_on"],
            by=request.user,
            request=request._request,
        )
        return Response(CareTeamMemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CareTeamMemberEndInputSerializer, responses=CareTeamMemberOutputSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, id: str) -> Response:
        data = CareTeamMemberEndInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.care_team_member_end(
            membership=self.get_object(),
            ended_on=data.validated_data["ended_on"],
            by=request.user,
            request=request._request,
        )
        return Response(CareTeamMemberOutputSerializer(membership).data)
