from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from clinic.apps import DomainAppConfig, Writer

if TYPE_CHECKING:
    from clinic.desk import DeskPanel

_MODELS = (
    "payer",
    "coverage",
    "paymentplan",
    "eligibilitycheck",
    "authorization",
    "authorizationreview",
    "billingalert",
)
_READ = [f"view_{model}" for model in _MODELS]
# Writes in the admin go through the same services as the API (insurance.admin).
_WRITE = [
    "add_payer",
    "change_payer",
    "add_coverage",
    "change_coverage",
    "add_paymentplan",
    "add_eligibilitycheck",
    "add_authorization",
    "change_authorization",
    "add_authorizationreview",
    "change_billingalert",
]


class InsuranceConfig(DomainAppConfig):
    default = True
    name = "insurance"
    verbose_name = "Insurance"
    # DESIGN.md roles: admissions verify insurance at intake; billing and utilization review keep
    # coverage, eligibility and authorizations. Clinical staff use the API (care team only).
    role_permissions = {
        "clinic_admin": [*_READ, *_WRITE],
        "admissions": [*_READ, *_WRITE],
        "billing": [*_READ, *_WRITE],
    }

    def seed_demo(self, out: Writer) -> None:
        from insurance.demo import seed_insurance

        seed_insurance(out)

    def ready(self) -> None:
        super().ready()
        from insurance import receivers  # noqa: F401  (connects to patients' signals)

    def owed_work(self, before: datetime) -> list[tuple[Any, Iterable[int]]]:
        from insurance.services.eligibility import eligibility_checks_owed_send
        from insurance.tasks import eligibility_check_send

        return [(eligibility_check_send, eligibility_checks_owed_send(before))]

    def desk_panels(self, request: HttpRequest) -> list[DeskPanel]:
        from django.urls import reverse

        from clinic.desk import DeskPanel
        from insurance.models import AlertKind, BillingAlert, CheckStatus, EligibilityCheck
        from patients.access import scope_to_visible_patients

        user, panels = request.user, []
        if user.has_perm("insurance.view_eligibilitycheck"):
            checks = scope_to_visible_patients(
                EligibilityCheck.objects.filter(status=CheckStatus.AWAITING),
                user,
                patient_path="coverage.patient",
                clinical=False,
            )
            url = reverse("admin:insurance_eligibilitycheck_changelist") + f"?status__exact={CheckStatus.AWAITING}"
            panels.append(
                DeskPanel("Eligibility checks pending", checks.count(), url, "awaiting the payer's answer", 30)
            )
        if user.has_perm("insurance.view_billingalert"):
            alerts = scope_to_visible_patients(
                BillingAlert.objects.filter(resolved_at__isnull=True), user, patient_path="patient", clinical=False
            )
            url = reverse("admin:insurance_billingalert_changelist") + "?state=open&kind__in="
            for title, kinds, hint, order in [
                (
                    "Authorizations running out or due for review",
                    [AlertKind.REVIEW_DUE, AlertKind.UNITS_RUNNING_OUT, AlertKind.AUTHORIZATION_ENDING],
                    "concurrent reviews coming up, units or dates about to run out",
                    40,
                ),
                (
                    "Authorizations needed",
                    [AlertKind.NO_AUTHORIZATION, AlertKind.AUTHORIZATION_NEEDED],
                    "scheduled or moved to a level with no approved authorization",
                    41,
                ),
            ]:
                count = alerts.filter(kind__in=kinds).count()
                panels.append(DeskPanel(title, count, url + ",".join(kinds), hint, order))
        return panels
