"""Insurance API: payers, coverages, eligibility checks, authorizations, the billing work queue
and self-pay plans. Thin: every write calls insurance.services."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from clinic.api.filters import FilterSet, StrictBooleanFilter
from clinic.api.viewsets import AuditedListMixin, AuditedRetrieveMixin, PublicIdViewSet
from clinic.errors import ApplicationError, NotFound
from clinic.models import AuditAction
from insurance import selectors
from insurance.api.serializers import (
    AuthorizationCreateInputSerializer,
    AuthorizationOutputSerializer,
    AuthorizationReviewInputSerializer,
    AuthorizationUpdateInputSerializer,
    BillingAlertOutputSerializer,
    BillingAlertResolveInputSerializer,
    CoverageCreateInputSerializer,
    CoverageOutputSerializer,
    CoverageUpdateInputSerializer,
    EligibilityCheckCreateInputSerializer,
    EligibilityCheckDetailOutputSerializer,
    EligibilityCheckOutputSerializer,
    EligibilityManualInputSerializer,
    EligibilityResponseInputSerializer,
    PayerInputSerializer,
    PayerOutputSerializer,
    PayerUpdateInputSerializer,
    PaymentInputSerializer,
    PaymentPlanCreateInputSerializer,
    PaymentPlanOutputSerializer,
)
from insurance.files import raw_x12_response
from insurance.models import Authorization, BillingAlert, Coverage, EligibilityCheck, Payer, PaymentPlan
from insurance.services import INSURANCE_READERS, INSURANCE_WRITERS
from insurance.services import authorizations as authorization_services
from insurance.services import coverage as coverage_services
from insurance.services import eligibility as eligibility_services
from patients.access import scope_to_visible_patients
from patients.api.base import PatientScopedViewSet


class PayerFilter(FilterSet):
    is_active = StrictBooleanFilter()

    class Meta:
        model = Payer
        fields = ["is_active"]


class PayerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PublicIdViewSet):
    """Payers (no patient data): any insurance role reads, the desk and billing keep them."""

    serializer_class = PayerOutputSerializer
    allowed_roles = INSURANCE_READERS
    filterset_class = PayerFilter

    def get_queryset(self) -> QuerySet[Payer]:
        return selectors.payer_list()

    @extend_schema(request=PayerInputSerializer, responses={201: PayerOutputSerializer})
    def create(self, request: Request) -> Response:
        data = PayerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payer = coverage_services.payer_create(by=request.user, **data.validated_data)
        return Response(PayerOutputSerializer(payer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PayerUpdateInputSerializer, responses=PayerOutputSerializer)
    def partial_update(self, request: Request, id: str) -> Response:
        data = PayerUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        payer = coverage_services.payer_update(payer=self.get_object(), by=request.user, **data.validated_data)
        return Response(PayerOutputSerializer(payer).data)


class _InsuranceViewSet(AuditedListMixin, AuditedRetrieveMixin, PatientScopedViewSet):
    # Coverage and billing are front-office records (DESIGN.md): the desk and billing see every
    # patient's; clinical staff read their care teams' patients' only.
    clinical = False
    allowed_roles = INSURANCE_READERS

    def coverage_of(self, public_id: Any) -> Coverage:
        """A coverage the caller may see (else 404, as for its patient)."""
        coverages = scope_to_visible_patients(
            selectors.coverage_list(), self.request.user, patient_path="patient", clinical=self.clinical
        )
        found = coverages.filter(public_id=public_id).first()
        if found is None:
            raise NotFound("No Coverage matches the given query.")
        return found


class CoverageFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id.")
    payer = django_filters.UUIDFilter(field_name="payer__public_id", help_text="Payer id.")

    class Meta:
        model = Coverage
        fields = ["patient", "payer", "priority"]


class CoverageViewSet(_InsuranceViewSet):
    serializer_class = CoverageOutputSerializer
    filterset_class = CoverageFilter

    def base_queryset(self) -> QuerySet[Coverage]:
        return selectors.coverage_list()

    @extend_schema(request=CoverageCreateInputSerializer, responses={201: CoverageOutputSerializer})
    def create(self, request: Request) -> Response:
        """Record a patient's insurance (primary, secondary or tertiary)."""
        data = CoverageCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        coverage = coverage_services.coverage_create(
            patient=patient, by=request.user, request=request._request, **fields
        )
        return Response(CoverageOutputSerializer(coverage).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CoverageUpdateInputSerializer, responses=CoverageOutputSerializer)
    def partial_update(self, request: Request, id: str) -> Response:
        """Correct a coverage or terminate it (terminates_on); its history is kept."""
        data = CoverageUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        coverage = coverage_services.coverage_update(
            coverage=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(CoverageOutputSerializer(coverage).data)


class EligibilityCheckFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="coverage__patient__public_id", help_text="Patient id.")
    coverage = django_filters.UUIDFilter(field_name="coverage__public_id", help_text="Coverage id.")
    member_mismatch = StrictBooleanFilter()

    class Meta:
        model = EligibilityCheck
        fields = ["patient", "coverage", "status", "mode", "member_mismatch"]


class EligibilityCheckViewSet(_InsuranceViewSet):
    """Verification of benefits: the history of a coverage's checks, newest first, with the raw
    270 and 271 to download."""

    serializer_class = EligibilityCheckOutputSerializer
    filterset_class = EligibilityCheckFilter
    patient_path = "coverage.patient"
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def base_queryset(self) -> QuerySet[EligibilityCheck]:
        if self.action in ("list",):
            return selectors.eligibility_check_list()
        return selectors.eligibility_check_full()

    def get_serializer_class(self) -> Any:
        return EligibilityCheckOutputSerializer if self.action == "list" else EligibilityCheckDetailOutputSerializer

    def _fresh(self, check: EligibilityCheck) -> dict[str, Any]:
        return dict(EligibilityCheckDetailOutputSerializer(selectors.eligibility_check_full().get(pk=check.pk)).data)

    @extend_schema(
        request=EligibilityCheckCreateInputSerializer, responses={201: EligibilityCheckDetailOutputSerializer}
    )
    def create(self, request: Request) -> Response:
        """Ask the payer. Needs a consent covering the payer for payment (42 CFR 2.31; 403 names it).
        With the clearinghouse the 270 leaves after commit and the answer arrives on the check
        (status awaiting, then answered); manual and file checks wait for staff to record it."""
        data = EligibilityCheckCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        coverage = self.coverage_of(fields.pop("coverage"))
        check = eligibility_services.eligibility_check_request(
            coverage=coverage, by=request.user, request=request._request, **fields
        )
        return Response(self._fresh(check), status=status.HTTP_201_CREATED)

    @extend_schema(request=EligibilityResponseInputSerializer, responses=EligibilityCheckDetailOutputSerializer)
    @action(detail=True, methods=["post"], url_path="response")
    def record_response(self, request: Request, id: str) -> Response:
        """Upload the payer's 271 (file mode, or a manual check answered on the portal). It is
        kept as received; an unreadable file, a rejection or a 271 about another member is
        said so, never summarised."""
        data = EligibilityResponseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data.get("file")
        if upload is not None and upload.size > eligibility_services.MAX_271_BYTES:
            raise ApplicationError("That file is too large to be a 271.", extra={"fields": {"file": ["Too large."]}})
        text = upload.read() if upload is not None else data.validated_data["x12"]
        check = eligibility_services.eligibility_check_record_271(
            check=self.get_object(), x12_271=text, by=request.user, request=request._request
        )
        return Response(self._fresh(check))

    @extend_schema(request=EligibilityManualInputSerializer, responses=EligibilityCheckDetailOutputSerializer)
    @action(detail=True, methods=["post"])
    def manual(self, request: Request, id: str) -> Response:
        """What the payer said on the phone, per level of care."""
        data = EligibilityManualInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        check = eligibility_services.eligibility_check_record_manual(
            check=self.get_object(), by=request.user, request=request._request, **fields
        )
        return Response(self._fresh(check))

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=["270", "271"])],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_path=r"raw/(?P<kind>270|271)")
    def raw(self, request: Request, id: str, kind: str) -> HttpResponse:
        """The 270 as built or the 271 as received, byte for byte; audited as an export."""
        check = self.get_object()
        response = raw_x12_response(check, kind)
        if response is None:
            raise NotFound(f"This check has no {kind} (yet).")
        self.audit([check], AuditAction.EXPORT)
        return response


class AuthorizationFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="coverage__patient__public_id", help_text="Patient id.")
    coverage = django_filters.UUIDFilter(field_name="coverage__public_id", help_text="Coverage id.")
    level = django_filters.CharFilter(field_name="level__code", help_text="php, iop or outpatient.")

    class Meta:
        model = Authorization
        fields = ["patient", "coverage", "level", "status"]


class AuthorizationViewSet(_InsuranceViewSet):
    """Authorizations, soonest run-out first, with units used (attendance), scheduled (future
    bookings) and the forecast run-out date."""

    serializer_class = AuthorizationOutputSerializer
    filterset_class = AuthorizationFilter
    patient_path = "coverage.patient"

    def base_queryset(self) -> QuerySet[Authorization]:
        return selectors.authorization_list()

    def _fresh(self, authorization: Authorization) -> dict[str, Any]:
        return dict(AuthorizationOutputSerializer(selectors.authorization_list().get(pk=authorization.pk)).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One authorization, its units recounted now."""
        authorization = self.get_object()
        authorization_services.authorization_usage_refresh(authorization)
        self.audit([authorization], AuditAction.READ)
        return Response(self._fresh(authorization))

    @extend_schema(request=AuthorizationCreateInputSerializer, responses={201: AuthorizationOutputSerializer})
    def create(self, request: Request) -> Response:
        data = AuthorizationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        coverage = self.coverage_of(fields.pop("coverage"))
        authorization = authorization_services.authorization_create(
            coverage=coverage, by=request.user, request=request._request, **fields
        )
        return Response(self._fresh(authorization), status=status.HTTP_201_CREATED)

    @extend_schema(request=AuthorizationUpdateInputSerializer, responses=AuthorizationOutputSerializer)
    def partial_update(self, request: Request, id: str) -> Response:
        data = AuthorizationUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        authorization = authorization_services.authorization_update(
            authorization=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(self._fresh(authorization))

    @extend_schema(request=AuthorizationReviewInputSerializer, responses={201: AuthorizationOutputSerializer})
    @action(detail=True, methods=["post"])
    def reviews(self, request: Request, id: str) -> Response:
        """Record a review (initial, concurrent, peer to peer, appeal) and what it decided."""
        data = AuthorizationReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = authorization_services.authorization_review_record(
            authorization=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(self._fresh(review.authorization), status=status.HTTP_201_CREATED)


class BillingAlertFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id.")
    open = StrictBooleanFilter(field_name="resolved_at", lookup_expr="isnull", help_text="true: still to do.")

    class Meta:
        model = BillingAlert
        fields = ["patient", "kind", "open"]


class BillingAlertViewSet(_InsuranceViewSet):
    """The billing work queue: reviews due, units running out, authorizations ending, patients
    scheduled without an approved authorization, level changes needing one."""

    serializer_class = BillingAlertOutputSerializer
    filterset_class = BillingAlertFilter

    def base_queryset(self) -> QuerySet[BillingAlert]:
        return selectors.billing_alert_list()

    @extend_schema(request=BillingAlertResolveInputSerializer, responses=BillingAlertOutputSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, id: str) -> Response:
        data = BillingAlertResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = authorization_services.billing_alert_resolve(
            alert=self.get_object(), by=request.user, request=request._request, **data.validated_data
        )
        return Response(BillingAlertOutputSerializer(selectors.billing_alert_list().get(pk=alert.pk)).data)


class PaymentPlanFilter(FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id.")

    class Meta:
        model = PaymentPlan
        fields = ["patient"]


class PaymentPlanViewSet(_InsuranceViewSet):
    """Self-pay payment plans and their instalments (the desk and billing only)."""

    serializer_class = PaymentPlanOutputSerializer
    allowed_roles = INSURANCE_WRITERS
    filterset_class = PaymentPlanFilter

    def base_queryset(self) -> QuerySet[PaymentPlan]:
        return selectors.payment_plan_list()

    def _fresh(self, plan: PaymentPlan) -> dict[str, Any]:
        return dict(PaymentPlanOutputSerializer(selectors.payment_plan_list().get(pk=plan.pk)).data)

    @extend_schema(request=PaymentPlanCreateInputSerializer, responses={201: PaymentPlanOutputSerializer})
    def create(self, request: Request) -> Response:
        data = PaymentPlanCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self.visible_patient(fields.pop("patient"))
        instalments = [(item["due_on"], item["amount"]) for item in fields.pop("instalments")]
        plan = coverage_services.payment_plan_create(
            patient=patient, by=request.user, instalments=instalments, request=request._request, **fields
        )
        return Response(self._fresh(plan), status=status.HTTP_201_CREATED)

    @extend_schema(request=PaymentInputSerializer, responses=PaymentPlanOutputSerializer)
    @action(detail=True, methods=["post"])
    def payments(self, request: Request, id: str) -> Response:
        """Record a payment against the instalment due on `due_on`."""
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = self.get_object()
        instalment = plan.instalments.filter(due_on=data.validated_data["due_on"]).first()
        if instalment is None:
            raise ApplicationError(
                "No instalment of this plan falls due on that date.", extra={"fields": {"due_on": ["No instalment."]}}
            )
        coverage_services.instalment_pay(
            instalment=instalment,
            amount=data.validated_data["amount"],
            paid_on=data.validated_data["paid_on"],
            by=request.user,
            request=request._request,
        )
        return Response(self._fresh(plan))


router = SimpleRouter()
router.register("payers", PayerViewSet, basename="payer")
router.register("coverages", CoverageViewSet, basename="coverage")
router.register("eligibility-checks", EligibilityCheckViewSet, basename="eligibility-check")
router.register("authorizations", AuthorizationViewSet, basename="authorization")
router.register("billing-alerts", BillingAlertViewSet, basename="billing-alert")
router.register("payment-plans", PaymentPlanViewSet, basename="payment-plan")

urlpatterns = router.urls
