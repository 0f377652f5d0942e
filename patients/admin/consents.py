"""Part 2 consents in the admin: recorded through the consent service (the same checks and audit
as POST /api/v1/consents/), read-only once recorded, revoked with the "Revoke" action; the
read-only disclosure log."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from clinic.admin_audit import PatientAuditAdminMixin, ReadOnlyModelAdmin, ServiceFormAdmin
from clinic.audit import audit_record_many, audit_target_for
from clinic.errors import ApplicationError
from clinic.models import AuditAction
from clinic.roles import may_act_as
from patients.access import scope_to_visible_patients
from patients.admin.base import PatientPickerMixin, desk_page, patient_name
from patients.consents import RIGHT_TO_REVOKE
from patients.models import Consent, Disclosure, DisclosureInformation, DisclosurePurpose
from patients.selectors import consent_list
from patients.services.consents import CONSENT_RECORDERS, consent_record, consent_revoke

# What consent_record takes besides the patient: the terms of § 2.31(a), as signed.
CONSENT_TERMS = [
    "recipient_type",
    "recipient_name",
    "information",
    "amount_and_kind",
    "purposes",
    "effective_on",
    "expires_on",
    "expiry_event",
    "signed_at",
    "signature_method",
    "witness_name",
    "right_to_revoke_statement",
]


class ConsentForm(forms.ModelForm):
    # The model keeps these as arrays; the form asks them as ticks, never as typed codes.
    information = forms.MultipleChoiceField(
        choices=DisclosureInformation.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What may be disclosed; describe it below in the patient's words.",
    )
    purposes = forms.MultipleChoiceField(choices=DisclosurePurpose.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Consent
        fields = ["patient", *CONSENT_TERMS]
        help_texts = {
            "expires_on": "An expiry date, or an expiry event below (42 CFR 2.31(a)(6)).",
            "witness_name": "Required for a verbal consent.",
        }


def _labels(choices: type[Any], values: list[str]) -> str:
    return ", ".join(str(choices(value).label) for value in values)


def _expires(consent: Consent) -> date | str:
    # A date shows as the admin shows dates; an event, as the consent words it.
    return consent.expires_on or f"at {consent.expiry_event}"


class ConsentInline(admin.TabularInline):
    """Read-only on the patient page, with an "Add a consent" link to the consent page for this
    patient: consents are recorded and revoked through the consent service, which checks them and
    audits."""

    model = Consent
    fk_name = "patient"
    template = "admin/patients/consent_inline.html"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "recipient_name",
        "recipient_type",
        "information_shown",
        "purposes_shown",
        "effective_on",
        "expires",
        "revoked_at",
    )

    @admin.display(description="Information")
    def information_shown(self, consent: Consent) -> str:
        return _labels(DisclosureInformation, consent.information)

    @admin.display(description="Purposes")
    def purposes_shown(self, consent: Consent) -> str:
        return _labels(DisclosurePurpose, consent.purposes)

    @admin.display(description="Expires")
    def expires(self, consent: Consent) -> date | str:
        return _expires(consent)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Consent)
class ConsentAdmin(PatientPickerMixin, ServiceFormAdmin, PatientAuditAdminMixin, admin.ModelAdmin):
    """Consents, scoped like the API (front office: everyone's; clinical staff: their care teams'),
    every page audited. The add page records one through consent_record, whose refusals come back
    as form errors with what was typed kept; a recorded consent is read-only, and revoked with the
    action, at once (consent_revoke)."""

    form = ConsentForm
    list_display = [
        "patient",
        patient_name("patient"),
        "recipient_name",
        "recipient_type",
        "purposes_shown",
        "effective_on",
        "expires",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "recipient_type"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "patient__legal_last_name", "recipient_name"]
    date_hierarchy = "effective_on"
    autocomplete_fields = ["patient"]
    actions = ["revoke"]
    add_fieldsets = [
        (None, {"fields": ["patient"]}),
        ("Who may receive it", {"fields": ["recipient_type", "recipient_name"]}),
        ("What, and what for", {"fields": ["information", "amount_and_kind", "purposes"]}),
        ("For how long", {"fields": ["effective_on", "expires_on", "expiry_event"]}),
        ("Signature", {"fields": ["signed_at", "signature_method", "witness_name", "right_to_revoke_statement"]}),
    ]
    record_fieldset = ("Recorded and revoked", {"fields": ["recorded_by", "created_at", "revoked_at", "revoked_by"]})

    def render_change_form(
        self,
        request: HttpRequest,
        context: Any,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None:
            # str() of a consent is Django's "Consent object (n)": name it for people.
            context["subtitle"] = context["record_label"] = f"{obj.patient.mrn}: {obj.recipient_name}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Consent]:
        return scope_to_visible_patients(consent_list(), request.user, patient_path="patient", clinical=False)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else [*self.add_fieldsets, self.record_fieldset]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["patient", *CONSENT_TERMS, *self.record_fieldset[1]["fields"]]

    @admin.display(description="Purposes")
    def purposes_shown(self, consent: Consent) -> str:
        return _labels(DisclosurePurpose, consent.purposes)

    @admin.display(description="Expires", ordering="expires_on")
    def expires(self, consent: Consent) -> date | str:
        return _expires(consent)

    # --- who may do what: the consent service's rule, not model permissions (no role holds
    # add_consent or change_consent; the service decides who may record and revoke) -------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_act_as(request.user, CONSENT_RECORDERS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a signed consent is not edited: revoke it and record a new one

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what was allowed stays, revoked or not

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return may_act_as(request.user, CONSENT_RECORDERS)

    # --- recording --------------------------------------------------------------------------------

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        now = timezone.localtime()
        return {
            "effective_on": now.date(),
            "signed_at": now.replace(second=0, microsecond=0),
            "right_to_revoke_statement": RIGHT_TO_REVOKE,
            **super().get_changeform_initial_data(request),  # ?patient= from the patient page's link
        }

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        terms = {name: form.cleaned_data[name] for name in CONSENT_TERMS}
        try:
            saved = consent_record(patient=form.cleaned_data["patient"], by=request.user, request=request, **terms)
        except ValidationError as error:  # the model's own checks, should the form not have run them
            raise self.refused(ApplicationError(" ".join(error.messages))) from error
        except ApplicationError as error:
            raise self.refused(error) from error
        # The admin's log entry and redirect name the row the service saved.
        obj.pk, obj.public_id = saved.pk, saved.public_id

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        self.message_user(
            request,
            f"Consent recorded: {obj.recipient_name}, for {_labels(DisclosurePurpose, obj.purposes).lower()}.",
            level=messages.SUCCESS,
        )
        if request.GET.get("patient"):  # opened from the patient page: back to it
            return HttpResponseRedirect(reverse("admin:patients_patient_change", args=[obj.patient_id]))
        return HttpResponseRedirect(reverse("admin:patients_consent_changelist"))

    # --- revoking -----------------------------------------------------------------------------

    @admin.action(description="Revoke the selected consents", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Consent]) -> HttpResponse | None:
        # Django's two-step action: the first post asks to confirm (a revocation is at once and
        # for good), the second revokes through the same service as POST /api/v1/consents/{id}/revoke/.
        consents = list(queryset)
        if request.POST.get("confirm") != "yes":
            audit_record_many(
                (audit_target_for(consent, patient_path="patient") for consent in consents),
                action=AuditAction.LIST,
                actor=request.user,
                request=request,
                via="admin",
            )
            return desk_page(
                self,
                request,
                None,
                title="Revoke consents",
                intro=[
                    f"Revoke these {len(consents)} consent(s)? From now on nothing may be disclosed under "
                    "them; disclosures already made stay recorded. This cannot be undone: a new consent "
                    "must be signed and recorded."
                ],
                items=[
                    f"{c.patient.mrn} ({c.patient.legal_last_name}, {c.patient.legal_first_name}): "
                    f"{c.recipient_name}, {_labels(DisclosurePurpose, c.purposes).lower()}"
                    + (" (already revoked)" if c.revoked_at else "")
                    for c in consents
                ],
                hidden=[
                    ("action", "revoke"),
                    ("confirm", "yes"),
                    *((ACTION_CHECKBOX_NAME, consent.pk) for consent in consents),
                ],
                submit_label="Revoke",
                cancel_url=reverse("admin:patients_consent_changelist"),
            )
        revoked = 0
        for consent in consents:
            try:
                consent_revoke(consent=consent, by=request.user, request=request)
            except ApplicationError as error:
                self.message_user(
                    request, f"{consent.patient.mrn}, {consent.recipient_name}: {error.message}", level=messages.WARNING
                )
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"{revoked} consent(s) revoked.", level=messages.SUCCESS)
        return None


@admin.register(Disclosure)
class DisclosureAdmin(PatientAuditAdminMixin, ReadOnlyModelAdmin):
    """Read-only: the record of what left the clinic, under which consent."""

    list_display = ["disclosed_at", "patient", patient_name("patient"), "recipient_type", "recipient_name", "purpose"]
    list_filter = ["recipient_type", "purpose"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "recipient_name"]
    date_hierarchy = "disclosed_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Disclosure]:
        return scope_to_visible_patients(
            super().get_queryset(request), request.user, patient_path="patient", clinical=False
        )
