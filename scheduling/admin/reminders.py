"""Scheduling admin: reminders (the policy, the outbox), the desk's staff tasks and opt-outs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from clinic.admin_audit import ServiceSavedAdminMixin
from clinic.errors import ApplicationError
from patients.access import scope_to_visible_patients
from patients.models import Patient
from scheduling.admin.base import FrontOfficeRowsAdmin
from scheduling.models import OptOut, OptOutVia, Reminder, ReminderPolicy, StaffTask
from scheduling.services.reminders import opt_out_set, staff_tasks_done


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(admin.ModelAdmin):
    """The one policy: offsets, sending hours, daily cap, neutral sender and wording. Saving
    refuses wording that would reveal the kind of care or show patient data."""

    fieldsets = [
        ("When", {"fields": ["offsets_minutes", "window_start", "window_end", "max_per_day"]}),
        ("Who it is from", {"fields": ["sender_name", "help_phone"]}),
        ("Wording", {"fields": ["sms_template", "email_subject", "email_template"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # there is one, made on first use

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        policy = ReminderPolicy.current()
        return HttpResponseRedirect(reverse("admin:scheduling_reminderpolicy_change", args=[policy.pk]))


@admin.register(Reminder)
class ReminderAdmin(FrontOfficeRowsAdmin):
    """The outbox, for looking into what went out, what did not, and why (never the text)."""

    list_display = ["due_at", "patient", "channel", "offset_minutes", "status", "attempts", "sent_at", "reason"]
    list_filter = ["status", "channel"]
    list_select_related = ["patient"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    date_hierarchy = "due_at"
    raw_id_fields = ["booking", "patient"]


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "To do"), ("done", "Done")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(StaffTask)
class StaffTaskAdmin(FrontOfficeRowsAdmin):
    """The desk's queue: reminders that could not go, patients who asked for a call, replies
    to read. "Mark done" records who dealt with each."""

    list_display = ["created_at", "kind", "patient", "booking", "detail", "done_at", "done_by"]
    list_filter = [OpenFilter, "kind"]
    list_select_related = ["patient", "booking__session__session_type", "done_by", "inbound"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    readonly_fields = ["inbound_text"]
    actions = ["mark_done"]

    @admin.display(description="what the patient wrote")
    def inbound_text(self, task: StaffTask) -> str:
        return task.inbound.body if task.inbound else ""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # For the action only; the task itself is not edited.
        return obj is None and request.user.has_perm("scheduling.change_stafftask")

    @admin.action(description="Mark done", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet[StaffTask]) -> None:
        done = staff_tasks_done(queryset.filter(done_at__isnull=True), by=request.user, request=request)
        self.message_user(request, f"{done} task(s) marked done.", messages.SUCCESS)


@admin.register(OptOut)
class OptOutAdmin(ServiceSavedAdminMixin, FrontOfficeRowsAdmin):
    """Who has stopped which channel, when and how (a STOP text, staff, or the SMS provider).
    Staff record a patient's spoken request here; saving goes through the same service as a
    STOP text, which cancels or re-plans the patient's reminders. History keeps every change."""

    list_display = ["patient", "channel", "opted_out", "changed_at", "changed_via", "changed_by"]
    list_filter = ["channel", "opted_out", "changed_via"]
    list_select_related = ["patient", "changed_by"]
    search_fields = ["=patient__mrn", "patient__legal_last_name"]
    autocomplete_fields = ["patient"]
    fields = ["patient", "channel", "opted_out", "changed_at", "changed_via", "changed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scheduling.add_optout")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("scheduling.change_optout")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        made = ["changed_at", "changed_via", "changed_by"]
        return made if obj is None else ["patient", "channel", *made]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "patient":  # only patients this user may see, whatever the form posts
            kwargs["queryset"] = scope_to_visible_patients(
                Patient.objects.all(), request.user, patient_path="", clinical=False
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            row = opt_out_set(
                patient=obj.patient,
                channel=obj.channel,
                opted_out=obj.opted_out,
                via=OptOutVia.STAFF,
                by=request.user,
                request=request,
            )
        except ApplicationError as error:
            raise self.service_refused(request, error.message) from error
        form.instance = row  # the admin's log entry and redirect name the saved row
        obj.pk = row.pk
