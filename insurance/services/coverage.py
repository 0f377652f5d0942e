"""Payers, coverages and self-pay payment plans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from clinic.audit import audit_objects
from clinic.errors import ApplicationError
from clinic.models import AuditAction
from clinic.roles import require_role
from insurance.models import Coverage, Instalment, Payer, PaymentPlan, SubscriberRelationship
from insurance.services import INSURANCE_WRITERS, constraint_messages, refusing_conflicts, validated
from patients.models import Patient

PAYER_FIELDS = ("name", "payer_id", "phone", "portal_url", "is_active")
COVERAGE_FIELDS = (
    "payer",
    "member_id",
    "group_number",
    "plan_name",
    "priority",
    "subscriber_relationship",
    "subscriber_first_name",
    "subscriber_last_name",
    "subscriber_date_of_birth",
    "subscriber_sex",
    "effective_on",
    "terminates_on",
)
# Who the subscriber is never changes on a coverage; a new card is a new coverage.
COVERAGE_FIXED_FIELDS = ("payer",)


def _payer_save(payer: Payer) -> Payer:
    validated(payer, exclude=["name"])
    with refusing_conflicts({"insurance_payer_name_key": f"A payer named {payer.name!r} already exists."}):
        payer.save()
    return payer


def payer_create(*, by: Any, **fields: Any) -> Payer:
    require_role(by, INSURANCE_WRITERS, "add payers")
    return _payer_save(Payer(**{k: v for k, v in fields.items() if k in PAYER_FIELDS}))


def payer_update(*, payer: Payer, by: Any, **fields: Any) -> Payer:
    require_role(by, INSURANCE_WRITERS, "change payers")
    for name in PAYER_FIELDS:
        if name in fields:
            setattr(payer, name, fields[name])
    return _payer_save(payer)


def _coverage_save(coverage: Coverage) -> Coverage:
    if coverage.subscriber_relationship == SubscriberRelationship.SELF:
        # The patient is the subscriber: their own demographics go in the 270.
        coverage.subscriber_first_name = coverage.subscriber_last_name = coverage.subscriber_sex = ""
        coverage.subscriber_date_of_birth = None
    if not coverage.payer.is_active:
        raise ApplicationError(
            f"{coverage.payer} is marked inactive; reactivate it or choose another payer.",
            extra={"fields": {"payer": ["Inactive."]}},
        )
    validated(coverage, exclude=["patient", "payer", "created_by"])
    # One coverage per patient and priority on any day (an exclusion constraint).
    with refusing_conflicts(constraint_messages(Coverage), serialized_on=(Patient, coverage.patient_id)):
        coverage.save()
    return coverage


@transaction.atomic
def coverage_create(*, patient: Patient, by: Any, request: HttpRequest | None = None, **fields: Any) -> Coverage:
    require_role(by, INSURANCE_WRITERS, "record coverage")
    coverage = _coverage_save(
        Coverage(patient=patient, created_by=by, **{k: v for k, v in fields.items() if k in COVERAGE_FIELDS})
    )
    audit_objects([coverage], AuditAction.CREATE, by=by, request=request)
    return coverage


@transaction.atomic
def coverage_update(*, coverage: Coverage, by: Any, request: HttpRequest | None = None, **fields: Any) -> Coverage:
    require_role(by, INSURANCE_WRITERS, "change coverage")
    fixed = [name for name in COVERAGE_FIXED_FIELDS if name in fields and fields[name] != getattr(coverage, name)]
    if fixed:
        raise ApplicationError(
            "A coverage keeps its payer; terminate it and add the new one.",
            extra={"fields": {name: ["Cannot change."] for name in fixed}},
        )
    coverage = Coverage.objects.select_for_update().select_related("payer").get(pk=coverage.pk)
    for name in COVERAGE_FIELDS:
        if name in fields and name not in COVERAGE_FIXED_FIELDS:
            setattr(coverage, name, fields[name])
    _coverage_save(coverage)
    audit_objects([coverage], AuditAction.UPDATE, by=by, request=request)
    return coverage


def coverages_in_force(patient: Patient, on: date) -> list[Coverage]:
    """The patient's coverages on a day, primary first."""
    return list(
        Coverage.objects.filter(patient=patient, effective_on__lte=on)
        .exclude(terminates_on__lt=on)
        .select_related("payer")
        .order_by("priority")
    )


# --- self-pay ---------------------------------------------------------------------------------


@transaction.atomic
def payment_plan_create(
    *,
    patient: Patient,
    by: Any,
    total: Decimal,
    agreed_on: date,
    instalments: Sequence[tuple[date, Decimal]],
    notes: str = "",
    request: HttpRequest | None = None,
) -> PaymentPlan:
    """A self-pay agreement. The instalments must add up to the total, each on its own date."""
    require_role(by, INSURANCE_WRITERS, "set up payment plans")
    if not instalments:
        raise ApplicationError(
            "A payment plan needs at least one instalment.", extra={"fields": {"instalments": ["Empty."]}}
        )
    dates = [due for due, _ in instalments]
    if len(set(dates)) != len(dates):
        raise ApplicationError(
            "Two instalments fall on the same date.", extra={"fields": {"instalments": ["Same date twice."]}}
        )
    if any(amount <= 0 for _, amount in instalments):
        raise ApplicationError(
            "Each instalment is a positive amount.", extra={"fields": {"instalments": ["Not positive."]}}
        )
    added = sum((amount for _, amount in instalments), Decimal("0"))
    if added != total:
        raise ApplicationError(
            f"The instalments add up to {added}, not the plan's total of {total}.",
            extra={"fields": {"instalments": [f"Sum {added} != total {total}."]}},
        )
    if min(dates) < agreed_on:
        raise ApplicationError(
            "An instalment falls due before the plan was agreed.", extra={"fields": {"instalments": ["Too early."]}}
        )
    plan = PaymentPlan(patient=patient, total=total, agreed_on=agreed_on, notes=notes, created_by=by)
    validated(plan, exclude=["patient", "created_by"])
    plan.save()
    Instalment.objects.bulk_create(
        Instalment(plan=plan, due_on=due, amount=amount) for due, amount in sorted(instalments)
    )
    audit_objects([plan], AuditAction.CREATE, by=by, request=request)
    return plan


@transaction.atomic
def instalment_pay(
    *, instalment: Instalment, amount: Decimal, paid_on: date, by: Any, request: HttpRequest | None = None
) -> Instalment:
    """Record a payment against an instalment; it is paid once the amounts reach what was due."""
    require_role(by, INSURANCE_WRITERS, "record payments")
    instalment = Instalment.objects.select_for_update().select_related("plan__patient").get(pk=instalment.pk)
    if amount <= 0:
        raise ApplicationError("A payment is a positive amount.", extra={"fields": {"amount": ["Not positive."]}})
    if instalment.paid_amount + amount > instalment.amount:
        raise ApplicationError(
            f"That pays {instalment.paid_amount + amount} against {instalment.amount} due; "
            "record the rest on the next instalment.",
            extra={"fields": {"amount": ["More than is due."]}},
        )
    instalment.paid_amount += amount
    if instalment.paid_amount == instalment.amount:
        instalment.paid_on = paid_on
    instalment.save(update_fields=["paid_amount", "paid_on"])
    audit_objects([instalment.plan], AuditAction.UPDATE, by=by, request=request)
    return instalment
