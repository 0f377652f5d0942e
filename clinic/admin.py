from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_permission_codename, get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.admin_audit import GuardedHistoryAdmin, ReadOnlyModelAdmin
from clinic.models import AuditEvent, LevelOfCare, Location, Room, StaffProfile

User = get_user_model()


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name", "capacity", "is_virtual", "is_active"]


@admin.register(Location)
class LocationAdmin(GuardedHistoryAdmin):
    list_display = [
        "name",
        "city",
        "state",
        "time_zone",
        "state_license_expires",
        "accreditation_body",
        "accreditation_expires",
        "is_active",
    ]
    list_filter = ["state", "accreditation_body", "is_active"]
    search_fields = ["name", "city", "state_license_number"]
    inlines = [RoomInline]
    fieldsets = [
        (None, {"fields": ["name", "phone", "time_zone", "is_active"]}),
        ("Address", {"fields": ["address_line1", "address_line2", "city", "state", "postal_code"]}),
        (
            "Licence and accreditation",
            {
                "fields": [
                    "state_license_number",
                    "state_license_expires",
                    "accreditation_body",
                    "accreditation_expires",
                ]
            },
        ),
    ]


@admin.register(Room)
class RoomAdmin(GuardedHistoryAdmin):
    list_display = ["name", "location", "capacity", "is_virtual", "is_active"]
    list_filter = ["location", "is_virtual", "is_active"]
    search_fields = ["name", "location__name"]
    autocomplete_fields = ["location"]
    list_select_related = ["location"]


@admin.register(StaffProfile)
class StaffProfileAdmin(GuardedHistoryAdmin):
    list_display = ["__str__", "npi", "license_state", "license_number", "license_expires", "primary_location"]
    list_filter = ["license_state", "primary_location", "user__groups"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "npi", "license_number"]
    autocomplete_fields = ["user", "primary_location"]
    list_select_related = ["user", "primary_location"]


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    fk_name = "user"
    autocomplete_fields = ["primary_location"]


admin.site.unregister(User)


def _is_autocomplete(request: HttpRequest) -> bool:
    return request.resolver_match is not None and request.resolver_match.url_name == "autocomplete"


def _picking_staff(request: HttpRequest) -> bool:
    """An autocomplete asking for a staff member to put in a field of a record the user may add or
    change (a care team's member, a referral's owner, a staff profile's user)."""
    if not _is_autocomplete(request):
        return False
    try:
        model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        field = model._meta.get_field(request.GET["field_name"])
    except (KeyError, LookupError, FieldDoesNotExist):
        return False
    if getattr(field, "related_model", None) is not User:
        return False
    opts = model._meta
    return any(request.user.has_perm(f"{opts.app_label}.{get_permission_codename(a, opts)}") for a in ("add", "change"))


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Staff accounts (clinic administrators), and the staff picker of every form with a user
    field: search_fields (UserAdmin's: username, names, email) make those fields autocompletes."""

    inlines = [StaffProfileInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # No role holds auth.view_user (the user admin shows emails, groups, permissions), yet the
        # desk picks colleagues for a care team: the picker answers whoever may fill that field.
        return super().has_view_permission(request, obj) or (obj is None and _picking_staff(request))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        users = super().get_queryset(request)
        # Only people who can still work here are offered; the full list keeps everyone.
        return users.filter(is_active=True, is_staff=True) if _is_autocomplete(request) else users


@admin.register(LevelOfCare)
class LevelOfCareAdmin(GuardedHistoryAdmin):
    list_display = ["name", "code", "asam_code", "asam_edition", "min_weekly_hours", "max_weekly_hours", "is_active"]
    list_editable: list[str] = []
    search_fields = ["name", "code", "asam_code"]
    readonly_fields = ["code"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Read-only: the trail can be searched, never edited or pruned from the admin."""

    list_display = [
        "occurred_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "via",
        "ip_address",
    ]
    list_filter = ["action", "via", "object_type"]
    search_fields = ["actor_username", "object_id", "=patient_id", "=request_id"]
    date_hierarchy = "occurred_at"
    list_per_page = 100
    show_full_result_count = False  # counting millions of rows on every page is slow


class TOTPDeviceAdmin(otp_totp_admin.TOTPDeviceAdmin):
    """Where an administrator adds a user's authenticator (django-otp's admin: the QR code a
    phone scans is under "QR Code" once the device is saved); a device id that does not
    exist is a 404 here, not the 500 of django-otp's own views."""

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().qrcode_view(request, pk)


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
