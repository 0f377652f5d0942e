"""Writing the audit trail. Every read or write of patient data passes through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model
from django.http import HttpRequest

from clinic.middleware import client_ip_of, request_id_of
from clinic.models import AuditAction, AuditEvent


@dataclass(frozen=True)
class AuditTarget:
    object_type: str
    object_id: str
    patient_id: UUID | None


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
        ip_address=client_ip_of(request, num_proxies=settings.REST_FRAMEWORK["NUM_PROXIES"]) if request else None,
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
) -> list[AuditEvent]:
    """One INSERT for a whole page of records, so a list costs the same at any page size."""
    events = [_event(t, action=action, actor=actor, request=request, via=via, reason=reason) for t in targets]
    return AuditEvent.objects.bulk_create(events)


def audit_objects(
    objs: Iterable[Model],
    action: AuditAction,
    *,
    by: AbstractBaseUser | AnonymousUser | None,
    request: HttpRequest | None = None,
    patient_path: str = "patient",
    reason: str = "",
) -> list[AuditEvent]:
    """Services' one-liner: audit these records, reached from their patient by `patient_path`."""
    return audit_record_many(
        (audit_target_for(obj, patient_path=patient_path) for obj in objs),
        action=action,
        actor=by,
        request=request,
        reason=reason,
    )
