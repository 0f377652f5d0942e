"""Factories and helpers for the prescription ledger's tests."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tapers.models import Medication, Prescription, PrescriptionSource
from tapers.services.ledger import prescription_create
from tests.tapers.factories import PharmacyFactory, PrescriberFactory

TODAY = date(2026, 11, 23)


def medication(generic: str) -> Medication:
    """A catalogue row seeded by migration 0002."""
    return Medication.objects.get(generic_name=generic)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def record(
    patient: Any,
    by: Any,
    *,
    drug: str = "alprazolam",
    daily: str | None = "1",
    days: int = 30,
    written: date | None = None,
    filled: date | None = None,
    prescriber: Any = None,
    pharmacy: Any = None,
    quantity: str = "30",
    source: str = PrescriptionSource.OUTSIDE_RECORDS,
) -> Prescription:
    """A prescription through the service (so the risk flags are re-evaluated)."""
    written = written or days_ago(10)
    return prescription_create(
        patient=patient,
        by=by,
        source=source,
        medication=medication(drug),
        drug_name=drug,
        daily_dose_mg=Decimal(daily) if daily is not None else None,
        quantity=Decimal(quantity),
        days_supply=days,
        written_on=written,
        filled_on=filled if filled is not None else written,
        prescriber=prescriber or PrescriberFactory.create(),
        pharmacy=pharmacy if pharmacy is not None else PharmacyFactory.create(),
    )
