"""Insurance admin: authorizations (soonest run-out first), their reviews, and the billing work
queue. Every write goes through insurance.services.authorizations."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.errors import ApplicationError
from clinic.models import AuditAction, LevelOfCare
from insurance import selectors
from insurance.admin.base import HistoryWithoutRevert, InsuranceAdmin, ServiceFormAdmin, patient_name, refusal_errors
from insurance.models import (
    Authorization,
    AuthorizationReview,
    BillingAlert,
    Coverage,
    ReviewOutcome,
    ReviewType,
)
from insurance.services.authorizations import (
    AUTHORIZATION_FIELDS,
    authorization_create,
    authorization_review_record,
    authorization_update,
    authorization_usage_refresh,
    billing_alert_resolve,
)
from patients.access import scope_to_visible_patients

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
REVIEW_COLUMNS = (
    "review_on",
    "review_type",
    "outcome",
    "units_added",
    "extended_to",
    "reviewer",
    "notes",
    "recorded_by",
)


class ReviewInline(admin.TabularInline):
    """Reviews are recorded on their own page ("Record a review"), which also moves the
    authorization on (units, dates, status); here they are read."""

    model = AuthorizationReview
    fields = readonly_fields = REVIEW_COLUMNS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewForm(forms.Form):
    review_type = forms.ChoiceField(choices=ReviewType.choices)
    review_on = forms.DateField(widget=_DATE)
    outcome = forms.ChoiceField(choices=ReviewOutcome.choices, initial=ReviewOutcome.PENDING)
    units_added = forms.IntegerField(min_value=0, initial=0, help_text="Units an approval added.")
    extended_to = forms.DateField(required=False, widget=_DATE, help_text="The new last day, when it was extended.")
    next_review_on = forms.DateField(
        required=False, widget=_DATE, help_text="The next concurrent review; empty when none is set."
    )
    number = forms.CharField(
        max_length=80, required=False, help_text="The payer's number, when this review issued one."
    )
    reviewer = forms.CharField(max_length=200, required=False, help_text="The payer's reviewer or medical director.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Authorization)
class AuthorizationAdmin(ServiceFormAdmin, InsuranceAdmin, HistoryWithoutRevert):
    """Soonest run-out first (the model's ordering; an authorization with no forecast last).
    Units used and scheduled and the run-out date are counted from attendance and bookings."""

    patient_path = "coverage.patient"
    list_display = [
        "patient",
        patient_name("coverage.patient"),
        "payer",
        "level",
        "number",
        "status",
        "units_authorized",
        "units_used",
        "units_scheduled",
        "units_remaining",
        "runs_out_on",
        "next_review_on",
        "ends_on",
    ]
    list_filter = ["status", "level"]
    search_fields = ["=coverage__patient__mrn", "coverage__patient__legal_last_name", "=number"]
    autocomplete_fields = ["coverage"]
    inlines = [ReviewInline]
    actions = ["recount_units"]
    change_form_template = "admin/insurance/authorization/change_form.html"
    _USAGE = ["units_used", "units_scheduled", "units_remaining", "runs_out_on", "usage_refreshed_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Authorization]:
        return self.scoped(request, selectors.authorization_list())

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets: list[Any] = [
            (None, {"fields": ["coverage", "level", "number", "status", "unit", "units_authorized"]}),
            ("Dates", {"fields": ["requested_on", "decided_on", "starts_on", "ends_on", "next_review_on"]}),
            (None, {"fields": ["notes"]}),
        ]
        if obj is not None:
            fieldsets.append(("Usage, counted from attendance and bookings", {"fields": self._USAGE}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # An authorization stays with its coverage and level of care; the payer issues a new one.
        return ["coverage", "level", *self._USAGE] if obj else []

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"requested_on": timezone.localdate(), **super().get_changeform_initial_data(request)}

    @admin.display(description="Patient", ordering="coverage__patient__mrn")
    def patient(self, authorization: Authorization) -> str:
        return authorization.coverage.patient.mrn

    @admin.display(description="Payer", ordering="coverage__payer__name")
    def payer(self, authorization: Authorization) -> str:
        return str(authorization.coverage.payer)

    @admin.display(description="Remaining")
    def units_remaining(self, authorization: Authorization) -> int:
        return authorization.units_remaining

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "coverage":  # only coverages of patients this user may see
            kwargs["queryset"] = scope_to_visible_patients(
                Coverage.objects.all(), request.user, patient_path="patient", clinical=False
            )
        if db_field.name == "level":
            kwargs["queryset"] = LevelOfCare.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in AUTHORIZATION_FIELDS if name in form.cleaned_data}
        try:
            if change:
                saved = authorization_update(authorization=obj, by=request.user, request=request, **fields)
            else:
                data = form.cleaned_data
                saved = authorization_create(
                    coverage=data["coverage"], level=data["level"], by=request.user, request=request, **fields
                )
        except ApplicationError as error:
            raise self.refused(error) from error
        obj.pk, obj.public_id = saved.pk, saved.public_id

    def render_change_form(
        self,
        request: HttpRequest,
        context: Any,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        context["may_review"] = obj is not None and self._may_review(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Recount units now (attendance and bookings)", permissions=["change"])
    def recount_units(self, request: HttpRequest, queryset: QuerySet[Authorization]) -> None:
        # What the beat task does every 15 minutes, for the rows in front of the user now.
        for authorization in queryset:
            authorization_usage_refresh(authorization)
        self.message_user(request, f"Units recounted for {len(queryset)} authorization(s).", level=messages.SUCCESS)

    # --- recording a review ----------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        review = self.admin_site.admin_view(self.review_view)
        return [
            path("<int:authorization_id>/review/", review, name="insurance_authorization_review"),
            *super().get_urls(),
        ]

    def _may_review(self, request: HttpRequest) -> bool:
        return request.user.has_perm("insurance.add_authorizationreview")

    def review_view(self, request: HttpRequest, authorization_id: int) -> HttpResponse:
        """A review with the payer and what it decided, through the review service, which adds
        approved units and days, changes the status and clears the alerts it answers."""
        if not self._may_review(request):
            raise PermissionDenied
        authorization = self.get_object(request, str(authorization_id))
        if authorization is None:
            raise Http404("No such authorization.")
        form = ReviewForm(request.POST or None, initial={"review_on": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                authorization_review_record(
                    authorization=authorization, by=request.user, request=request, **form.cleaned_data
                )
            except ApplicationError as error:
                refusal_errors(form, error)
            else:
                self.message_user(request, "Review recorded.", level=messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:insurance_authorization_change", args=[authorization.pk]))
        self._audit(request, authorization, AuditAction.READ)  # the page names the patient
        patient = authorization.coverage.patient
        intro = (
            f"{patient.mrn} ({patient.legal_last_name}, {patient.legal_first_name}): {authorization}, "
            f"{authorization.coverage.payer}, {authorization.starts_on:%Y-%m-%d} to {authorization.ends_on:%Y-%m-%d}, "
            f"{authorization.units_used} of {authorization.units_authorized} units used."
        )
        return self.page(
            request,
            "admin/insurance/form_page.html",
            authorization,
            title="Record a review",
            intro=intro,
            form=form,
            submit_label="Record the review",
        )


class OpenFilter(admin.SimpleListFilter):
    """To do by default: the queue is the open items."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "To do"), ("resolved", "Resolved"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[BillingAlert]) -> QuerySet[BillingAlert]:
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        max_length=300, initial="Resolved in the admin", help_text="What was done; kept with the alert."
    )


@admin.register(BillingAlert)
class BillingAlertAdmin(InsuranceAdmin):
    """The billing work queue: what to do by when (a review, units running out, sessions booked
    without an authorization). The beat task and level-of-care changes open and clear items;
    staff resolve the rest with the "Resolve" action, saying what they did."""

    list_display = [
        "due_on",
        "kind",
        "patient",
        patient_name("patient"),
        "level",
        "authorization_link",
        "message",
        "resolved_at",
        "resolved_by",
        "resolution",
    ]
    list_filter = [OpenFilter, "kind"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    # Open first, soonest due first; then the most recently resolved.
    ordering = [F("resolved_at").desc(nulls_first=True), "due_on", "id"]
    actions = ["resolve"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillingAlert]:
        return self.scoped(request, selectors.billing_alert_list().select_related("authorization__level"))

    @admin.display(description="Authorization")
    def authorization_link(self, alert: BillingAlert) -> str:
        if alert.authorization is None:
            return "—"
        url = reverse("admin:insurance_authorization_change", args=[alert.authorization_id])
        return format_html('<a href="{}">{}</a>', url, alert.authorization)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # For the action only: an alert is never edited, it is resolved.
        return obj is None and request.user.has_perm("insurance.change_billingalert")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Resolve (say what was done)", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[BillingAlert]) -> HttpResponse | None:
        # Django's two-step action: the first post asks what was done, the second resolves.
        form = ResolveForm(request.POST if "resolution" in request.POST else None)
        if not form.is_valid():
            return self.page(
                request,
                "admin/insurance/form_page.html",
                None,
                title="Resolve billing alerts",
                intro=f"{len(queryset)} alert(s) selected. Say what was done.",
                form=form,
                submit_label="Resolve",
                hidden=[("action", "resolve"), *((ACTION_CHECKBOX_NAME, alert.pk) for alert in queryset)],
            )
        resolved = 0
        for alert in queryset:
            try:
                billing_alert_resolve(
                    alert=alert, by=request.user, resolution=form.cleaned_data["resolution"], request=request
                )
            except ApplicationError as error:
                self.message_user(request, f"{alert.patient.mrn}, {alert}: {error.message}", level=messages.WARNING)
            else:
                resolved += 1
        self.message_user(request, f"{resolved} alert(s) resolved.", level=messages.SUCCESS)
        return None
