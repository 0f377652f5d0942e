"""Factories for taper plans and withdrawal checks; their fixtures are in conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from clinic.roles import Role
from tapers.models import Medication, MedicationStrength, Prescriber, TaperPlan, TaperPlanVersion
from tapers.services import plans as plan_services
from tests.clinic.factories import UserFactory

# Monday 23 November 2026, 10:00 in New York: every test of plans runs at this moment.
NOW = "2026-11-23 15:00:00+00:00"
TODAY = date(2026, 11, 23)

# Test data, not a formulary: what a pharmacy commonly dispenses.
CATALOGUE: dict[str, list[tuple[str, str, bool]]] = {
    "diazepam": [("tablet", "2", True), ("tablet", "5", True), ("tablet", "10", True), ("oral_liquid", "1", False)],
    "alprazolam": [("tablet", "0.25", True), ("tablet", "0.5", True), ("tablet", "1", True), ("tablet", "2", True)],
    "lorazepam": [("tablet", "0.5", True), ("tablet", "1", True), ("tablet", "2", True)],
}

ALPRAZOLAM_6_MG = [{"drug": "alprazolam", "mg": "2", "time_of_day": t} for t in ("morning", "midday", "bedtime")]
DIAZEPAM_20_MG = [
    {"drug": "diazepam", "mg": "10", "time_of_day": "morning"},
    {"drug": "diazepam", "mg": "10", "time_of_day": "bedtime"},
]


def stock(drug: str, strengths: list[tuple[str, str, bool]] | None = None) -> Medication:
    medication, _ = Medication.objects.get_or_create(generic_name=drug, defaults={"drug_class": "benzodiazepine"})
    for form, mg, scored in strengths if strengths is not None else CATALOGUE[drug]:
        MedicationStrength.objects.get_or_create(
            medication=medication, form=form, strength_mg=Decimal(mg), defaults={"scored": scored}
        )
    return medication


def stock_all() -> None:
    for drug in CATALOGUE:
        stock(drug)


def make_prescriber(*, linked: bool = True, **kwargs: Any) -> Any:
    user: Any = UserFactory.create(roles=[Role.PRESCRIBER], **kwargs)
    if linked:
        Prescriber.objects.create(staff=user, name=f"Dr {user.last_name}", credentials="MD", npi="")
    return user


def draft(patient: Any, by: Any, **kwargs: Any) -> TaperPlan:
    fields: dict[str, Any] = {
        "regimen": DIAZEPAM_20_MG,
        "policy": {},
        "start_date": TODAY,
        **kwargs,
    }
    return plan_services.taper_plan_draft(patient=patient, by=by, **fields)


def approved(patient: Any, by: Any, **kwargs: Any) -> TaperPlan:
    plan = draft(patient, by, **kwargs)
    version = plan.versions.get()
    return plan_services.taper_plan_approve(plan=plan, digest=version.digest, by=by)


def active(patient: Any, by: Any, **kwargs: Any) -> TaperPlan:
    return plan_services.taper_plan_activate(plan=approved(patient, by, **kwargs), by=by)


def in_force(plan: TaperPlan) -> TaperPlanVersion:
    """The plan's approved version in force (fresh from the database)."""
    plan.refresh_from_db()
    assert plan.current_version is not None
    return plan.current_version
