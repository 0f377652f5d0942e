"""Recording, revoking and using 42 CFR Part 2 consents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict, Forbidden
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, Role, require_role
from patients import consents as rules
from patients.models import Consent, Disclosure, Patient
from patients.services import moment_in_patients_life_check

CONSENT_RECORDERS = frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN, *CLINICAL_ROLES})
DISCLOSERS = frozenset({Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN, *CLINICAL_ROLES})


def _terms(consent: Consent) -> rules.ConsentTerms:
    return rules.ConsentTerms(
        recipient_type=consent.recipient_type,
        recipient_name=consent.recipient_name,
        information=frozenset(consent.information),
        purposes=frozenset(consent.purposes),
        effective_on=consent.effective_on,
        expires_on=consent.expires_on,
        revoked_on=timezone.localdate(consent.revoked_at) if consent.revoked_at else None,
    )


@transaction.atomic
def consent_record(*, patient: Patient, by: Any, request: HttpRequest | None = None, **fields: Any) -> Consent:
    require_role(by, CONSENT_RECORDERS, "record consents")
    if isinstance(signed_at := fields.get("signed_at"), datetime):  # as text: full_clean parses and judges it
        moment_in_patients_life_check(patient, signed_at, field="signed_at", doing="A consent cannot be signed")
    fields.setdefault("right_to_revoke_statement", rules.RIGHT_TO_REVOKE)
    consent = Consent(patient=patient, recorded_by=by, **fields)
    consent.full_clean()
    consent.save()
    audit_record(
        audit_target_for(consent, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request
    )
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, by: Any, request: HttpRequest | None = None) -> Consent:
    """Revocation takes effect at once: the row lock makes a disclosure being recorded under
    this consent either finish first or see it revoked."""
    require_role(by, CONSENT_RECORDERS, "record consents")
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.revoked_at is not None:
        raise Conflict("This consent was already revoked.")
    consent.revoked_at = timezone.now()
    consent.revoked_by = by
    consent.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    audit_record(
        audit_target_for(consent, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request
    )
    return consent


def consent_check(
    *, patient: Patient, recipient_type: str, recipient_name: str, information: list[str], purpose: str, on: date
) -> Consent:
    """The consent that allows this disclosure today; Forbidden naming what is missing if none."""
    wanted = rules.Request(recipient_type, recipient_name, frozenset(information), purpose, on)
    candidates = list(Consent.objects.filter(patient=patient, revoked_at__isnull=True))
    chosen = rules.first_covering(((c.pk, _terms(c)) for c in candidates), wanted)
    if chosen is None:
        raise Forbidden(
            rules.missing_consent_message(wanted),
            extra={
                "missing_consent": {
                    "recipient_type": recipient_type,
                    "recipient_name": recipient_name,
                    "information": sorted(information),
                    "purpose": purpose,
                }
            },
        )
    return next(c for c in candidates if c.pk == chosen)


@transaction.atomic
def disclosure_record(
    *,
    patient: Patient,
    recipient_type: str,
    recipient_name: str,
    information: list[str],
    purpose: str,
    description: str,
    by: Any,
    disclosed_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Disclosure:
    """Record a disclosure under the consent that covers it, with the § 2.32 notice. Nothing
    is recorded (and nothing may be sent) when no consent covers it."""
    require_role(by, DISCLOSERS, "disclose records")
    if not information:
        raise ApplicationError("Say what information is disclosed.", extra={"fields": {"information": ["Empty."]}})
    at = disclosed_at or timezone.now()
    consent = consent_check(
        patient=patient,
        recipient_type=recipient_type,
        recipient_name=recipient_name,
        information=information,
        purpose=purpose,
        on=timezone.localdate(at),
    )
    # Hold the consent until this disclosure commits, so a racing revocation waits; if the
    # revocation won the race, the consent no longer covers anything.
    if not Consent.objects.select_for_update().filter(pk=consent.pk, revoked_at__isnull=True).exists():
        raise Forbidden(
            "The consent that covered this disclosure was revoked a moment ago; nothing was disclosed.",
            extra={"revoked_consent": str(consent.public_id)},
        )
    disclosure = Disclosure.objects.create(
        patient=patient,
        consent=consent,
        recipient_type=recipient_type,
        recipient_name=recipient_name,
        information=sorted(information),
        purpose=purpose,
        description=description,
        disclosed_at=at,
        disclosed_by=by,
        redisclosure_notice=rules.REDISCLOSURE_NOTICE,
    )
    audit_record(
        audit_target_for(disclosure, patient_path="patient"), action=AuditAction.DISCLOSE, actor=by, request=request
    )
    return disclosure
