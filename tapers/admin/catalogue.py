"""Tapers admin: the medication catalogue, prescribers and pharmacies (reference data, no
patient data: editable by whoever holds the model permissions)."""

from django.contrib import admin

from clinic.admin_audit import GuardedHistoryAdmin
from tapers.models import Medication, MedicationStrength, Pharmacy, Prescriber


class MedicationStrengthInline(admin.TabularInline):
    model = MedicationStrength
    extra = 0
    fields = ["form", "strength_mg", "scored", "is_active"]


@admin.register(Medication)
class MedicationAdmin(GuardedHistoryAdmin):
    list_display = ["generic_name", "drug_class", "half_life_group", "brands", "is_active"]
    list_filter = ["drug_class", "half_life_group", "is_active"]
    search_fields = ["generic_name", "brand_names"]
    inlines = [MedicationStrengthInline]

    @admin.display(description="Brand names")
    def brands(self, obj: Medication) -> str:
        return ", ".join(obj.brand_names)


@admin.register(Prescriber)
class PrescriberAdmin(GuardedHistoryAdmin):
    list_display = ["name", "credentials", "npi", "practice", "phone", "fax", "internal", "is_active"]
    list_filter = ["is_active", "state"]
    search_fields = ["name", "npi", "practice"]
    autocomplete_fields = ["staff"]

    @admin.display(boolean=True, description="Our staff")
    def internal(self, obj: Prescriber) -> bool:
        return obj.is_internal


@admin.register(Pharmacy)
class PharmacyAdmin(GuardedHistoryAdmin):
    list_display = ["name", "npi", "ncpdp_id", "phone", "state"]
    list_filter = ["state"]
    search_fields = ["name", "npi", "ncpdp_id"]
