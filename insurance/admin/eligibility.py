"""Insurance admin: the eligibility history. Checks are opened from the coverage list (its
"check eligibility" actions); here staff read them, download the raw 270 and 271, upload the
payer's 271 or record what the payer said on the phone, through insurance.services.eligibility."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Length
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from clinic.admin_audit import ReadOnlyModelAdmin
from clinic.errors import ApplicationError
from clinic.models import AuditAction, LevelOfCare
from insurance import selectors
from insurance.admin.base import InsuranceAdmin, patient_name, refusal_errors
from insurance.admin.benefits_table import benefits_table, rejections_in
from insurance.files import raw_x12_response
from insurance.models import CheckStatus, EligibilityCheck
from insurance.services.eligibility import (
    LEVELS,
    MAX_271_BYTES,
    eligibility_check_record_271,
    eligibility_check_record_manual,
)


class Upload271Form(forms.Form):
    file = forms.FileField(required=False, help_text="The 271 as downloaded from the payer's portal.")
    x12 = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 6}), label="Or paste the 271"
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size > MAX_271_BYTES:
            raise forms.ValidationError(f"That file is larger than {MAX_271_BYTES // 1024} KiB: not a 271.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("file")) == bool(data.get("x12")):
            raise forms.ValidationError("Upload the 271 or paste it, one of the two.")
        return data

    def x12_271(self) -> str | bytes:
        upload = self.cleaned_data.get("file")
        return upload.read() if upload else self.cleaned_data["x12"]


_MANUAL_FIELDS: dict[str, Any] = {
    "active": lambda: forms.NullBooleanField(label="Active"),
    "copay": lambda: forms.DecimalField(
        label="Co-pay ($)", min_value=0, max_digits=10, decimal_places=2, required=False
    ),
    "coinsurance": lambda: forms.DecimalField(
        label="Co-insurance (%)", min_value=0, max_value=100, max_digits=5, decimal_places=2, required=False
    ),
    "deductible_remaining": lambda: forms.DecimalField(
        label="Deductible remaining ($)", min_value=0, max_digits=10, decimal_places=2, required=False
    ),
    "out_of_pocket_remaining": lambda: forms.DecimalField(
        label="Out-of-pocket remaining ($)", min_value=0, max_digits=10, decimal_places=2, required=False
    ),
    "visit_limit": lambda: forms.IntegerField(label="Visit limit", min_value=0, required=False),
    "authorization_required": lambda: forms.NullBooleanField(label="Authorization required"),
}


class ManualAnswerForm(forms.Form):
    """What the payer said on the phone, one row per level of care; a level left blank was not
    asked about. Money in dollars, co-insurance in percent as staff hear it."""

    payer_contact = forms.CharField(max_length=200, help_text="Who at the payer gave these benefits.")
    payer_reference = forms.CharField(max_length=80, required=False, label="Call reference")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for level in LEVELS:
            for name, make in _MANUAL_FIELDS.items():
                self.fields[f"{level}_{name}"] = make()

    def level_rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        names = dict(LevelOfCare.objects.filter(code__in=LEVELS).values_list("code", "name"))
        return [(names.get(level, level), [self[f"{level}_{name}"] for name in _MANUAL_FIELDS]) for level in LEVELS]

    def levels(self) -> dict[str, dict[str, Any]]:
        answers: dict[str, dict[str, Any]] = {}
        for level in LEVELS:
            given = {
                name: self.cleaned_data[f"{level}_{name}"]
                for name in _MANUAL_FIELDS
                if self.cleaned_data.get(f"{level}_{name}") is not None
            }
            if "coinsurance" in given:
                given["coinsurance"] = given["coinsurance"] / 100
            if given:
                answers[level] = given
        return answers


@admin.register(EligibilityCheck)
class EligibilityCheckAdmin(InsuranceAdmin, ReadOnlyModelAdmin):
    """The eligibility history, newest first. Read-only: a check's answer is recorded on its own
    pages (upload, phone), by the service that parses, matches and summarises it."""

    patient_path = "coverage.patient"
    list_display = [
        "created_at",
        "patient",
        patient_name("coverage.patient"),
        "payer",
        "mode",
        "status",
        "member_mismatch",
        "answered_at",
    ]
    list_filter = ["status", "mode", "member_mismatch"]
    date_hierarchy = "created_at"
    search_fields = ["=coverage__patient__mrn", "coverage__patient__legal_last_name", "=trace_number"]
    change_form_template = "admin/insurance/eligibilitycheck/change_form.html"
    _CHECK_FIELDS = [
        "patient",
        "coverage_link",
        "mode",
        "status",
        "service_date",
        "asked",
        "trace_number",
        "requested_by",
        "created_at",
        "answered_by",
        "answered_at",
    ]
    readonly_fields = [
        *_CHECK_FIELDS,
        "benefits",
        "failure",
        "member_mismatch",
        "mismatch",
        "rejections",
        "warnings",
        "payer_contact",
        "payer_reference",
        "notes",
        "raw_files",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # Sections with nothing to say are left out: most checks have no problem and no phone call.
        fieldsets: list[Any] = [
            (None, {"fields": self._CHECK_FIELDS}),
            ("Benefits by level of care", {"fields": ["benefits"]}),
        ]
        if obj is not None:
            problems = [
                name
                for name, shown in (
                    ("failure", obj.failure),
                    ("mismatch", obj.member_mismatch),
                    ("rejections", any(rejections_in(obj.parsed))),
                    ("warnings", (obj.parsed or {}).get("warnings")),
                )
                if shown
            ]
            if problems:
                fieldsets.append(("What went wrong", {"fields": problems}))
            if obj.payer_contact:
                fieldsets.append(("Answered on the phone", {"fields": ["payer_contact", "payer_reference", "notes"]}))
        fieldsets.append(("Files as sent and received", {"fields": ["raw_files"]}))
        return fieldsets

    def get_queryset(self, request: HttpRequest) -> Any:
        # The raw files stay in the database; their sizes say whether there is one to download.
        return self.scoped(
            request,
            selectors.eligibility_check_list().annotate(raw_270_size=Length("raw_270"), raw_271_size=Length("raw_271")),
        )

    @admin.display(description="Patient", ordering="coverage__patient__mrn")
    def patient(self, check: EligibilityCheck) -> str:
        return check.coverage.patient.mrn

    @admin.display(description="Payer", ordering="coverage__payer__name")
    def payer(self, check: EligibilityCheck) -> str:
        return str(check.coverage.payer)

    @admin.display(description="Coverage")
    def coverage_link(self, check: EligibilityCheck) -> str:
        url = reverse("admin:insurance_coverage_change", args=[check.coverage_id])
        return format_html('<a href="{}">{}</a>, member {}', url, check.coverage, check.coverage.member_id)

    @admin.display(description="Service types asked")
    def asked(self, check: EligibilityCheck) -> str:
        return ", ".join(check.service_types)

    @admin.display(description="Benefits")
    def benefits(self, check: EligibilityCheck) -> str:
        if check.summary:
            return benefits_table(check.summary)
        if check.status == CheckStatus.ANSWERED and check.member_mismatch:
            return "None shown: the 271 may be about someone else (below). Check the member's details and ask again."
        if check.status == CheckStatus.AWAITING:
            return "Awaiting the payer's answer."
        return "None: the payer did not answer with benefits (below)."

    @admin.display(description="Why the member may not match")
    def mismatch(self, check: EligibilityCheck) -> str:
        return format_html_join("", "<p>{}</p>", ((reason,) for reason in check.mismatch_reasons)) or "—"

    @admin.display(description="Rejections (AAA)")
    def rejections(self, check: EligibilityCheck) -> str:
        found = [
            (r.get("loop", ""), r.get("reason", ""), r.get("reason_code", ""), r.get("follow_up", ""))
            for r in rejections_in(check.parsed)
        ]
        return format_html_join("", "<p>{}: {} ({}). {}.</p>", found) or "—"

    @admin.display(description="Warnings from reading the 271")
    def warnings(self, check: EligibilityCheck) -> str:
        found = [(w.get("message", ""),) for w in (check.parsed or {}).get("warnings") or ()]
        return format_html_join("", "<p>{}</p>", found) or "—"

    @admin.display(description="Raw files")
    def raw_files(self, check: Any) -> str:
        links = [
            (reverse("admin:insurance_eligibilitycheck_raw", args=[check.pk, kind]), f"Download the {kind}", size)
            for kind, size in (("270", check.raw_270_size), ("271", check.raw_271_size))
            if size
        ]
        return format_html_join(" · ", '<a href="{}">{}</a> ({} characters)', links) or "None yet."

    def render_change_form(
        self,
        request: HttpRequest,
        context: Any,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        context["may_record"] = obj is not None and obj.status == CheckStatus.AWAITING and self._may_record(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- the check's own pages -----------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:check_id>/raw/<str:kind>/", view(self.raw_view), name="insurance_eligibilitycheck_raw"),
            path("<int:check_id>/upload-271/", view(self.upload_271_view), name="insurance_eligibilitycheck_upload271"),
            path("<int:check_id>/phone-answer/", view(self.manual_view), name="insurance_eligibilitycheck_manual"),
            *super().get_urls(),
        ]

    def _may_record(self, request: HttpRequest) -> bool:
        # Recording the answer completes the check: the same permission as opening one.
        return request.user.has_perm("insurance.add_eligibilitycheck")

    def _check(self, request: HttpRequest, check_id: int) -> EligibilityCheck:
        check = self.get_object(request, unquote(str(check_id)))
        if check is None:  # not there, or a patient this user may not see: the same answer
            raise Http404("No such eligibility check.")
        return check

    def raw_view(self, request: HttpRequest, check_id: int, kind: str) -> HttpResponse:
        """The 270 as built or the 271 as received; audited as an export (it names the patient)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in ("270", "271"):
            raise Http404
        check = self._check(request, check_id)
        response = raw_x12_response(check, kind)
        if response is None:
            raise Http404(f"This check has no {kind} (yet).")
        self._audit(request, check, AuditAction.EXPORT)
        return response

    def _awaiting(self, request: HttpRequest, check_id: int) -> EligibilityCheck | HttpResponse:
        if not self._may_record(request):
            raise PermissionDenied
        check = self._check(request, check_id)
        if check.status != CheckStatus.AWAITING:
            self.message_user(
                request,
                f"This check is already {check.get_status_display().lower()}; start a new check for a new answer.",
                level=messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:insurance_eligibilitycheck_change", args=[check.pk]))
        return check

    def _recorded(self, request: HttpRequest, check: EligibilityCheck) -> HttpResponse:
        level, outcome = {
            CheckStatus.ANSWERED: (messages.SUCCESS, "Answer recorded."),
            CheckStatus.REJECTED: (messages.WARNING, f"The payer rejected the inquiry: {check.failure}"),
            CheckStatus.UNREADABLE: (messages.ERROR, f"The 271 could not be read: {check.failure}"),
        }.get(CheckStatus(check.status), (messages.INFO, check.get_status_display()))
        if check.member_mismatch:
            level, outcome = messages.WARNING, "Recorded, but the 271 may be about someone else; see why below."
        self.message_user(request, outcome, level=level)
        return HttpResponseRedirect(reverse("admin:insurance_eligibilitycheck_change", args=[check.pk]))

    def upload_271_view(self, request: HttpRequest, check_id: int) -> HttpResponse:
        """File mode: the 271 staff downloaded from the payer's portal (or a manual check answered there)."""
        check = self._awaiting(request, check_id)
        if isinstance(check, HttpResponse):
            return check
        form = Upload271Form(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                check = eligibility_check_record_271(
                    check=check, x12_271=form.x12_271(), by=request.user, request=request
                )
            except ApplicationError as error:
                refusal_errors(form, error)
            else:
                return self._recorded(request, check)
        return self._form_page(request, check, form, "Upload the payer's 271", "admin/insurance/form_page.html")

    def manual_view(self, request: HttpRequest, check_id: int) -> HttpResponse:
        """What the payer said on the phone, per level of care."""
        check = self._awaiting(request, check_id)
        if isinstance(check, HttpResponse):
            return check
        form = ManualAnswerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                check = eligibility_check_record_manual(
                    check=check,
                    by=request.user,
                    levels=form.levels(),
                    payer_contact=form.cleaned_data["payer_contact"],
                    payer_reference=form.cleaned_data["payer_reference"],
                    notes=form.cleaned_data["notes"],
                    request=request,
                )
            except ApplicationError as error:
                refusal_errors(form, error)
            else:
                return self._recorded(request, check)
        return self._form_page(
            request,
            check,
            form,
            "Record the payer's answer",
            "admin/insurance/eligibilitycheck/manual.html",
            level_rows=form.level_rows(),
        )

    def _form_page(
        self, request: HttpRequest, check: EligibilityCheck, form: forms.Form, title: str, template: str, **extra: Any
    ) -> TemplateResponse:
        # The page names the patient and the payer: a read of the check.
        self._audit(request, check, AuditAction.READ)
        coverage = check.coverage
        intro = (
            f"{coverage.patient.mrn} ({coverage.patient.legal_last_name}, {coverage.patient.legal_first_name}): "
            f"{coverage.payer}, member {coverage.member_id}, for services on {check.service_date:%Y-%m-%d}."
        )
        return self.page(
            request, template, check, title=title, intro=intro, form=form, submit_label="Record the answer", **extra
        )
