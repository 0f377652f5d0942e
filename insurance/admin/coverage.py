"""Insurance admin: payers, coverages (also on the patient page), the "check eligibility"
actions, and self-pay payment plans. Every save goes through insurance.services.coverage."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from clinic.errors import ApplicationError
from insurance import selectors
from insurance.admin.base import HistoryWithoutRevert, InsuranceAdmin, ServiceFormAdmin, patient_name
from insurance.models import CheckMode, CheckStatus, Coverage, EligibilityCheck, Instalment, Payer, PaymentPlan
from insurance.services.coverage import (
    COVERAGE_FIELDS,
    PAYER_FIELDS,
    coverage_create,
    coverage_update,
    payer_create,
    payer_update,
    payment_plan_create,
)
from insurance.services.eligibility import eligibility_check_request, http_mode_available
from patients.admin import PATIENT_EXTRA_INLINES


@admin.register(Payer)
class PayerAdmin(ServiceFormAdmin, HistoryWithoutRevert):
    list_display = ["name", "payer_id", "phone", "portal_url", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "payer_id"]
    fields = list(PAYER_FIELDS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # coverages keep their payer; mark it inactive instead

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "portal_url":
            kwargs["assume_scheme"] = "https"  # payer portals are https; Django 6 makes it the default
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if request.GET.get("field_name") == "payer":
            # The autocomplete of a coverage's payer: the service refuses an inactive payer.
            queryset = queryset.filter(is_active=True)
        return queryset, duplicates

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in PAYER_FIELDS if name in form.cleaned_data}
        try:
            saved = (
                payer_update(payer=obj, by=request.user, **fields)
                if change
                else payer_create(by=request.user, **fields)
            )
        except ApplicationError as error:
            raise self.refused(error) from error
        obj.pk = saved.pk


class EligibilityCheckInline(admin.TabularInline):
    """The coverage's eligibility history, newest first; each check opens on its own page."""

    model = EligibilityCheck
    fields = ["created_at", "mode", "status", "member_mismatch", "answered_at", "requested_by"]
    readonly_fields = ["created_at", "mode", "status", "member_mismatch", "answered_at", "requested_by"]
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[EligibilityCheck]:
        return super().get_queryset(request).select_related("requested_by").defer("raw_270", "raw_271", "parsed")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


COVERAGE_COLUMNS = (
    "payer",
    "member_id",
    "group_number",
    "plan_name",
    "priority",
    "subscriber_relationship",
    "effective_on",
    "terminates_on",
)


class CoverageInline(admin.TabularInline):
    """The patient's coverages on the patient page, read-only: they are added and changed on the
    coverage page, through the coverage service (its checks and audit)."""

    model = Coverage
    fk_name = "patient"
    template = "admin/insurance/coverage_inline.html"
    fields = readonly_fields = COVERAGE_COLUMNS
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Coverage]:
        return super().get_queryset(request).select_related("payer")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


PATIENT_EXTRA_INLINES.append(CoverageInline)

_NEXT_STEP = {
    CheckMode.HTTP: ("sent to the clearinghouse; the answer will show on the check", "change"),
    CheckMode.FILE: ("upload the payer's 271", "upload271"),
    CheckMode.MANUAL: ("record what the payer says", "manual"),
}


@admin.register(Coverage)
class CoverageAdmin(ServiceFormAdmin, InsuranceAdmin, HistoryWithoutRevert):
    list_display = [
        "patient",
        patient_name("patient"),
        "payer",
        "member_id",
        "priority",
        "effective_on",
        "terminates_on",
        "last_check",
    ]
    list_filter = ["priority", ("terminates_on", admin.EmptyFieldListFilter), "payer"]
    # The desk finds a coverage by the patient (MRN or name), the member id or the payer.
    search_fields = ["=patient__mrn", "patient__legal_last_name", "=member_id", "payer__name"]
    autocomplete_fields = ["patient", "payer"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "patient",
                    "payer",
                    "member_id",
                    "group_number",
                    "plan_name",
                    "priority",
                    "effective_on",
                    "terminates_on",
                ]
            },
        ),
        (
            "Subscriber, when the patient is not the subscriber",
            {
                "fields": [
                    "subscriber_relationship",
                    "subscriber_first_name",
                    "subscriber_last_name",
                    "subscriber_date_of_birth",
                    "subscriber_sex",
                ]
            },
        ),
    ]
    inlines = [EligibilityCheckInline]
    actions = ["check_eligibility", "check_eligibility_by_phone"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Coverage]:
        latest = EligibilityCheck.objects.filter(coverage=OuterRef("pk")).order_by("-created_at", "-id")
        return self.scoped(
            request,
            selectors.coverage_list().annotate(
                last_check_status=Subquery(latest.values("status")[:1]),
                last_check_at=Subquery(latest.values("created_at")[:1]),
            ),
        )

    @admin.display(description="Last eligibility check", ordering="last_check_at")
    def last_check(self, coverage: Any) -> str:
        if coverage.last_check_at is None:
            return "—"
        return f"{coverage.last_check_at:%Y-%m-%d}: {CheckStatus(coverage.last_check_status).label.lower()}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A coverage stays with its patient and payer (a new card is a new coverage).
        return ["patient", "payer"] if obj else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "payer":  # whatever the form posts: the service refuses an inactive payer
            kwargs["queryset"] = Payer.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in COVERAGE_FIELDS if name in form.cleaned_data}
        try:
            if change:
                saved = coverage_update(coverage=obj, by=request.user, request=request, **fields)
            else:
                saved = coverage_create(
                    patient=form.cleaned_data["patient"], by=request.user, request=request, **fields
                )
        except ApplicationError as error:
            raise self.refused(error) from error
        # The admin's log entry and redirect name the row the service saved.
        obj.pk, obj.public_id = saved.pk, saved.public_id

    def has_check_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("insurance.add_eligibilitycheck")

    @admin.action(description="Check eligibility (clearinghouse, or the payer's 271 to upload)", permissions=["check"])
    def check_eligibility(self, request: HttpRequest, queryset: QuerySet[Coverage]) -> None:
        # The same service and default as POST /api/v1/eligibility-checks/ without a mode.
        self._check(request, queryset, CheckMode.HTTP if http_mode_available() else CheckMode.FILE)

    @admin.action(description="Check eligibility by phone (record what the payer says)", permissions=["check"])
    def check_eligibility_by_phone(self, request: HttpRequest, queryset: QuerySet[Coverage]) -> None:
        self._check(request, queryset, CheckMode.MANUAL)

    def _check(self, request: HttpRequest, queryset: QuerySet[Coverage], mode: str) -> None:
        for coverage in queryset:
            label = f"{coverage.patient.mrn}, {coverage.payer}"
            try:
                check = eligibility_check_request(coverage=coverage, by=request.user, mode=mode, request=request)
            except ApplicationError as error:
                # A missing payer consent (42 CFR 2.31) is a Forbidden whose message names it.
                self.message_user(request, f"{label}: {error.message}", level=messages.ERROR)
                continue
            step, view = _NEXT_STEP[CheckMode(mode)]
            url = reverse(f"admin:insurance_eligibilitycheck_{view}", args=[check.pk])
            self.message_user(
                request,
                format_html('{}: eligibility check opened; <a href="{}">{}</a>.', label, url, step),
                level=messages.SUCCESS,
            )


class InstalmentInline(admin.TabularInline):
    """Typed with the plan, read-only afterwards (the plan is an agreement; payments are
    recorded against it through the API)."""

    model = Instalment
    extra = 3
    can_delete = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["due_on", "amount"] if obj is None else ["due_on", "amount", "paid_on", "paid_amount"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else ["due_on", "amount", "paid_on", "paid_amount"]

    # Instalments have no permissions of their own: they are part of the plan.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("insurance.view_paymentplan")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and request.user.has_perm("insurance.add_paymentplan")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ServiceFormAdmin, InsuranceAdmin, HistoryWithoutRevert):
    """Self-pay agreements: set up with their instalments by the same service as the API, which
    checks that the instalments add up to the total; read-only once saved."""

    list_display = ["agreed_on", "patient", patient_name("patient"), "total", "instalments_paid", "created_by"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "agreed_on"
    autocomplete_fields = ["patient"]
    fields = ["patient", "total", "agreed_on", "notes"]
    inlines = [InstalmentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentPlan]:
        return self.scoped(request, selectors.payment_plan_list().select_related("created_by"))

    @admin.display(description="Instalments paid")
    def instalments_paid(self, plan: PaymentPlan) -> str:
        instalments = list(plan.instalments.all())  # prefetched by the selector
        return f"{sum(1 for i in instalments if i.paid_on)} of {len(instalments)}"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_fields(request, obj), "created_by"] if obj else super().get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        pass  # the service writes the plan and its instalments together, in save_related

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        instalments = [
            (row.cleaned_data["due_on"], row.cleaned_data["amount"])
            for formset in formsets
            for row in formset.forms
            if row.cleaned_data and not row.cleaned_data.get("DELETE")
        ]
        data = form.cleaned_data
        try:
            plan = payment_plan_create(
                patient=data["patient"],
                by=request.user,
                total=data["total"],
                agreed_on=data["agreed_on"],
                notes=data["notes"],
                instalments=instalments,
                request=request,
            )
        except ApplicationError as error:
            raise self.refused(error) from error
        form.instance.pk, form.instance.public_id = plan.pk, plan.public_id
        for formset in formsets:
            # What the admin's change message reads from a saved formset; the rows were saved by the service.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
