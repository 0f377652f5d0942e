"""Tapers API: coordination with outside prescribers (the prescriber of record, communications).

Clinical records: the care team (or break-the-glass) only; admissions and billing are refused
by role. Writes go through tapers.services.coordination, which audits them; reads are audited
by the mixins. Anything outbound passes the Part 2 consent gate there.
"""

from typing import Any
from uuid import UUID

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from clinic.api.filters import FilterSet, StrictBooleanFilter
from clinic.api.viewsets import UUID_PATTERN, AuditedListMixin, AuditedRetrieveMixin
from clinic.errors import ApplicationError, NotFound
from clinic.roles import CLINICAL_ROLES
from patients.access import scope_to_visible_patients
from patients.api.base import PatientScopedViewSet
from patients.models import EpisodeOfCare
from tapers.api.coordination_serializers import (
    CommunicationCreateInputSerializer,
    CommunicationOutputSerializer,
    CommunicationResponseInputSerializer,
    PrescriberOfRecordChangeOutputSerializer,
    PrescriberOfRecordOutputSerializer,
    PrescriberOfRecordSetInputSerializer,
)
from tapers.models import Communication, CommunicationDirection, Prescriber, PrescriberOfRecord
from tapers.services import coordination as services


def _prescriber(public_id: UUID) -> Prescriber:
    prescriber = Prescriber.objects.filter(public_id=public_id).first()
    if prescriber is None:
        raise ApplicationError("No prescriber has that id.", extra={"fields": {"prescriber": ["Unknown prescriber."]}})
    return prescriber


class PrescriberOfRecordFilter(FilterSet):
    episode = django_filters.UUIDFilter(field_name="episode__public_id", help_text="Episode of care id.")
    patient = django_filters.UUIDFilter(field_name="episode__patient__public_id", help_text="Patient id.")
    current = StrictBooleanFilter(field_name="ended_on", lookup_expr="isnull", help_text="true: the current one only.")

    class Meta:
        model = PrescriberOfRecord
        fields = ["episode", "patient", "current"]


class PrescriberOfRecordViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Who prescribes each episode's controlled medication, with the history of changes."""

    serializer_class = PrescriberOfRecordOutputSerializer
    patient_path = "episode.patient"
    allowed_roles = CLINICAL_ROLES
    filterset_class = PrescriberOfRecordFilter

    def base_queryset(self) -> QuerySet[Any]:
        return services.prescriber_of_record_list()

    @extend_schema(
        request=PrescriberOfRecordSetInputSerializer, responses={201: PrescriberOfRecordChangeOutputSerializer}
    )
    def create(self, request: Request) -> Response:
        """Make a prescriber the episode's prescriber of record (prescribers and clinicians on the
        care team). The current one ends the same day. The other outside prescribers of the patient
        are sent a notice where a consent covers it; the answer lists who was and who was not, and why."""
        data = PrescriberOfRecordSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        episode = (
            scope_to_visible_patients(
                EpisodeOfCare.objects.select_related("patient"), request.user, patient_path="patient", clinical=True
            )
            .filter(public_id=fields["episode"])
            .first()
        )
        if episode is None:
            raise NotFound("No episode of care matches the given query.")
        change = services.prescriber_of_record_set(
            episode=episode,
            prescriber=_prescriber(fields["prescriber"]),
            reason=fields["reason"],
            started_on=fields["started_on"],
            notify=fields["notify"],
            by=request.user,
            request=request._request,
        )
        return Response(PrescriberOfRecordChangeOutputSerializer(change).data, status=status.HTTP_201_CREATED)


class CommunicationFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id: their log.")
    prescriber = django_filters.UUIDFilter(field_name="prescriber__public_id", help_text="Prescriber id.")

    class Meta:
        model = Communication
        fields = ["patient", "prescriber", "direction", "channel", "status"]


class CommunicationViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Letters to and messages from outside prescribers, newest first."""

    serializer_class = CommunicationOutputSerializer
    allowed_roles = CLINICAL_ROLES
    filterset_class = CommunicationFilter

    def base_queryset(self) -> QuerySet[Any]:
        return services.communication_list().select_related("created_by", "sent_by")

    @extend_schema(request=CommunicationCreateInputSerializer, responses={201: CommunicationOutputSerializer})
    def create(self, request: Request) -> Response:
        """Outbound: a draft letter (nothing leaves until `send`). Inbound: a message received
        from the prescriber, recorded as received (no consent is needed to receive)."""
        data = CommunicationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields["patient"])
        common = {
            "patient": patient,
            "prescriber": _prescriber(fields["prescriber"]),
            "channel": fields["channel"],
            "subject": fields["subject"],
            "body": fields["body"],
            "by": request.user,
            "request": request._request,
        }
        if fields["direction"] == CommunicationDirection.OUTBOUND:
            communication = services.communication_draft(
                information=fields["information"], purpose=fields["purpose"], **common
            )
        else:
            communication = services.communication_record_inbound(received_at=fields["received_at"], **common)
        return Response(self._fresh(communication), status=status.HTTP_201_CREATED)

    def _fresh(self, communication: Communication) -> dict[str, Any]:
        return dict(CommunicationOutputSerializer(self.base_queryset().get(pk=communication.pk)).data)

    @extend_schema(request=None, responses=CommunicationOutputSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, id: str) -> Response:
        """Send a draft (or a failed letter again) through the 42 CFR Part 2 consent gate: 403
        naming the missing consent if none covers it (nothing sent, nothing recorded). Secure
        email is queued for the worker (`queued`, then `sent`); fax, phone and mail are released
        for staff to send from the PDF (`to_send_by_staff`), the disclosure recorded now."""
        communication = services.communication_send(
            communication=self.get_object(), by=request.user, request=request._request
        )
        return Response(self._fresh(communication))

    @extend_schema(request=None, responses=CommunicationOutputSerializer)
    @action(detail=True, methods=["post"])
    def sent(self, request: Request, id: str) -> Response:
        """Staff have sent a released letter by fax, phone, mail, portal or in person."""
        communication = services.communication_mark_sent(
            communication=self.get_object(), by=request.user, request=request._request
        )
        return Response(self._fresh(communication))

    @extend_schema(request=CommunicationResponseInputSerializer, responses=CommunicationOutputSerializer)
    @action(detail=True, methods=["post"], url_path="response")
    def record_response(self, request: Request, id: str) -> Response:
        """The prescriber's answer to a letter we sent."""
        data = CommunicationResponseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        communication = services.communication_record_response(
            communication=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(self._fresh(communication))

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def letter(self, request: Request, id: str) -> HttpResponse:
        """The letter as PDF (letterhead, recipient, subject, body, signature, and the 42 CFR 2.32
        notice on every page), once the consent gate has released it; audited as an export."""
        communication = self.get_object()
        pdf = services.communication_letter(communication=communication, by=request.user, request=request._request)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="letter-{communication.public_id}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


router = SimpleRouter()
router.register("prescribers-of-record", PrescriberOfRecordViewSet, basename="prescriber-of-record")
router.register("communications", CommunicationViewSet, basename="communication")

urlpatterns: list[URLPattern | URLResolver] = [
    # `letter.pdf` without the router's trailing slash: a file name, as clients save it.
    re_path(
        rf"^communications/(?P<id>{UUID_PATTERN})/letter\.pdf$",
        CommunicationViewSet.as_view({"get": "letter"}),
        name="communication-letter",
    ),
    *router.urls,
]
