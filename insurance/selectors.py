"""Insurance reads: N+1-safe querysets for the API and the admin."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from insurance.models import (
    Authorization,
    AuthorizationReview,
    BillingAlert,
    Coverage,
    EligibilityCheck,
    Payer,
    PaymentPlan,
)


def payer_list() -> QuerySet[Payer]:
    return Payer.objects.all()


def coverage_list() -> QuerySet[Coverage]:
    return Coverage.objects.select_related("patient", "payer")


def eligibility_check_list() -> QuerySet[EligibilityCheck]:
    # The raw files can be large: the list and detail read them only where they are shown.
    return EligibilityCheck.objects.select_related(
        "coverage__patient", "coverage__payer", "requested_by", "answered_by"
    ).defer("raw_270", "raw_271", "parsed")


def eligibility_check_full() -> QuerySet[EligibilityCheck]:
    return EligibilityCheck.objects.select_related(
        "coverage__patient", "coverage__payer", "requested_by", "answered_by"
    )


def authorization_list() -> QuerySet[Authorization]:
    return Authorization.objects.select_related("coverage__patient", "coverage__payer", "level").prefetch_related(
        Prefetch("reviews", queryset=AuthorizationReview.objects.select_related("recorded_by"))
    )


def billing_alert_list() -> QuerySet[BillingAlert]:
    return BillingAlert.objects.select_related("patient", "level", "authorization", "resolved_by")


def payment_plan_list() -> QuerySet[PaymentPlan]:
    return PaymentPlan.objects.select_related("patient").prefetch_related("instalments")
