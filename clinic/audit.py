"""Writing the audit trail. Every read or write of patient data passes through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Field, Model
from django.http import HttpRequest
from django.utils import timezone

from clinic.db import execute_prepared
from clinic.middleware import client_ip, request_id_of
from clinic.models import AuditAction, AuditEvent


@dataclass(frozen=True)
class AuditTarget:
    object_type: str
    object_id: str
    patient_id: UUID | str | None  # a UUID or its text (a list's ids come from the database as text)


def audit_target_for(obj: Model, *, patient_path: str) -> AuditTarget:
    """The audit target for a record; `patient_path` is the dotted attribute path from the
    record to its patient ("" when the record is the patient)."""
    patient: Any = obj
    for part in filter(None, patient_path.split(".")):
        patient = getattr(patient, part)
    return AuditTarget(
        object_type=obj._meta.label,
        object_id=str(getattr(obj, "public_id", obj.pk)),
        patient_id=patient.public_id if patient is not None else None,
    )


def _event(
    target: AuditTarget,
    *,
    action: AuditAction,
    actor: AbstractBaseUser | AnonymousUser | None,
    request: HttpRequest | None,
    via: str,
    reason: str,
) -> AuditEvent:
    authenticated = actor is not None and actor.is_authenticated
    return AuditEvent(
        actor=actor if authenticated else None,  # type: ignore[misc]
        actor_username=actor.get_username() if authenticated else "",  # type: ignore[union-attr]
        action=action,
        object_type=target.object_type,
        object_id=target.object_id,
        patient_id=target.patient_id,
        ip_address=client_ip(request) if request else None,
        request_id=request_id_of(request) if request else "",
        # Services are called from the API and the admin with the same request argument.
        via="admin" if via == "api" and request is not None and request.path.startswith("/admin/") else via,
        reason=reason,
    )


def audit_record(
    target: AuditTarget,
    *,
    action: AuditAction,
    actor: AbstractBaseUser | AnonymousUser | None,
    request: HttpRequest | None = None,
    via: str = "api",
    reason: str = "",
) -> AuditEvent:
    event = _event(target, action=action, actor=actor, request=request, via=via, reason=reason)
    event.save()
    return event


def audit_record_many(
    targets: Iterable[AuditTarget],
    *,
    action: AuditAction,
    actor: AbstractBaseUser | AnonymousUser | None,
    request: HttpRequest | None = None,
    via: str = "api",
    reason: str = "",
) -> int:
    """One INSERT for a whole page of records, so a list costs the same at any page size.

    Every list of patient data writes it, so it is one prepared statement taking the
    targets' columns each as one string the database splits, not a model instance per row
    nor a Python list adapted element by element (either cost more than the list's own
    query). `_event` is the one place that says what an event holds; this writes its
    values for the first target and the targets' own columns for all. Returns how many
    events were written."""
    targets = list(targets)
    if not targets:
        return 0
    first = _event(targets[0], action=action, actor=actor, request=request, via=via, reason=reason)
    shared = [getattr(first, field.attname) for field in _shared_fields()]
    # Each value after a separator (PostgreSQL splits a lone empty string into no elements).
    columns = [
        "".join(_SEPARATOR + target.object_type for target in targets),
        "".join(_SEPARATOR + target.object_id for target in targets),
        "".join(_SEPARATOR + str(target.patient_id or "") for target in targets),
    ]
    if any(column.count(_SEPARATOR) != len(targets) for column in columns):
        raise ValueError("An audit target's type or id contains the unit separator.")
    execute_prepared(_insert_many_sql(), [timezone.now(), *shared, *columns])
    return len(targets)


# Between the targets' values in each column's string: the ASCII unit separator, which no
# model label, primary key or UUID contains (checked above all the same).
_SEPARATOR = "\x1f"


# Each target's own columns, and those the statement makes itself; every other column of the
# model is what all the events of one call share.
_PER_TARGET = ("object_type", "object_id", "patient_id")
_MADE_HERE = ("id", "public_id", "occurred_at")


@cache
def _shared_fields() -> list[Field[Any, Any]]:
    return [field for field in AuditEvent._meta.concrete_fields if field.attname not in (*_PER_TARGET, *_MADE_HERE)]


@cache
def _insert_many_sql() -> str:
    quote = connection.ops.quote_name
    shared = ", ".join(quote(str(field.column)) for field in _shared_fields())
    # A server-side parameter has no type of its own in a SELECT list: each takes its column's,
    # without a length, so a value too long is refused as the ORM's insert would, not cut short.
    casts = ", ".join(f"%s::{str(field.db_type(connection)).split('(')[0]}" for field in _shared_fields())
    separator = f"chr({ord(_SEPARATOR)})"
    split, split_or_null = f"(string_to_array(%s, {separator}))[2:]", f"(string_to_array(%s, {separator}, ''))[2:]"
    # gen_random_uuid() is the model's uuid4 default, made by the database; occurred_at is
    # the app's clock, as auto_now_add would have it (frozen in tests). Column names and
    # types from the model; every value is a parameter.
    return (
        f"INSERT INTO {quote(AuditEvent._meta.db_table)} "  # noqa: S608
        f"(public_id, occurred_at, {shared}, {', '.join(_PER_TARGET)}) "
        f"SELECT gen_random_uuid(), %s::timestamptz, {casts}, o.object_type, o.object_id, o.patient_id "
        f"FROM unnest({split}, {split}, {split_or_null}::uuid[]) "  # '' is a target without a patient
        "WITH ORDINALITY AS o(object_type, object_id, patient_id, n) ORDER BY o.n"
    )


def audit_objects(
    objs: Iterable[Model],
    action: AuditAction,
    *,
    by: AbstractBaseUser | AnonymousUser | None,
    request: HttpRequest | None = None,
    patient_path: str = "patient",
    reason: str = "",
) -> int:
    """Services' one-liner: audit these records, reached from their patient by `patient_path`."""
    return audit_record_many(
        (audit_target_for(obj, patient_path=patient_path) for obj in objs),
        action=action,
        actor=by,
        request=request,
        reason=reason,
    )
