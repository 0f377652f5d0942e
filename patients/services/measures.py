from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_record, audit_target_for
from clinic.errors import ApplicationError
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, require_role
from patients import measures as scoring
from patients.models import MeasureResponse, Patient


@transaction.atomic
def measure_record(
    *,
    patient: Patient,
    instrument: str,
    answers: dict[str, int],
    administered_on: date,
    by: Any,
    request: HttpRequest | None = None,
) -> MeasureResponse:
    require_role(by, CLINICAL_ROLES, "record measures")
    if administered_on > timezone.localdate():
        raise ApplicationError(
            "A measure cannot be dated in the future.", extra={"fields": {"administered_on": ["In the future."]}}
        )
    definition = scoring.INSTRUMENTS.get(instrument)
    if definition is None:
        raise ApplicationError(f"Unknown measure {instrument!r}.", extra={"fields": {"instrument": ["Unknown."]}})
    try:
        result = scoring.score(definition, answers, sex_assigned_at_birth=patient.sex_assigned_at_birth or None)
    except scoring.MeasureError as error:
        raise ApplicationError(str(error), extra={"fields": {"answers": [str(error)]}}) from error
    response = MeasureResponse.objects.create(
        patient=patient,
        instrument=instrument,
        answers=answers,
        total=result.total,
        band=result.band,
        flags=list(result.flags),
        administered_on=administered_on,
        recorded_by=by,
    )
    audit_record(
        audit_target_for(response, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request
    )
    return response
