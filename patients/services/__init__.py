from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, Role, has_any_role, require_role
from patients.models import (
    BreakGlassGrant,
    CareTeamMember,
    CareTeamRole,
    Patient,
    PatientStatus,
    Referral,
    ReferralStatus,
)

PATIENT_REGISTRARS = frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN})


def moment_in_patients_life_check(patient: Patient, moment: datetime, *, field: str, doing: str) -> None:
    """A record of something that happened to the patient (a consent signed, a PDMP lookup):
    not in the future, not before they were born; else a 400 naming `field`. `doing` opens the
    message: "A consent cannot be signed". (The schema fuzzer's year-109 signature was stored,
    then read back in New York's pre-1883 local mean time, -04:56:02, no RFC 3339 date-time.)"""
    if moment > timezone.now():
        raise ApplicationError(f"{doing} in the future.", extra={"fields": {field: ["In the future."]}})
    if moment.date() < patient.date_of_birth:
        raise ApplicationError(
            f"{doing} before the patient was born.", extra={"fields": {field: ["Before the date of birth."]}}
        )


def patient_register(*, by: Any, request: HttpRequest | None = None, **fields: Any) -> Patient:
    """patient_create for a person at the desk: checks their role and audits the creation."""
    require_role(by, PATIENT_REGISTRARS, "register patients")
    return patient_create(by=by, request=request, **fields)


# A reason a person can audit later; "x" or "need" is not one.
BREAK_GLASS_MIN_REASON = 10
LEAD_ROLES = frozenset({CareTeamRole.PRIMARY_CLINICIAN, CareTeamRole.PRESCRIBER_OF_RECORD})

MRN_SEQUENCE = "patients_mrn_seq"


def mrn_next() -> str:
    # A sequence hands out each number once even to concurrent admissions; counting rows would race.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [MRN_SEQUENCE])
        (number,) = cursor.fetchone()
    return f"MRN{number:07d}"


@transaction.atomic
def patient_create(
    *,
    legal_first_name: str,
    legal_last_name: str,
    date_of_birth: date,
    time_zone: ZoneInfo,
    status: str = PatientStatus.REFERRED,
    by: Any = None,
    request: HttpRequest | None = None,
    **details: Any,
) -> Patient:
    """Register a patient. `details` are the optional fields of the record (phone, email,
    address, pronouns, reminder channel, ...); the model validates them all."""
    if date_of_birth > timezone.localdate():
        raise ApplicationError(
            "The date of birth is in the future.", extra={"fields": {"date_of_birth": ["In the future."]}}
        )
    patient = Patient(
        mrn=mrn_next(),
        legal_first_name=legal_first_name,
        legal_last_name=legal_last_name,
        date_of_birth=date_of_birth,
        time_zone=time_zone,
        status=status,
        **details,
    )
    patient.full_clean()
    patient.save()
    if by is not None:
        audit_record(audit_target_for(patient, patient_path=""), action=AuditAction.CREATE, actor=by, request=request)
    return patient


@transaction.atomic
def break_glass_grant(
    *, patient: Patient, user: Any, reason: str, request: HttpRequest | None = None
) -> BreakGlassGrant:
    """Open one patient's clinical records to a clinical user off the care team, for a while."""
    require_role(user, CLINICAL_ROLES, "break the glass")
    reason = reason.strip()
    if len(reason) < BREAK_GLASS_MIN_REASON:
        raise ApplicationError(
            f"Say why you need this record (at least {BREAK_GLASS_MIN_REASON} characters); the reason is audited.",
            extra={"fields": {"reason": ["Too short."]}},
        )
    grant = BreakGlassGrant.objects.create(
        patient=patient,
        user=user,
        reason=reason,
        expires_at=timezone.now() + timedelta(minutes=settings.BREAK_GLASS_MINUTES),
    )
    audit_record(
        audit_target_for(grant, patient_path="patient"),
        action=AuditAction.BREAK_GLASS,
        actor=user,
        request=request,
        reason=reason,
    )
    return grant


CARE_TEAM_MANAGERS = frozenset({Role.CLINIC_ADMIN, Role.ADMISSIONS})


@transaction.atomic
def care_team_member_add(
    *, patient: Patient, member: Any, team_role: str, started_on: date, by: Any, request: HttpRequest | None = None
) -> CareTeamMember:
    require_role(by, CARE_TEAM_MANAGERS, "change a care team")
    if not has_any_role(member, CLINICAL_ROLES):
        raise ApplicationError(
            "Only staff with a clinical role (clinician, prescriber, nurse) can join a care team.",
            extra={"fields": {"member": ["Not a clinical staff member."]}},
        )
    # Lock the patient so two desks adding a prescriber of record at once are serialised;
    # the partial unique constraints are the final word either way.
    Patient.objects.select_for_update().get(pk=patient.pk)
    clash = CareTeamMember.objects.filter(patient=patient, ended_on__isnull=True)
    if clash.filter(member=member).exists():
        raise Conflict("This person is already on the patient's care team.")
    if team_role in LEAD_ROLES and clash.filter(team_role=team_role).exists():
        raise Conflict(
            f"The patient already has a {CareTeamRole(team_role).label.lower()}; end that membership first.",
            extra={"team_role": team_role},
        )
    membership = CareTeamMember(patient=patient, member=member, team_role=team_role, started_on=started_on)
    membership.full_clean()
    membership.save()
    audit_record(
        audit_target_for(membership, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request
    )
    return membership


@transaction.atomic
def care_team_member_end(
    *, membership: CareTeamMember, ended_on: date, by: Any, request: HttpRequest | None = None
) -> CareTeamMember:
    require_role(by, CARE_TEAM_MANAGERS, "change a care team")
    membership = CareTeamMember.objects.select_for_update().get(pk=membership.pk)
    if membership.ended_on is not None:
        raise Conflict("This membership has already ended.")
    if ended_on < membership.started_on:
        raise ApplicationError(
            "A membership cannot end before it starts.", extra={"fields": {"ended_on": ["Before the start date."]}}
        )
    membership.ended_on = ended_on
    membership.save(update_fields=["ended_on", "updated_at"])
    audit_record(
        audit_target_for(membership, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request
    )
    return membership


REFERRAL_HANDLERS = frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN})


@transaction.atomic
def referral_create(*, by: Any, request: HttpRequest | None = None, **fields: Any) -> Referral:
    require_role(by, REFERRAL_HANDLERS, "take referrals")
    fields.setdefault("owner", by)
    referral = Referral(**fields)
    referral.full_clean()
    referral.save()
    audit_record(
        audit_target_for(referral, patient_path="converted_patient"),
        action=AuditAction.CREATE,
        actor=by,
        request=request,
    )
    return referral


@transaction.atomic
def referral_convert(*, referral: Referral, by: Any, request: HttpRequest | None = None) -> Patient:
    """Make the patient from the referral, without retyping what it already holds."""
    require_role(by, REFERRAL_HANDLERS, "convert referrals")
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.converted_patient is not None:
        raise Conflict(
            "This referral was already converted.", extra={"patient": str(referral.converted_patient.public_id)}
        )
    if referral.status in {ReferralStatus.DECLINED, ReferralStatus.CLOSED}:
        raise Conflict(f"This referral is {referral.get_status_display().lower()}; reopen it before converting.")
    if referral.date_of_birth is None:
        raise ApplicationError(
            "Record the person's date of birth on the referral before converting it.",
            extra={"fields": {"date_of_birth": ["Required to register a patient."]}},
        )
    patient = patient_create(
        legal_first_name=referral.first_name,
        legal_last_name=referral.last_name,
        date_of_birth=referral.date_of_birth,
        time_zone=referral.time_zone,
        phone=referral.phone,
        email=referral.email,
        by=by,
        request=request,
    )
    referral.converted_patient = patient
    referral.status = ReferralStatus.CONVERTED
    referral.save(update_fields=["converted_patient", "status", "updated_at"])
    return patient
