"""Insurance writes. Each concern has its module: coverage (payers, coverages, self-pay plans),
eligibility (270/271 checks), authorizations (authorizations, reviews, usage and the billing
work queue). Shared checks live here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction

from clinic.errors import ApplicationError, Conflict
from clinic.roles import CLINICAL_ROLES, FRONT_OFFICE_ROLES, Role

# DESIGN.md roles: admissions verify insurance at intake; billing / utilization review keep
# coverage, eligibility and authorizations. Clinical staff read them for their care teams.
INSURANCE_WRITERS = frozenset({*FRONT_OFFICE_ROLES, Role.CLINIC_ADMIN})
INSURANCE_READERS = frozenset({*INSURANCE_WRITERS, *CLINICAL_ROLES})


def validated(obj: models.Model, *, exclude: list[str] | None = None) -> None:
    """Field validation and check constraints as a 400 a person can act on. Exclusion and
    unique constraints are left to the database (a 409 from `refusing_conflicts`), which is
    the last word also when two requests race."""
    try:
        obj.full_clean(exclude=exclude, validate_constraints=False)
    except DjangoValidationError as error:
        raise ApplicationError(
            "Some fields are invalid; see extra.fields.", extra={"fields": error.message_dict}
        ) from None
    for constraint in obj._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            try:
                constraint.validate(type(obj), obj, exclude=set(exclude or ()))
            except DjangoValidationError as error:
                raise ApplicationError(error.messages[0], extra={"constraint": constraint.name}) from None


@contextmanager
def refusing_conflicts(
    messages: dict[str, str], *, serialized_on: tuple[type[models.Model], Any] | None = None
) -> Iterator[None]:
    """Run the writes in a savepoint; a named constraint that refuses them is a 409 (or a 400 for
    a check constraint) with its message, also when two requests race.

    `serialized_on` (a model and a primary key) is row-locked first, inside the caller's
    transaction. Two inserts that break an exclusion constraint at the same moment can deadlock
    in PostgreSQL, each waiting for the other's new row while checking it, and the loser gets
    "deadlock detected" (a 500) instead of the constraint (a 409). With the row that scopes the
    constraint locked, the second write waits, then meets the first's committed row."""
    if serialized_on is not None:
        model, pk = serialized_on
        # NO KEY, as opt_out_set locks the patient: serializes these writers without holding off
        # inserts that only reference the row (a booking's foreign-key check). A reminder send
        # locking the same patient meanwhile finds it busy and is retried, as during an opt-out.
        model._default_manager.select_for_update(no_key=True).filter(pk=pk).values_list("pk").get()
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if name not in messages:
            raise
        raise Conflict(messages[name], extra={"constraint": name}) from error


def constraint_messages(model: type[models.Model]) -> dict[str, str]:
    """Each of the model's constraints by name, with the message it was declared with."""
    found: dict[str, str] = {}
    for constraint in model._meta.constraints:
        message: Any = getattr(constraint, "violation_error_message", None) or "That conflicts with another record."
        found[constraint.name] = str(message)
    return found
