"""Referrals in the admin: the desk's queue by status and source, and "Convert to a patient"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.admin_audit import GuardedHistoryAdmin
from clinic.errors import ApplicationError
from patients.models import Referral
from patients.services import referral_convert


@admin.register(Referral)
class ReferralAdmin(GuardedHistoryAdmin):
    list_display = ["received_at", "last_name", "first_name", "source", "status", "owner"]
    list_filter = ["status", "source"]
    list_select_related = ["owner"]
    search_fields = ["last_name", "first_name", "=phone", "referrer_name"]
    date_hierarchy = "received_at"
    autocomplete_fields = ["owner"]
    readonly_fields = ["converted_patient"]
    actions = ["convert_to_patient"]

    @admin.action(description="Convert to a patient (issues the MRN)")
    def convert_to_patient(self, request: HttpRequest, queryset: QuerySet[Referral]) -> None:
        # The same service as POST /api/v1/referrals/{id}/convert/.
        for referral in queryset:
            try:
                patient = referral_convert(referral=referral, by=request.user, request=request)
            except ApplicationError as error:
                self.message_user(request, f"{referral.last_name}: {error.message}", level=messages.ERROR)
            else:
                self.message_user(
                    request, f"{referral.last_name}: registered as {patient.mrn}.", level=messages.SUCCESS
                )
