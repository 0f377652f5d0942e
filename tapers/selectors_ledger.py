"""Reads of the prescription ledger, N+1-safe (a list's query count does not grow with its rows)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from tapers.models import (
    Medication,
    MedicationStrength,
    PdmpCheck,
    PdmpImport,
    Prescriber,
    Prescription,
    RiskFlag,
)


def medication_list() -> QuerySet[Medication]:
    return Medication.objects.filter(is_active=True).prefetch_related(
        Prefetch(
            "strengths", queryset=MedicationStrength.objects.filter(is_active=True).order_by("form", "strength_mg")
        )
    )


def prescriber_list() -> QuerySet[Prescriber]:
    return Prescriber.objects.all()


def prescription_list() -> QuerySet[Prescription]:
    return Prescription.objects.select_related(
        "patient", "medication", "prescriber", "pharmacy", "pdmp_import", "recorded_by", "entered_in_error_by"
    )


def pdmp_import_list() -> QuerySet[PdmpImport]:
    return PdmpImport.objects.select_related("patient", "imported_by")


def pdmp_check_list() -> QuerySet[PdmpCheck]:
    return PdmpCheck.objects.select_related("patient", "checked_by")


def risk_flag_list() -> QuerySet[RiskFlag]:
    return RiskFlag.objects.select_related("patient", "acknowledged_by").prefetch_related(
        Prefetch("prescriptions", queryset=Prescription.objects.only("id", "public_id"))
    )
