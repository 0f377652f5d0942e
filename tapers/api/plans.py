"""Tapers API: taper plans (draft, preview, versions, steps, approve, activate, hold, resume,
stop, complete), withdrawal checks, and the patient's single-use check links.

Clinical records: the care team (clinicians, prescribers, nurses) or break-the-glass only;
admissions and billing get 403 everywhere. Only a prescriber with a prescriber record approves.
Every read is audited by the base viewset; every write by its service.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver, path, reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from clinic.api.viewsets import AuditedListMixin, AuditedRetrieveMixin
from clinic.errors import ApplicationError
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES
from patients.api.base import PatientScopedViewSet
from patients.models import EpisodeOfCare
from tapers import selectors_plans as selectors
from tapers.api.plans_serializers import (
    CheckLinkCreatedOutputSerializer,
    CheckLinkFormOutputSerializer,
    CheckLinkSubmitInputSerializer,
    CheckLinkSubmittedOutputSerializer,
    PlanHoldOutputSerializer,
    TaperPlanApproveInputSerializer,
    TaperPlanCreateInputSerializer,
    TaperPlanNoteInputSerializer,
    TaperPlanOutputSerializer,
    TaperPlanPreviewInputSerializer,
    TaperPlanPreviewOutputSerializer,
    TaperPlanReasonInputSerializer,
    TaperPlanVersionCreateInputSerializer,
    TaperPlanVersionOutputSerializer,
    TaperStepOutputSerializer,
    TaperStepsEditInputSerializer,
    WithdrawalCheckCreateInputSerializer,
    WithdrawalCheckOutputSerializer,
    check_link_form,
)
from tapers.models import TaperPlan
from tapers.services import checks as check_services
from tapers.services import plans as services


def _engine_inputs(data: dict[str, Any]) -> dict[str, Any]:
    return {"regimen": data["regimen"], "policy": data.get("policy") or {}, "start_date": data["start_date"]}


class TaperPlanViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """Taper plans. A plan is a proposal until a prescriber approves one exact version."""

    serializer_class = TaperPlanOutputSerializer
    allowed_roles = CLINICAL_ROLES
    filterset_fields = {"patient__public_id": ["exact"], "status": ["exact"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.taper_plan_list()

    def _fresh(self, plan: TaperPlan) -> dict[str, Any]:
        return dict(TaperPlanOutputSerializer(selectors.taper_plan_list().get(pk=plan.pk)).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        plan = self.get_object()
        # Steps come due by date: bring the current step up to date before showing it.
        if services.taper_plan_advance(plan=plan):
            plan = self.get_object()
        self.audit([plan], AuditAction.READ)
        return Response(self.get_serializer(plan).data)

    @extend_schema(request=TaperPlanCreateInputSerializer, responses={201: TaperPlanOutputSerializer})
    def create(self, request: Request) -> Response:
        """Draft a plan from the engine (prescribers): the regimen, policy overrides and start date;
        the strengths are the catalogue's active ones. The first version waits for approval."""
        data = TaperPlanCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields["patient"])
        episode = None
        if fields.get("episode"):
            episode = EpisodeOfCare.objects.filter(patient=patient, public_id=fields["episode"]).first()
            if episode is None:
                raise ApplicationError(
                    "This patient has no episode with that id.", extra={"fields": {"episode": ["Unknown."]}}
                )
        plan = services.taper_plan_draft(
            patient=patient,
            episode=episode,
            hold_band=fields.get("hold_band"),
            note=fields["note"],
            by=request.user,
            request=request._request,
            **_engine_inputs(fields),
        )
        return Response(self._fresh(plan), status=status.HTTP_201_CREATED)

    @extend_schema(request=TaperPlanPreviewInputSerializer, responses=TaperPlanPreviewOutputSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """What the engine would propose; nothing is saved and no patient is involved."""
        data = TaperPlanPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _engine_inputs(dict(data.validated_data))
        proposal = services.plan_preview(regimen=fields["regimen"], policy=fields["policy"], start=fields["start_date"])
        return Response(TaperPlanPreviewOutputSerializer(proposal).data)

    @extend_schema(methods=["GET"], request=None, responses=TaperPlanVersionOutputSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"],
        request=TaperPlanVersionCreateInputSerializer,
        responses={201: TaperPlanVersionOutputSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def versions(self, request: Request, id: str) -> Response:
        """GET: every version with its inputs, steps and digest (what an approver reads).
        POST (prescribers): a new version from the engine; the approved one stays in force until
        this one is approved."""
        plan = self.get_object()
        if request.method == "GET":
            self.audit([plan], AuditAction.READ)
            versions = selectors.taper_plan_versions(plan)
            return Response(TaperPlanVersionOutputSerializer(versions, many=True).data)
        data = TaperPlanVersionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        version = services.taper_plan_redraft(
            plan=plan, note=fields["note"], by=request.user, request=request._request, **_engine_inputs(fields)
        )
        return Response(TaperPlanVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses=TaperStepOutputSerializer(many=True),
        filters=False,
        parameters=[
            OpenApiParameter("version", int, description="A version's number; default: the schedule followed.")
        ],
    )
    @extend_schema(
        methods=["POST"], request=TaperStepsEditInputSerializer, responses={201: TaperPlanVersionOutputSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def steps(self, request: Request, id: str) -> Response:
        """GET: the steps the patient follows (or one version's, ?version=N), with any days shifted
        by holds. POST (prescribers): steps entered or edited by hand, checked against the rules,
        as a new version needing approval."""
        plan = self.get_object()
        if request.method == "GET":
            version = None
            number = request.query_params.get("version")
            if number is not None:
                version = plan.versions.filter(number=int(number) if number.isdigit() else 0).first()
                if version is None:
                    raise ApplicationError(
                        "This plan has no version with that number.", extra={"fields": {"version": ["Unknown."]}}
                    )
            elif services.taper_plan_advance(plan=plan):
                plan.refresh_from_db()
            self.audit([plan], AuditAction.READ)
            return Response(
                TaperStepOutputSerializer(selectors.taper_plan_steps(plan, version=version), many=True).data
            )
        data = TaperStepsEditInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        new = services.taper_plan_edit_steps(
            plan=plan,
            steps=fields["steps"],
            regimen=fields.get("regimen"),
            note=fields["note"],
            by=request.user,
            request=request._request,
        )
        return Response(TaperPlanVersionOutputSerializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TaperPlanApproveInputSerializer, responses=TaperPlanOutputSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, id: str) -> Response:
        """Approve the version waiting for approval (a prescriber with a prescriber record). Send
        the digest of the version you read: if the plan changed since, 409."""
        data = TaperPlanApproveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.taper_plan_approve(
            plan=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(self._fresh(plan))

    @extend_schema(request=None, responses=TaperPlanOutputSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, id: str) -> Response:
        """Start an approved plan: its first step becomes current on its date."""
        plan = services.taper_plan_activate(plan=self.get_object(), by=request.user, request=request._request)
        return Response(self._fresh(plan))

    @extend_schema(request=TaperPlanReasonInputSerializer, responses={201: PlanHoldOutputSerializer})
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, id: str) -> Response:
        """Hold the next step (any clinical role on the care team), with the reason."""
        data = TaperPlanReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.taper_plan_hold(
            plan=self.get_object(), reason=data.validated_data["reason"], by=request.user, request=request._request
        )
        return Response(PlanHoldOutputSerializer(hold).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TaperPlanNoteInputSerializer, responses=PlanHoldOutputSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, id: str) -> Response:
        """Resume a held plan (prescribers): every later step moves by the days held."""
        data = TaperPlanNoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.taper_plan_resume(
            plan=self.get_object(), note=data.validated_data["note"], by=request.user, request=request._request
        )
        return Response(PlanHoldOutputSerializer(hold).data)

    @extend_schema(request=TaperPlanReasonInputSerializer, responses=TaperPlanOutputSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, id: str) -> Response:
        data = TaperPlanReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.taper_plan_stop(
            plan=self.get_object(), reason=data.validated_data["reason"], by=request.user, request=request._request
        )
        return Response(self._fresh(plan))

    @extend_schema(request=TaperPlanNoteInputSerializer, responses=TaperPlanOutputSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, id: str) -> Response:
        data = TaperPlanNoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.taper_plan_complete(
            plan=self.get_object(), note=data.validated_data["note"], by=request.user, request=request._request
        )
        return Response(self._fresh(plan))

    @extend_schema(request=None, responses={201: CheckLinkCreatedOutputSerializer})
    @action(detail=True, methods=["post"], url_path="check-links")
    def check_links(self, request: Request, id: str) -> Response:
        """A single-use link for the patient to record a withdrawal check without logging in. The
        URL is in this answer only; it expires after TAPER_CHECK_LINK_HOURS."""
        new = check_services.check_link_create(plan=self.get_object(), by=request.user, request=request._request)
        url = request.build_absolute_uri(reverse("check-link", args=[new.token]))
        body = {"id": new.link.public_id, "url": url, "expires_at": new.link.expires_at}
        response = Response(CheckLinkCreatedOutputSerializer(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class WithdrawalCheckViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    """CIWA-B withdrawal checks with vital signs, and the hold decision each led to."""

    serializer_class = WithdrawalCheckOutputSerializer
    allowed_roles = CLINICAL_ROLES
    filterset_fields = {"patient__public_id": ["exact"], "plan__public_id": ["exact"], "hold": ["exact"]}

    def base_queryset(self) -> QuerySet[Any]:
        return selectors.withdrawal_check_list()

    @extend_schema(request=WithdrawalCheckCreateInputSerializer, responses={201: WithdrawalCheckOutputSerializer})
    def create(self, request: Request) -> Response:
        """Record a check (nurse, clinician or prescriber on the care team). At or over the plan's
        hold band, or over a blood-pressure or pulse limit, the plan's next step is held and the
        care team alerted."""
        data = WithdrawalCheckCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        plan_id: UUID | None = fields.pop("plan")
        plan = None
        if plan_id is not None:
            plan = TaperPlan.objects.filter(patient=patient, public_id=plan_id).first()
            if plan is None:
                raise ApplicationError(
                    "This patient has no plan with that id.", extra={"fields": {"plan": ["Unknown."]}}
                )
        check = check_services.withdrawal_check_record(
            patient=patient, plan=plan, by=request.user, request=request._request, **fields
        )
        check = selectors.withdrawal_check_list().get(pk=check.pk)
        return Response(WithdrawalCheckOutputSerializer(check).data, status=status.HTTP_201_CREATED)


class CheckLinkThrottle(SimpleRateThrottle):
    """Per client address: the link needs no login, so guessing is slowed here too."""

    scope = "taper_check_link"

    def __init__(self) -> None:
        self.rate = settings.TAPER_CHECK_LINK_THROTTLE
        super().__init__()

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CheckLinkView(APIView):
    """The patient's check form behind a single-use link (no login). Unknown token 404; used or
    expired 410. The form carries nothing about the patient: no name, no drug."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CheckLinkThrottle]

    @extend_schema(responses=CheckLinkFormOutputSerializer, auth=[])
    def get(self, request: Request, token: str) -> Response:
        link = check_services.check_link_get(token=token)
        response = Response(CheckLinkFormOutputSerializer(check_link_form(link.expires_at)).data)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=CheckLinkSubmitInputSerializer, responses={201: CheckLinkSubmittedOutputSerializer}, auth=[])
    def post(self, request: Request, token: str) -> Response:
        data = CheckLinkSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check_services.check_link_submit(token=token, request=request._request, **data.validated_data)
        body = {"message": "Thank you. Your answers have been sent to your care team."}
        return Response(CheckLinkSubmittedOutputSerializer(body).data, status=status.HTTP_201_CREATED)


router = SimpleRouter()
router.register("taper-plans", TaperPlanViewSet, basename="taper-plan")
router.register("withdrawal-checks", WithdrawalCheckViewSet, basename="withdrawal-check")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("check-links/<str:token>/", CheckLinkView.as_view(), name="check-link"),
]
