from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_audit import ReadOnlyModelAdmin
from clinic.models import AuditEvent, LevelOfCare, Location, Room, StaffProfile

User = get_user_model()


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name", "capacity", "is_virtual", "is_active"]


@admin.register(Location)
class LocationAdmin(SimpleHistoryAdmin):
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
class RoomAdmin(SimpleHistoryAdmin):
    list_display = ["name", "location", "capacity", "is_virtual", "is_active"]
    list_filter = ["location", "is_virtual", "is_active"]
    search_fields = ["name", "location__name"]
    autocomplete_fields = ["location"]


@admin.register(StaffProfile)
class StaffProfileAdmin(SimpleHistoryAdmin):
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


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [StaffProfileInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]


@admin.register(LevelOfCare)
class LevelOfCareAdmin(SimpleHistoryAdmin):
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
