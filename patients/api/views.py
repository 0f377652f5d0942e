from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.pagination import Pagination
from clinic.api.parsers import SafeJSONParser
from clinic.api.viewsets import UUID_PATTERN, AuditedListMixin, AuditedRetrieveMixin, PatientDataViewSet
from clinic.audit import AuditTarget, audit_record_many
from clinic.errors import ApplicationError, Forbidden, NotFound
from clinic.models import AuditAction
from clinic.roles import require_role
from patients import selectors, services
from patients.access import clinically_visible_patients
from patients.api.base import PatientScopedViewSet
from patients.api.filters import IntakeFilter, PatientFilter
from patients.api.serializers import (
    BreakGlassInputSerializer,
    BreakGlassOutputSerializer,
    CareTeamMemberCreateInputSerializer,
    CareTeamMemberEndInputSerializer,
    CareTeamMemberOutputSerializer,
    ConsentCreateInputSerializer,
    ConsentOutputSerializer,
    DisclosureCreateInputSerializer,
    DisclosureOutputSerializer,
    EpisodeAdmitInputSerializer,
    EpisodeDischargeInputSerializer,
    EpisodeOutputSerializer,
    EpisodeTransitionInputSerializer,
    MeasureCreateInputSerializer,
    MeasureOutputSerializer,
    PatientCreateInputSerializer,
    PatientOutputSerializer,
    ReferralCreateInputSerializer,
    ReferralOutputSerializer,
)
from patients.api.serializers.intake import (
    IntakeAssessmentCreateInputSerializer,
    IntakeAssessmentOutputSerializer,
    IntakeDecisionInputSerializer,
)
from patients.models import EpisodeOfCare, IntakeAssessment, Patient
from patients.services import consents as consent_services
from patients.services import episodes
from patients.services import intake as intake_services
from patients.services import measures as measure_services


class PatientViewSet(AuditedRetrieveMixin, PatientScopedViewSet):
    serializer_class = PatientOutputSerializer
    patient_path = ""
    clinical = False  # demographics: the front office sees every patient
    filterset_class = PatientFilter

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.patient_list()

    def list(self, request: Request) -> HttpResponse:
        # The page is built by PostgreSQL in one statement (selectors.patient_rows); the ORM
        # still chooses the rows, through the same scope and filters as every other read.
        # Only ids are taken from the queryset: the plain model, not patient_list's prefetches.
        patients = self.filter_queryset(self.scope_queryset(Patient.objects.all()))
        page = self.paginate_queryset(cast(Sequence[tuple[str, str]], selectors.patient_rows(patients))) or []
        audit_record_many(
            (AuditTarget(object_type=Patient._meta.label, object_id=id_, patient_id=id_) for id_, _ in page),
            action=AuditAction.LIST,
            actor=request.user,
            request=request,
        )
        return cast(Pagination, self.paginator).get_json_paginated_response(body for _, body in page)

    @extend_schema(request=PatientCreateInputSerializer, responses={201: PatientOutputSerializer})
    def create(self, request: Request) -> Response:
        """Register a patient (admissions, clinic admin). The MRN is issued here."""
        data = PatientCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_register(by=request.user, request=request._request, **data.validated_data)
        patient = selectors.patient_list().get(pk=patient.pk)
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


class EpisodeViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Episodes of care and their level-of-care stays. The front office sees them (scheduling
    and authorizations follow the level); clinical staff change the level."""

    serializer_class = EpisodeOutputSerializer
    clinical = False
    filterset_fields = {"patient__public_id": ["exact"], "discharged_on": ["isnull"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.episode_list()

    @extend_schema(request=EpisodeAdmitInputSerializer, responses={201: EpisodeOutputSerializer})
    def create(self, request: Request) -> Response:
        """Admit a patient: opens an episode with its first level-of-care stay."""
        data = EpisodeAdmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        # The role first, so the intake lookup below says nothing to someone who may not admit.
        require_role(request.user, episodes.ADMITTING_ROLES, "admit patients")
        patient = self.visible_patient(fields.pop("patient"))
        intake_id = fields.pop("intake_assessment")
        # The admitting desk follows the decision without reading the assessment itself.
        intake = IntakeAssessment.objects.filter(patient=patient, public_id=intake_id).first() if intake_id else None
        if intake_id and intake is None:
            raise ApplicationError(
                "This patient has no intake assessment with that id.",
                extra={"fields": {"intake_assessment": ["Unknown for this patient."]}},
            )
        episode = episodes.episode_admit(
            patient=patient, intake=intake, by=request.user, request=request._request, **fields
        )
        return Response(self._fresh(episode), status=status.HTTP_201_CREATED)

    def get_serializer_context(self) -> dict[str, Any]:
        user = self.request.user
        visible: set[int] | None = None

        def clinically_visible(patient_id: int) -> bool:
            # Read once per request, and only when an episode is shown: a clinician's care
            # teams are small, the front office's set is empty without a query.
            nonlocal visible
            if getattr(user, "is_superuser", False):
                return True
            if visible is None:
                visible = set(clinically_visible_patients(user).values_list("pk", flat=True))
            return patient_id in visible

        return {**super().get_serializer_context(), "clinically_visible": clinically_visible}

    def _fresh(self, episode: EpisodeOfCare) -> dict[str, Any]:
        episode = selectors.episode_list().get(pk=episode.pk)
        return dict(EpisodeOutputSerializer(episode, context=self.get_serializer_context()).data)

    def _clinical_episode(self) -> EpisodeOfCare:
        # Changing the level is clinical work: care team (or break-the-glass) only.
        episode = self.get_object()
        if not clinically_visible_patients(self.request.user).filter(pk=episode.patient_id).exists():
            raise Forbidden("Only the patient's care team can change their level of care or discharge them.")
        return episode

    @extend_schema(request=EpisodeTransitionInputSerializer, responses=EpisodeOutputSerializer)
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, id: str) -> Response:
        """Step down, step up, or transfer out (to a residential or withdrawal-management level)."""
        data = EpisodeTransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        episode = self._clinical_episode()
        episodes.episode_transition(episode=episode, by=request.user, request=request._request, **data.validated_data)
        return Response(self._fresh(episode))

    @extend_schema(request=EpisodeDischargeInputSerializer, responses=EpisodeOutputSerializer)
    @action(detail=True, methods=["post"])
    def discharge(self, request: Request, id: str) -> Response:
        data = EpisodeDischargeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        episode = self._clinical_episode()
        episodes.episode_discharge(
            episode=episode,
            discharged_on=fields.pop("discharged_on"),
            reason=fields.pop("reason"),
            aftercare=fields,
            by=request.user,
            request=request._request,
        )
        return Response(self._fresh(episode))


class ConsentViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """42 CFR Part 2 consents. The front office records and reads them too."""

    serializer_class = ConsentOutputSerializer
    clinical = False
    filterset_fields = {"patient__public_id": ["exact"], "recipient_type": ["exact"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.consent_list()

    @extend_schema(request=ConsentCreateInputSerializer, responses={201: ConsentOutputSerializer})
    def create(self, request: Request) -> Response:
        data = ConsentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        consent = consent_services.consent_record(patient=patient, by=request.user, request=request._request, **fields)
        return Response(ConsentOutputSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ConsentOutputSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, id: str) -> Response:
        """Revoke at once: no disclosure under this consent from now on."""
        consent = consent_services.consent_revoke(consent=self.get_object(), by=request.user, request=request._request)
        return Response(ConsentOutputSerializer(consent).data)


class DisclosureViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Disclosures made through the system. `GET ?patient__public_id=` over the last
    DISCLOSURE_ACCOUNTING_YEARS is the patient's accounting of disclosures (42 CFR 2.25)."""

    serializer_class = DisclosureOutputSerializer
    clinical = False
    filterset_fields = {"patient__public_id": ["exact"], "disclosed_at": ["gte", "lte"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.disclosure_list()

    @extend_schema(request=DisclosureCreateInputSerializer, responses={201: DisclosureOutputSerializer})
    def create(self, request: Request) -> Response:
        """Record a disclosure; refused with 403 naming the missing consent when none covers it."""
        data = DisclosureCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        disclosure = consent_services.disclosure_record(
            patient=patient, by=request.user, request=request._request, **fields
        )
        return Response(DisclosureOutputSerializer(disclosure).data, status=status.HTTP_201_CREATED)

    # filters=False: the accounting is every disclosure of the period, whatever the list's filters.
    @extend_schema(responses=DisclosureOutputSerializer(many=True), filters=False)
    @action(
        detail=False,
        methods=["get"],
        # The same id pattern as every {id}: "-3d83Ef2CD08A-262fc4bEdC5-74Cd3-" passed [0-9a-fA-F-]{32,36}
        # and UUID() raised on it (a 500); now it is a 404 at the URL.
        url_path=rf"accounting/(?P<patient_id>{UUID_PATTERN})",
        pagination_class=None,
    )
    def accounting(self, request: Request, patient_id: str) -> Response:
        """The patient's accounting of disclosures: every disclosure in the last 3 years (42 CFR 2.25)."""
        patient = self.visible_patient(UUID(patient_id))
        since = timezone.now() - timedelta(days=365 * settings.DISCLOSURE_ACCOUNTING_YEARS)
        records = list(self.get_queryset().filter(patient=patient, disclosed_at__gte=since))
        self.audit(records, AuditAction.LIST)
        return Response(DisclosureOutputSerializer(records, many=True).data)


class ReferralViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientDataViewSet):
    """The admissions queue. Referrals are the front office's; clinical staff meet the
    person once they are a patient on their care team."""

    serializer_class = ReferralOutputSerializer
    patient_path = "converted_patient"
    allowed_roles = services.REFERRAL_HANDLERS
    filterset_fields = ["status", "source"]

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.referral_list()

    @extend_schema(request=ReferralCreateInputSerializer, responses={201: ReferralOutputSerializer})
    def create(self, request: Request) -> Response:
        data = ReferralCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        referral = services.referral_create(by=request.user, request=request._request, **data.validated_data)
        return Response(ReferralOutputSerializer(referral).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: PatientOutputSerializer})
    @action(detail=True, methods=["post"])
    def convert(self, request: Request, id: str) -> Response:
        """Register the referred person as a patient (MRN issued), copying what the referral holds."""
        patient = services.referral_convert(referral=self.get_object(), by=request.user, request=request._request)
        return Response(PatientOutputSerializer(patient).data, status=status.HTTP_201_CREATED)


class MeasureViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Screening measures: clinical records, for the care team. Filter by patient and
    instrument for the trend (date order)."""

    serializer_class = MeasureOutputSerializer
    filterset_fields = {"patient__public_id": ["exact"], "instrument": ["exact"], "administered_on": ["gte", "lte"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.measure_list()

    @extend_schema(request=MeasureCreateInputSerializer, responses={201: MeasureOutputSerializer})
    def create(self, request: Request) -> Response:
        data = MeasureCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        response = measure_services.measure_record(patient=patient, by=request.user, request=request._request, **fields)
        return Response(MeasureOutputSerializer(response).data, status=status.HTTP_201_CREATED)


class IntakeAssessmentViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Intake assessments with the level of care proposed from them and the clinician's
    decision: clinical records, for the care team."""

    serializer_class = IntakeAssessmentOutputSerializer
    filterset_class = IntakeFilter
    # JSON only: a form-encoded body turns every missing yes/no safety answer into "no".
    parser_classes = [SafeJSONParser]

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.intake_list()

    @extend_schema(request=IntakeAssessmentCreateInputSerializer, responses={201: IntakeAssessmentOutputSerializer})
    def create(self, request: Request) -> Response:
        """Record an intake; the response carries the proposed level and the reasons for it."""
        data = IntakeAssessmentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        intake = intake_services.intake_record(patient=patient, by=request.user, request=request._request, **fields)
        return Response(self._fresh(intake.pk), status=status.HTTP_201_CREATED)

    def _fresh(self, pk: int) -> dict[str, Any]:
        return dict(IntakeAssessmentOutputSerializer(selectors.intake_list().get(pk=pk)).data)

    @extend_schema(request=IntakeDecisionInputSerializer, responses=IntakeAssessmentOutputSerializer)
    @action(detail=True, methods=["post"])
    def decision(self, request: Request, id: str) -> Response:
        """Confirm the proposed level, or choose another with a reason. Once per assessment."""
        data = IntakeDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        intake = intake_services.intake_decide(
            intake=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(self._fresh(intake.pk))
