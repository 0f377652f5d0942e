"""Admission, step-down / step-up / transfer out, and discharge (DESIGN.md flows 1 and 2).

Every change of level closes the current stay and opens the next in one transaction, under
a lock on the episode; the exclusion constraint on stays is the last word if two changes
still race.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction, LevelOfCare
from clinic.roles import CLINICAL_ROLES, Role, require_role
from patients.models import (
    DischargeReason,
    EpisodeOfCare,
    IntakeAssessment,
    LevelOfCareStay,
    Patient,
    PatientStatus,
    TransitionKind,
)
from patients.signals import level_of_care_changed

ADMITTING_ROLES = frozenset({Role.ADMISSIONS, Role.CLINIC_ADMIN, *CLINICAL_ROLES})


def _check_effective_date(effective_on: date, *, field: str, reason: str) -> None:
    today = timezone.localdate()
    if effective_on > today:
        raise ApplicationError(
            "That date is in the future; record the change on the day it happens.",
            extra={"fields": {field: ["In the future."]}},
        )
    window = settings.BACKDATE_WINDOW_DAYS
    if effective_on < today - timedelta(days=window):
        raise ApplicationError(
            f"That date is more than {window} days ago; a change that old needs a clinic administrator.",
            extra={"fields": {field: [f"Earlier than {window} days ago."]}},
        )
    if effective_on < today and not reason.strip():
        raise ApplicationError(
            "A backdated change needs a reason.", extra={"fields": {"reason": ["Required when backdating."]}}
        )


def _send_changed(
    episode: EpisodeOfCare, from_level: LevelOfCare | None, to_level: LevelOfCare | None, kind: str, on: date
) -> None:
    transaction.on_commit(
        lambda: level_of_care_changed.send(
            sender=EpisodeOfCare,
            episode_id=episode.pk,
            from_level_id=from_level.pk if from_level else None,
            to_level_id=to_level.pk if to_level else None,
            kind=kind,
            effective_on=on,
        )
    )


@transaction.atomic
def episode_admit(
    *,
    patient: Patient,
    level: LevelOfCare | None,
    admitted_on: date,
    reason: str,
    by: Any,
    intake: IntakeAssessment | None = None,
    request: HttpRequest | None = None,
) -> EpisodeOfCare:
    """Open an episode at `level`. With `intake`, the admission follows that assessment's
    decision: to the level the clinician decided (the default), and no other."""
    require_role(by, ADMITTING_ROLES, "admit patients")
    _check_effective_date(admitted_on, field="admitted_on", reason=reason or "admission")
    if intake is not None:
        level = _level_decided_at(intake, patient, level, admitted_on)
    if level is None:
        raise ApplicationError(
            "Say which level of care to admit to, or give the intake assessment whose decision to follow.",
            extra={"fields": {"level": ["Required without an intake assessment."]}},
        )
    if level.is_residential or not level.is_active:
        raise ApplicationError(
            f"{level.name} is not a level this program admits to; refer the patient out instead.",
            extra={"fields": {"level": ["Not offered here."]}},
        )
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if EpisodeOfCare.objects.filter(patient=patient, discharged_on__isnull=True).exists():
        raise Conflict("The patient is already admitted; step them up or down instead.")
    episode = EpisodeOfCare.objects.create(patient=patient, admitted_on=admitted_on, intake_assessment=intake)
    stay = LevelOfCareStay.objects.create(
        episode=episode,
        level=level,
        started_on=admitted_on,
        kind=TransitionKind.ADMISSION,
        reason=reason or "Admission",
        decided_by=by,
    )
    patient.status = PatientStatus.ADMITTED
    patient.save(update_fields=["status", "updated_at"])
    audit_objects([episode], AuditAction.CREATE, by=by, request=request)
    audit_objects([stay], AuditAction.CREATE, by=by, request=request, patient_path="episode.patient", reason=reason)
    _send_changed(episode, None, level, TransitionKind.ADMISSION, admitted_on)
    return episode


def _level_decided_at(
    intake: IntakeAssessment, patient: Patient, level: LevelOfCare | None, admitted_on: date
) -> LevelOfCare:
    """The level an admission following `intake` goes to, after checking the intake still
    stands: the patient's latest assessment, recent, and not used by another admission."""
    if intake.patient_id != patient.pk:
        raise ApplicationError(
            "That intake assessment is another patient's.",
            extra={"fields": {"intake_assessment": ["Not this patient's."]}},
        )
    latest = IntakeAssessment.objects.filter(patient=patient).order_by("-assessed_on", "-created_at").first()
    if latest is not None and latest.pk != intake.pk:
        raise ApplicationError(
            f"A newer intake assessment ({latest.assessed_on:%Y-%m-%d}) supersedes that one; admit following it.",
            extra={"fields": {"intake_assessment": ["Not the latest assessment."]}},
        )
    if EpisodeOfCare.objects.filter(intake_assessment=intake).exists():
        raise Conflict("That intake assessment was already followed by an admission; assess the patient again.")
    if admitted_on < intake.assessed_on:
        raise ApplicationError(
            "The admission cannot come before the intake assessment it follows.",
            extra={"fields": {"admitted_on": ["Before the assessment."]}},
        )
    if (admitted_on - intake.assessed_on).days > settings.INTAKE_VALID_DAYS:
        raise ApplicationError(
            f"That intake assessment is more than {settings.INTAKE_VALID_DAYS} days old; assess the patient again.",
            extra={"fields": {"intake_assessment": ["Too old."]}},
        )
    if not intake.decision or intake.decided_level is None:
        raise ApplicationError(
            "A clinician has not decided the level of care for that intake assessment yet.",
            extra={"fields": {"intake_assessment": ["Not decided."]}},
        )
    if level is not None and intake.decided_level_id != level.pk:
        raise ApplicationError(
            f"The intake decided {intake.decided_level.name}; admit to that level, or record a new decision.",
            extra={"fields": {"level": [f"The decided level is {intake.decided_level.code}."]}},
        )
    return intake.decided_level


def _lock_open_episode(episode: EpisodeOfCare) -> tuple[EpisodeOfCare, LevelOfCareStay]:
    # Two clinicians stepping the same patient down at once: the second waits here, then
    # sees the first one's stay as current.
    episode = EpisodeOfCare.objects.select_for_update().get(pk=episode.pk)
    if episode.discharged_on is not None:
        raise Conflict("This episode of care has ended.")
    current = LevelOfCareStay.objects.select_related("level").get(episode=episode, ended_on__isnull=True)
    return episode, current


@transaction.atomic
def episode_transition(
    *,
    episode: EpisodeOfCare,
    to_level: LevelOfCare,
    effective_on: date,
    reason: str,
    by: Any,
    request: HttpRequest | None = None,
) -> LevelOfCareStay | None:
    """Move to another level: step down or up here, or transfer out to a residential or
    withdrawal-management level elsewhere (which ends the episode). Returns the new stay,
    or None on transfer out."""
    require_role(by, CLINICAL_ROLES, "change a patient's level of care")
    if not reason.strip():
        raise ApplicationError("Say why the level changes.", extra={"fields": {"reason": ["Required."]}})
    _check_effective_date(effective_on, field="effective_on", reason=reason)
    episode, current = _lock_open_episode(episode)
    if to_level.pk == current.level_id:
        raise ApplicationError(
            f"The patient is already in {current.level.name}.", extra={"fields": {"to_level": ["The current level."]}}
        )
    if effective_on <= current.started_on:
        raise Conflict(
            f"The current stay began on {current.started_on:%Y-%m-%d}; a change must take effect after that.",
            extra={"current_stay_started_on": current.started_on.isoformat()},
        )
    current.ended_on = effective_on
    current.save(update_fields=["ended_on", "updated_at"])
    if to_level.is_residential:
        episode.discharged_on = effective_on
        episode.discharge_reason = DischargeReason.STEPPED_UP_ELSEWHERE
        episode.save(update_fields=["discharged_on", "discharge_reason", "updated_at"])
        Patient.objects.filter(pk=episode.patient_id).update(status=PatientStatus.DISCHARGED)
        audit_objects([episode], AuditAction.UPDATE, by=by, request=request, reason=reason)
        _send_changed(episode, current.level, None, TransitionKind.TRANSFER_OUT, effective_on)
        return None
    kind = TransitionKind.STEP_UP if to_level.sort_order < current.level.sort_order else TransitionKind.STEP_DOWN
    try:
        with transaction.atomic():
            stay = LevelOfCareStay.objects.create(
                episode=episode, level=to_level, started_on=effective_on, kind=kind, reason=reason, decided_by=by
            )
    except IntegrityError as exc:
        raise Conflict("Another change to this episode was saved at the same moment; reload and try again.") from exc
    audit_objects([stay], AuditAction.CREATE, by=by, request=request, patient_path="episode.patient", reason=reason)
    _send_changed(episode, current.level, to_level, kind, effective_on)
    return stay


@transaction.atomic
def episode_discharge(
    *,
    episode: EpisodeOfCare,
    discharged_on: date,
    reason: str,
    aftercare: dict[str, str],
    by: Any,
    request: HttpRequest | None = None,
) -> EpisodeOfCare:
    require_role(by, CLINICAL_ROLES, "discharge patients")
    _check_effective_date(discharged_on, field="discharged_on", reason="discharge")
    episode, current = _lock_open_episode(episode)
    if discharged_on < episode.admitted_on or discharged_on <= current.started_on:
        raise ApplicationError(
            f"The discharge date must come after the current stay began ({current.started_on:%Y-%m-%d}).",
            extra={"fields": {"discharged_on": ["Before the admission or the current stay."]}},
        )
    if "988" not in aftercare.get("safety_plan", ""):
        raise ApplicationError(
            "The safety plan must give the 988 Suicide & Crisis Lifeline.",
            extra={"fields": {"safety_plan": ["Missing 988."]}},
        )
    current.ended_on = discharged_on
    current.save(update_fields=["ended_on", "updated_at"])
    episode.discharged_on = discharged_on
    episode.discharge_reason = reason
    for field, text in aftercare.items():
        setattr(episode, field, text)
    episode.full_clean()
    episode.save()
    Patient.objects.filter(pk=episode.patient_id).update(status=PatientStatus.DISCHARGED)
    audit_objects([episode], AuditAction.UPDATE, by=by, request=request)
    _send_changed(episode, current.level, None, "discharge", discharged_on)
    return episode
