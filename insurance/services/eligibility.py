"""Eligibility checks (verification of benefits): a 270 out, a 271 in, benefits per level.

A check asks the payer about a patient's substance-use and mental-health benefits. Asking is
itself a disclosure of Part 2 information (the service types say what kind of care this is),
so it needs a consent that covers the payer for payment (42 CFR 2.31; a TPO consent does) and
is recorded in the accounting of disclosures, whatever the channel: the clearinghouse, a
payer portal whose 271 staff upload, or a phone call.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import audit_objects
from clinic.errors import ApplicationError, Conflict
from clinic.models import AuditAction
from clinic.queueing import enqueue_on_commit, retry_schedule
from clinic.roles import require_role
from insurance import benefits as rules
from insurance.clearinghouse import ClearinghouseError, get_backend, new_payload_id
from insurance.models import CheckMode, CheckStatus, Coverage, EligibilityCheck, SubscriberRelationship
from insurance.services import INSURANCE_WRITERS
from insurance.x12 import build_270, parse_271
from insurance.x12.model import (
    EligibilityInquiry,
    EligibilityResponse,
    InquiryEnvelope,
    InquiryPerson,
)
from patients.models import DisclosureInformation, DisclosurePurpose
from patients.services.consents import consent_check, disclosure_record

logger = logging.getLogger(__name__)

INTERCHANGE_SEQUENCE = "insurance_interchange_control_seq"
LEVELS = ("php", "iop", "outpatient")
# AAA at these loops means the payer did not answer for the member at all; an AAA inside a
# benefit (2110) only rejects that benefit.
_WHOLE_ANSWER_LOOPS = frozenset({"2000A", "2100A", "2100B", "2000C", "2100C", "2000D", "2100D"})
MAX_271_BYTES = 2 * 1024 * 1024


def http_mode_available() -> bool:
    return bool(settings.CLEARINGHOUSE_URL)


def _interchange_control_number() -> int:
    # ISA13 must not repeat for a sender; a sequence (cycling at 9 digits) never hands one out twice.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [INTERCHANGE_SEQUENCE])
        (number,) = cursor.fetchone()
    return int(number)


def _x12_text(value: str) -> str:
    # Names with an apostrophe or accent are common; X12's basic character set is not.
    return re.sub(r"[^A-Za-z0-9 .,'&()/-]", "", value).strip()


def _inquiry(check: EligibilityCheck) -> EligibilityInquiry:
    coverage, patient = check.coverage, check.coverage.patient
    patient_person = InquiryPerson(
        last_name=_x12_text(patient.legal_last_name),
        first_name=_x12_text(patient.legal_first_name),
        birth_date=patient.date_of_birth,
        gender={"male": "M", "female": "F"}.get(patient.sex_assigned_at_birth, "U"),
    )
    if coverage.subscriber_relationship == SubscriberRelationship.SELF:
        subscriber = dataclasses.replace(
            patient_person, member_id=coverage.member_id, group_number=coverage.group_number
        )
        dependent = None
    else:
        subscriber = InquiryPerson(
            last_name=_x12_text(coverage.subscriber_last_name),
            first_name=_x12_text(coverage.subscriber_first_name),
            birth_date=coverage.subscriber_date_of_birth,
            gender=coverage.subscriber_sex or "U",
            member_id=coverage.member_id,
            group_number=coverage.group_number,
        )
        dependent = dataclasses.replace(patient_person, relationship_code=coverage.subscriber_relationship)
    now = timezone.localtime()
    return EligibilityInquiry(
        envelope=InquiryEnvelope(
            sender_id=settings.CLEARINGHOUSE_SENDER_ID,
            receiver_id=settings.CLEARINGHOUSE_RECEIVER_ID,
            interchange_control_number=check.interchange_control_number,
            group_control_number=check.interchange_control_number,
            usage=settings.X12_USAGE,
        ),
        payer_name=_x12_text(coverage.payer.name),
        payer_id=coverage.payer.payer_id,
        provider_name=_x12_text(settings.ELIGIBILITY_PROVIDER_NAME),
        provider_npi=settings.ELIGIBILITY_PROVIDER_NPI,
        subscriber=subscriber,
        dependent=dependent,
        trace_number=check.trace_number,
        trace_originator=settings.ELIGIBILITY_TRACE_ORIGINATOR,
        service_types=tuple(check.service_types),
        service_date=check.service_date,
        created_at=(now.date(), now.strftime("%H%M")),
    )


@transaction.atomic
def eligibility_check_request(
    *,
    coverage: Coverage,
    by: Any,
    mode: str | None = None,
    service_date: date | None = None,
    request: HttpRequest | None = None,
) -> EligibilityCheck:
    """Open a check and, for the clearinghouse, queue the 270 to be sent after commit.

    Manual and file checks wait for staff to record the answer; the 270 is built for them too
    (when the provider NPI is set), so the record shows exactly what was asked.
    """
    require_role(by, INSURANCE_WRITERS, "check eligibility")
    today = timezone.localdate()
    service_date = service_date or today
    mode = mode or (CheckMode.HTTP if http_mode_available() else CheckMode.FILE)
    if mode not in CheckMode.values:
        raise ApplicationError(f"Unknown mode {mode!r}; use one of {', '.join(CheckMode.values)}.")
    if mode == CheckMode.HTTP and not (http_mode_available() and settings.ELIGIBILITY_PROVIDER_NPI):
        raise ApplicationError(
            "No clearinghouse is configured (CLEARINGHOUSE_URL and ELIGIBILITY_PROVIDER_NPI); "
            "check by phone (manual) or upload the payer's 271 (file).",
            extra={"fields": {"mode": ["Clearinghouse not configured."]}},
        )
    if coverage.effective_on > service_date or (coverage.terminates_on and coverage.terminates_on < service_date):
        raise ApplicationError(
            f"This coverage is not in force on {service_date:%Y-%m-%d}; change the date or the coverage.",
            extra={"fields": {"service_date": ["Outside the coverage's dates."]}},
        )
    payer = coverage.payer
    consent_check(
        patient=coverage.patient,
        recipient_type="payer",
        recipient_name=payer.name,
        information=[DisclosureInformation.BILLING],
        purpose=DisclosurePurpose.PAYMENT,
        on=today,
    )
    check = EligibilityCheck(
        coverage=coverage,
        mode=mode,
        service_date=service_date,
        service_types=list(settings.ELIGIBILITY_SERVICE_TYPES),
        trace_number=uuid.uuid4().hex[:30].upper(),
        interchange_control_number=_interchange_control_number(),
        requested_by=by,
    )
    if settings.ELIGIBILITY_PROVIDER_NPI:
        check.raw_270 = build_270(_inquiry(check))
    check.save()
    disclosure_record(
        patient=coverage.patient,
        recipient_type="payer",
        recipient_name=payer.name,
        information=[DisclosureInformation.BILLING],
        purpose=DisclosurePurpose.PAYMENT,
        description=(
            f"Eligibility inquiry ({check.get_mode_display().split(' (')[0].lower()}): member identity and "
            f"benefits for service types {', '.join(check.service_types)}."
        ),
        by=by,
        request=request,
    )
    audit_objects([check], AuditAction.CREATE, by=by, request=request, patient_path="coverage.patient")
    if mode == CheckMode.HTTP:
        from insurance.tasks import eligibility_check_send

        enqueue_on_commit(eligibility_check_send, check.pk)
    return check


def eligibility_checks_owed_send(before: datetime) -> QuerySet[EligibilityCheck, int]:
    """Ids of clearinghouse checks still awaiting an answer well after their task would have
    ended: it retries with a doubling wait and marks the check failed after its last try, so a
    check opened before `before` less that whole schedule and still awaiting was never sent
    (the broker was down when it was opened). A check the configured backend left to staff
    (manual, file) took that backend's mode when it was sent, so it is not owed a send again."""
    schedule = retry_schedule(
        base_seconds=settings.CLEARINGHOUSE_RETRY_BASE_SECONDS, retries=settings.CLEARINGHOUSE_MAX_RETRIES
    )
    # created_at on awaiting checks: the partial index eligibility_awaiting.
    return EligibilityCheck.objects.filter(
        mode=CheckMode.HTTP, status=CheckStatus.AWAITING, created_at__lt=before - schedule
    ).values_list("pk", flat=True)


def eligibility_check_send(check_id: int) -> EligibilityCheck | None:
    """Send a clearinghouse check's 270 and record the 271. Safe to run twice: a check that is
    no longer awaiting is left alone. Transient failures raise ClearinghouseError for the
    task to retry; permanent ones mark the check failed for staff."""
    check = EligibilityCheck.objects.filter(pk=check_id, mode=CheckMode.HTTP).select_related("coverage__payer").first()
    if check is None or check.status != CheckStatus.AWAITING:
        return None
    backend = get_backend(
        settings.CLEARINGHOUSE_BACKEND,
        url=settings.CLEARINGHOUSE_URL,
        username=settings.CLEARINGHOUSE_USERNAME,
        password=settings.CLEARINGHOUSE_PASSWORD,
        timeout=settings.CLEARINGHOUSE_TIMEOUT_SECONDS,
        verify=settings.CLEARINGHOUSE_VERIFY_TLS,
    )
    try:
        submission = backend.submit(
            x12_270=check.raw_270,
            payload_id=new_payload_id(),
            sender_id=settings.CLEARINGHOUSE_SENDER_ID,
            receiver_id=settings.CLEARINGHOUSE_RECEIVER_ID,
        )
    except ClearinghouseError as error:
        if error.transient:
            raise
        EligibilityCheck.objects.filter(pk=check.pk, status=CheckStatus.AWAITING).update(
            status=CheckStatus.FAILED, failure=str(error), updated_at=timezone.now()
        )
        logger.warning("eligibility check %s failed permanently", check.public_id)
        return None
    if submission.status != "answered":
        # A manual or file backend configured as the clearinghouse: staff record the answer, and
        # the check says so (no longer a clearinghouse check owed a send).
        EligibilityCheck.objects.filter(pk=check.pk, status=CheckStatus.AWAITING).update(
            mode=backend.mode, updated_at=timezone.now()
        )
        check.refresh_from_db()
        return check
    return eligibility_check_record_271(check=check, x12_271=submission.x12_271, by=None)


def eligibility_check_give_up(check_id: int, reason: str) -> None:
    """The task ran out of retries: staff see why and can check another way."""
    EligibilityCheck.objects.filter(pk=check_id, status=CheckStatus.AWAITING).update(
        status=CheckStatus.FAILED, failure=reason, updated_at=timezone.now()
    )


def _decode(x12_271: str | bytes) -> tuple[str, str]:
    """The text and the encoding that reads it back to the same bytes."""
    if isinstance(x12_271, str):
        return x12_271, "utf-8"
    try:
        return x12_271.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # X12's extended character set is a single-byte one; never refuse a file for its bytes.
        return x12_271.decode("latin-1"), "latin-1"


def _same(a: str, b: str) -> bool:
    return re.sub(r"[^0-9A-Z]", "", a.upper()) == re.sub(r"[^0-9A-Z]", "", b.upper())


def member_mismatches(coverage: Coverage, response: EligibilityResponse) -> list[str]:
    """Why this 271 may be about someone else than the coverage's member (empty when it matches)."""
    reasons: list[str] = []
    subscriber = next((m for m in response.members if m.level == "subscriber"), None)
    if subscriber is not None and subscriber.member_id and not _same(subscriber.member_id, coverage.member_id):
        reasons.append(f"The 271's member id {subscriber.member_id!r} is not the coverage's {coverage.member_id!r}.")
    member = response.patient
    if member is None:
        return reasons
    patient = coverage.patient
    patient_is_subscriber = coverage.subscriber_relationship == SubscriberRelationship.SELF
    if patient_is_subscriber and member.level == "dependent":
        reasons.append("The 271 answers for a dependent, but the patient is the subscriber on this coverage.")
    # Whom the member loop may name: the patient; or, when the patient is a dependent and the payer
    # answered at the subscriber level only, the subscriber too (a dependent with their own member
    # id is answered in a 2000C loop of their own).
    people: list[tuple[str, date | None]] = [(patient.legal_last_name, patient.date_of_birth)]
    if member.level == "subscriber" and not patient_is_subscriber:
        people.append((coverage.subscriber_last_name, coverage.subscriber_date_of_birth))
    name = member.name.last_name if member.name is not None else ""
    if name and not any(_same(name, last) for last, _ in people):
        reasons.append(f"The 271 names {name!r}, not {' or '.join(repr(last) for last, _ in people)}.")
    if member.birth_date is not None and member.birth_date not in {born for _, born in people}:
        reasons.append(f"The 271's date of birth {member.birth_date:%Y-%m-%d} is not the member's.")
    return reasons


def _summary(response: EligibilityResponse) -> dict[str, Any]:
    member = response.patient
    if member is None:
        return {}
    charges = settings.INSURANCE_CHARGES
    summary: dict[str, Any] = {}
    for level in LEVELS:
        found = rules.level_benefits(
            member.benefits, level, service_types=settings.INSURANCE_LEVEL_SERVICE_TYPES.get(level)
        )
        summary[level] = level_summary(found, charge=charges.get(level))
    return summary


def level_summary(found: rules.LevelBenefits, *, charge: Decimal | None) -> dict[str, Any]:
    """What staff see for one level: the benefits and, when the clinic set a charge, an estimate
    of the patient's share of one unit and of a week at the level's usual number of units."""
    result: dict[str, Any] = _jsonable(dataclasses.asdict(found))
    if charge is not None:
        units = settings.INSURANCE_UNITS_PER_WEEK.get(found.level, 1)
        unit = rules.estimate_patient_share(found, charge=charge, units=1)
        week = rules.estimate_patient_share(found, charge=charge, units=units)
        result["estimate"] = {
            "charge_per_unit": str(charge),
            "per_unit": str(unit.total),
            "units_per_week": units,
            "per_week": str(week.total),
            "assumptions": list(week.assumptions),
        }
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal | date):
        return str(value)
    return value


@transaction.atomic
def eligibility_check_record_271(
    *, check: EligibilityCheck, x12_271: str | bytes, by: Any, request: HttpRequest | None = None
) -> EligibilityCheck:
    """Keep the 271 as received, parse it and summarise it per level. An unreadable file, a
    rejection or a 271 about someone else is kept and said so; benefits are never guessed."""
    if by is not None:
        require_role(by, INSURANCE_WRITERS, "record eligibility answers")
    check = (
        EligibilityCheck.objects.select_for_update()
        .select_related("coverage__payer", "coverage__patient")
        .get(pk=check.pk)
    )
    if check.status != CheckStatus.AWAITING:
        raise Conflict(
            f"This check is already {check.get_status_display().lower()}; start a new check for a new answer.",
            extra={"status": check.status},
        )
    if len(x12_271) > MAX_271_BYTES:
        raise ApplicationError(f"A 271 of more than {MAX_271_BYTES // 1024} KiB is not an eligibility response.")
    text, check.raw_271_encoding = _decode(x12_271)
    response = parse_271(text)
    check.raw_271 = text
    check.parsed = response.to_dict()
    check.answered_at = timezone.now()
    check.answered_by = by
    check.summary = {}
    if not response.ok:
        check.status = CheckStatus.UNREADABLE
        check.failure = " ".join(issue.message for issue in response.errors)
    else:
        check.mismatch_reasons = member_mismatches(check.coverage, response)
        check.member_mismatch = bool(check.mismatch_reasons)
        whole = [r for r in response.rejections if r.loop in _WHOLE_ANSWER_LOOPS]
        if whole:
            check.status = CheckStatus.REJECTED
            check.failure = " ".join(f"{r.reason} ({r.follow_up})." for r in whole)
        else:
            check.status = CheckStatus.ANSWERED
            if not check.member_mismatch:
                check.summary = _summary(response)
    check.save()
    audit_objects([check], AuditAction.UPDATE, by=by, request=request, patient_path="coverage.patient")
    return check


def _manual_level(level: str, answers: dict[str, Any]) -> rules.LevelBenefits:
    """A phone answer in the shape a 271 gives: what the representative said is left of the
    visit limit is the limit remaining."""
    visits = answers.get("visit_limit")
    return rules.LevelBenefits(
        level=level,
        active=answers.get("active"),
        copay=answers.get("copay"),
        coinsurance=answers.get("coinsurance"),
        deductible_remaining=answers.get("deductible_remaining"),
        out_of_pocket_remaining=answers.get("out_of_pocket_remaining"),
        visit_limit_remaining=Decimal(visits) if visits is not None else None,
        authorization_required=answers.get("authorization_required"),
    )


@transaction.atomic
def eligibility_check_record_manual(
    *,
    check: EligibilityCheck,
    by: Any,
    levels: dict[str, dict[str, Any]],
    payer_contact: str,
    payer_reference: str = "",
    notes: str = "",
    request: HttpRequest | None = None,
) -> EligibilityCheck:
    """What the payer said on the phone, per level of care, summarised like a 271."""
    require_role(by, INSURANCE_WRITERS, "record eligibility answers")
    check = EligibilityCheck.objects.select_for_update().select_related("coverage__patient").get(pk=check.pk)
    if check.status != CheckStatus.AWAITING:
        raise Conflict(
            f"This check is already {check.get_status_display().lower()}; start a new check for a new answer.",
            extra={"status": check.status},
        )
    unknown = sorted(set(levels) - set(LEVELS))
    if unknown or not levels:
        raise ApplicationError(
            f"Give the benefits for one or more of {', '.join(LEVELS)}.",
            extra={"fields": {"levels": [f"Unknown level {u!r}." for u in unknown] or ["Empty."]}},
        )
    if not payer_contact.strip():
        raise ApplicationError(
            "Say who at the payer gave these benefits.", extra={"fields": {"payer_contact": ["Required."]}}
        )
    charges = settings.INSURANCE_CHARGES
    check.summary = {
        level: level_summary(_manual_level(level, answers), charge=charges.get(level))
        for level, answers in levels.items()
    }
    check.payer_contact = payer_contact.strip()
    check.payer_reference = payer_reference.strip()
    check.notes = notes
    check.status = CheckStatus.ANSWERED
    check.answered_at = timezone.now()
    check.answered_by = by
    check.save()
    audit_objects([check], AuditAction.UPDATE, by=by, request=request, patient_path="coverage.patient")
    return check
