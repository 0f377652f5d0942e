"""Every write of the prescription ledger: prescribers, prescriptions, PDMP imports and checks,
risk flags.

Each ledger change (create, update, entered in error, PDMP import) re-evaluates the patient's
risk flags through tapers.risk in the same transaction, under a lock on the patient row, so
two changes for one patient at once cannot race each other's flags.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from clinic.audit import audit_objects, audit_record, audit_target_for
from clinic.errors import ApplicationError, Conflict
from clinic.links import staff_link
from clinic.models import AuditAction
from clinic.roles import CLINICAL_ROLES, Role, require_role
from patients.models import CareTeamMember, CareTeamRole, Patient
from patients.services import moment_in_patients_life_check
from tapers import pdmp, risk
from tapers.models import (
    DrugClass,
    Medication,
    PdmpCheck,
    PdmpImport,
    Pharmacy,
    Prescriber,
    Prescription,
    PrescriptionSource,
    RiskFlag,
)

logger = logging.getLogger(__name__)

_Party = TypeVar("_Party", Prescriber, Pharmacy)

# Who keeps the ledger and the prescriber list (DESIGN.md roles: never admissions or billing).
LEDGER_ROLES = CLINICAL_ROLES
# Who may acknowledge a risk flag: the people who act on it.
FLAG_ACKNOWLEDGING_ROLES = frozenset({Role.PRESCRIBER, Role.CLINICIAN})
SEDATIVE_CLASSES = frozenset({DrugClass.BENZODIAZEPINE.value, DrugClass.Z_DRUG.value})


def _fields_error(message: str, **fields: str) -> ApplicationError:
    return ApplicationError(message, extra={"fields": {name: [text] for name, text in fields.items()}})


def _lock_patient(patient: Patient) -> None:
    # One ledger change per patient at a time: the flag re-evaluation reads the whole ledger
    # and upserts flags by fingerprint; two at once would both insert the same new flag.
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True).get()


# --- the catalogue --------------------------------------------------------------------------


class Catalogue:
    """Drug names as written ("XANAX XR", "OXYCODONE-ACETAMINOPHEN 5-325") to catalogue rows."""

    def __init__(self, medications: Iterable[Medication]) -> None:
        self.by_name: dict[str, Medication] = {}
        for medication in medications:
            for name in (medication.generic_name, *medication.brand_names):
                self.by_name.setdefault(name.lower(), medication)

    @classmethod
    def load(cls) -> Catalogue:
        return cls(Medication.objects.filter(is_active=True))

    def match(self, written: str) -> Medication | None:
        text = " ".join(written.lower().split())
        if text in self.by_name:
            return self.by_name[text]
        # A brand of several words ("MS Contin 15 mg"), then the first known word
        # ("alprazolam er", "oxycodone-acetaminophen"; a combination's first drug is the
        # controlled one).
        for name, medication in self.by_name.items():
            if " " in name and (text + " ").startswith(name + " "):
                return medication
        for word in re.split(r"[^a-z]+", text):
            if word in self.by_name:
                return self.by_name[word]
        return None


# --- prescribers ----------------------------------------------------------------------------

PRESCRIBER_FIELDS = ("name", "credentials", "npi", "practice", "phone", "fax", "secure_email", "address", "state")


def _save_prescriber(prescriber: Prescriber) -> Prescriber:
    try:
        # The NPI's uniqueness is checked below, as a 409 naming the prescriber already listed.
        prescriber.full_clean(exclude=["staff"], validate_unique=False, validate_constraints=False)
    except DjangoValidationError as error:
        raise ApplicationError(
            "Some fields are invalid; see extra.fields.", extra={"fields": error.message_dict}
        ) from None
    if prescriber.npi:
        twin = Prescriber.objects.filter(npi=prescriber.npi).exclude(pk=prescriber.pk).first()
        if twin is not None:
            raise Conflict(
                f"A prescriber with NPI {prescriber.npi} is already listed ({twin.name}); use that one.",
                extra={"fields": {"npi": ["Already listed."]}, "prescriber": str(twin.public_id)},
            )
    prescriber.save()
    return prescriber


@transaction.atomic
def prescriber_create(*, by: Any, **fields: Any) -> Prescriber:
    require_role(by, LEDGER_ROLES, "add prescribers")
    return _save_prescriber(Prescriber(**{k: v for k, v in fields.items() if k in PRESCRIBER_FIELDS}))


@transaction.atomic
def prescriber_update(*, prescriber: Prescriber, by: Any, **fields: Any) -> Prescriber:
    require_role(by, LEDGER_ROLES, "change prescribers")
    prescriber = Prescriber.objects.select_for_update().get(pk=prescriber.pk)
    for name, value in fields.items():
        if name in PRESCRIBER_FIELDS:
            setattr(prescriber, name, value)
    return _save_prescriber(prescriber)


# --- prescriptions --------------------------------------------------------------------------

PRESCRIPTION_FIELDS = (
    "medication",
    "drug_name",
    "strength",
    "strength_mg",
    "form",
    "directions",
    "daily_dose_mg",
    "quantity",
    "days_supply",
    "written_on",
    "filled_on",
    "prescriber",
    "pharmacy",
    "rx_number",
)


def _check_prescription(rx: Prescription, *, today: date) -> None:
    """The rules a person can act on, as field errors (the database constraints back them)."""
    if rx.medication is None and not rx.drug_name.strip():
        raise _fields_error("Name the drug: a catalogue medication or the drug as written.", drug_name="Required.")
    if not rx.drug_name.strip() and rx.medication is not None:
        rx.drug_name = rx.medication.generic_name
    if rx.days_supply is None or rx.days_supply < 1:
        raise _fields_error("Days' supply must be at least 1.", days_supply="At least 1.")
    if rx.written_on > today:
        raise _fields_error("A prescription cannot be written in the future.", written_on="In the future.")
    if rx.filled_on is not None and rx.filled_on > today:
        raise _fields_error("A fill date cannot be in the future.", filled_on="In the future.")
    if rx.filled_on is not None and rx.filled_on < rx.written_on:
        raise _fields_error(
            f"Filled on {rx.filled_on}, before it was written ({rx.written_on}).", filled_on="Before the written date."
        )
    if rx.source == PrescriptionSource.INTERNAL and not rx.prescriber.is_internal:
        raise _fields_error(
            "An internal prescription comes from one of our own prescribers; this one is outside.",
            source="The prescriber is not one of our staff.",
        )
    if rx.strength_mg is None and rx.strength:
        rx.strength_mg = pdmp.strength_mg(rx.strength)
    if rx.daily_dose_mg is None or rx.daily_dose_derived:
        derived = (
            (rx.quantity * rx.strength_mg / rx.days_supply).quantize(pdmp.MG)
            if rx.strength_mg is not None and rx.quantity is not None
            else None
        )
        rx.daily_dose_mg, rx.daily_dose_derived = derived, derived is not None
    if rx.daily_dose_mg is None and rx.medication is not None and rx.medication.drug_class in SEDATIVE_CLASSES:
        raise _fields_error(
            "Give the daily dose in mg (or the strength in mg per unit, to derive it): the diazepam-equivalent "
            "total needs it for a benzodiazepine.",
            daily_dose_mg="Required for a benzodiazepine or z-drug.",
        )
    for name in ("daily_dose_mg", "quantity"):
        value = getattr(rx, name)
        if value is not None and value < 0:
            raise _fields_error("Amounts cannot be negative.", **{name: "Cannot be negative."})


@transaction.atomic
def prescription_create(
    *, patient: Patient, source: str, by: Any, request: HttpRequest | None = None, **fields: Any
) -> Prescription:
    require_role(by, LEDGER_ROLES, "record prescriptions")
    if source == PrescriptionSource.PDMP_IMPORT:
        raise _fields_error("PDMP rows come from an imported PDMP file (POST /api/v1/pdmp-imports/).", source="Import.")
    _lock_patient(patient)
    values = {k: v for k, v in fields.items() if k in PRESCRIPTION_FIELDS}
    values.setdefault("drug_name", "")
    if values.get("medication") is None and values["drug_name"]:
        values["medication"] = Catalogue.load().match(values["drug_name"])
    rx = Prescription(patient=patient, source=source, recorded_by=by, **values)
    _check_prescription(rx, today=timezone.localdate(timezone=patient.time_zone))
    rx.save()
    audit_record(audit_target_for(rx, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request)
    risk_flags_evaluate(patient=patient)
    return rx


@transaction.atomic
def prescription_update(
    *, prescription: Prescription, by: Any, request: HttpRequest | None = None, **fields: Any
) -> Prescription:
    require_role(by, LEDGER_ROLES, "change prescriptions")
    _lock_patient(prescription.patient)
    rx = Prescription.objects.select_related("patient", "medication", "prescriber").get(pk=prescription.pk)
    if rx.is_entered_in_error:
        raise Conflict("This prescription was marked entered in error; record a new one instead.")
    changes = {k: v for k, v in fields.items() if k in PRESCRIPTION_FIELDS}
    if "drug_name" in changes and "medication" not in changes:
        changes["medication"] = Catalogue.load().match(changes["drug_name"])
    for name, value in changes.items():
        setattr(rx, name, value)
    if "strength" in changes and "strength_mg" not in changes:
        rx.strength_mg = None  # read again from the new strength
    if "daily_dose_mg" in changes:
        rx.daily_dose_derived = False
    _check_prescription(rx, today=timezone.localdate(timezone=rx.patient.time_zone))
    rx.save()
    audit_record(audit_target_for(rx, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request)
    risk_flags_evaluate(patient=rx.patient)
    return rx


@transaction.atomic
def prescription_mark_entered_in_error(
    *, prescription: Prescription, reason: str, by: Any, request: HttpRequest | None = None
) -> Prescription:
    """No hard delete: the row stays (with its history), out of the rules and the totals."""
    require_role(by, LEDGER_ROLES, "mark prescriptions entered in error")
    if not reason.strip():
        raise _fields_error("Say why it was entered in error.", reason="Required.")
    _lock_patient(prescription.patient)
    rx = Prescription.objects.select_related("patient").get(pk=prescription.pk)
    if rx.is_entered_in_error:
        raise Conflict("This prescription is already marked entered in error.")
    rx.entered_in_error_at = timezone.now()
    rx.entered_in_error_by = by
    rx.entered_in_error_reason = reason.strip()
    rx.save()
    audit_record(audit_target_for(rx, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request)
    risk_flags_evaluate(patient=rx.patient)
    return rx


# --- PDMP imports ---------------------------------------------------------------------------


def _party(model: type[_Party], found: dict[str, _Party], name: str, npi: str) -> _Party:
    key = npi or f"name:{name.lower()}"
    if key not in found:
        if npi:
            found[key], _ = model.objects.get_or_create(npi=npi, defaults={"name": name})
        else:
            # Without an NPI the same name is the same prescriber (or pharmacy); a new row per line
            # would inflate the multiple-provider count.
            found[key] = model.objects.filter(npi="", name__iexact=name).order_by("id").first() or (
                model.objects.create(name=name)
            )
    return found[key]


@dataclass
class _Parties:
    """Prescribers and pharmacies of one import: by NPI, else by name, else created."""

    prescribers: dict[str, Prescriber] = field(default_factory=dict)
    pharmacies: dict[str, Pharmacy] = field(default_factory=dict)

    def prescriber(self, name: str, npi: str) -> Prescriber:
        return _party(Prescriber, self.prescribers, name, npi)

    def pharmacy(self, name: str, npi: str) -> Pharmacy:
        return _party(Pharmacy, self.pharmacies, name, npi)


def _problems_error(problems: list[pdmp.Problem], message: str) -> ApplicationError:
    return ApplicationError(
        message,
        extra={"problems": [{"line": p.line, "column": p.column, "message": p.message} for p in problems]},
    )


def _mg(value: Decimal) -> str:
    return f"{value.normalize():f}"


@transaction.atomic
def pdmp_import_create(
    *, patient: Patient, data: bytes, file_name: str = "", state: str = "", by: Any, request: HttpRequest | None = None
) -> PdmpImport:
    """Import a PDMP report: every new dispensing is added, one already recorded (this file or
    an overlapping one again) is skipped; a file with any bad line adds nothing."""
    require_role(by, LEDGER_ROLES, "import PDMP reports")
    if len(data) > settings.PDMP_IMPORT_MAX_BYTES:
        raise ApplicationError(
            f"The file is {len(data)} bytes; the limit is {settings.PDMP_IMPORT_MAX_BYTES} (PDMP_IMPORT_MAX_BYTES)."
        )
    try:
        rows = pdmp.parse_pdmp_csv(data)
    except pdmp.PdmpFileError as error:
        raise _problems_error(error.problems, str(error)) from None
    catalogue = Catalogue.load()
    matched = [(row, catalogue.match(row.drug)) for row in rows]
    problems = [
        pdmp.Problem(
            row.line,
            "strength",
            f"cannot read a strength in mg per unit from {row.strength!r} to derive the daily dose of "
            f"{row.drug}; add a daily_dose_mg column",
        )
        for row, medication in matched
        if row.daily_dose_mg is None and medication is not None and medication.drug_class in SEDATIVE_CLASSES
    ]
    # A report lists what was dispensed: a date after today is a typo, not a future fill.
    today = timezone.localdate(timezone=patient.time_zone)
    problems += [
        pdmp.Problem(row.line, column, f"{value} is after today ({today})")
        for row in rows
        for column, value in (("written_date", row.written_on), ("fill_date", row.filled_on))
        if value > today
    ]
    problems.sort(key=lambda p: p.line)
    if problems:
        raise _problems_error(problems, str(pdmp.PdmpFileError(problems)))

    _lock_patient(patient)
    keys = {row.natural_key for row in rows}
    seen = set(Prescription.objects.filter(patient=patient, natural_key__in=keys).values_list("natural_key", flat=True))
    record = PdmpImport.objects.create(
        patient=patient,
        file_name=file_name[:255],
        file_sha256=hashlib.sha256(data).hexdigest(),
        state=state,
        rows_read=len(rows),
        imported_by=by,
    )
    parties = _Parties()
    added: list[Prescription] = []
    notes: list[str] = []
    for row, medication in matched:
        if row.natural_key in seen:
            continue
        seen.add(row.natural_key)
        if medication is None:
            notes.append(
                f"line {row.line}: {row.drug!r} is not in the catalogue; recorded as written, class other "
                "(the risk rules do not count it)."
            )
        if row.daily_dose_derived and row.daily_dose_mg is not None:
            notes.append(
                f"line {row.line}: daily dose derived as quantity x strength / days' supply = "
                f"{_mg(row.quantity)} x {row.strength} / {row.days_supply} = {_mg(row.daily_dose_mg)} mg."
            )
        elif row.daily_dose_mg is None:
            notes.append(f"line {row.line}: daily dose unknown ({row.strength!r} is not a strength per unit).")
        rx = Prescription(
            patient=patient,
            medication=medication,
            drug_name=row.drug,
            strength=row.strength,
            strength_mg=row.strength_mg.quantize(pdmp.MG) if row.strength_mg is not None else None,
            directions=row.directions,
            daily_dose_mg=row.daily_dose_mg,
            daily_dose_derived=row.daily_dose_derived,
            quantity=row.quantity,
            days_supply=row.days_supply,
            written_on=row.written_on,
            filled_on=row.filled_on,
            prescriber=parties.prescriber(row.prescriber_name, row.prescriber_npi),
            pharmacy=parties.pharmacy(row.pharmacy_name, row.pharmacy_npi),
            rx_number=row.rx_number,
            source=PrescriptionSource.PDMP_IMPORT,
            pdmp_import=record,
            natural_key=row.natural_key,
            recorded_by=by,
        )
        added.append(rx)
    # One insert for the rows and one for their history, however long the report.
    added = bulk_create_with_history(added, Prescription, default_user=by)
    record.rows_added = len(added)
    record.rows_already_recorded = len(rows) - len(added)
    record.notes = notes
    record.save(update_fields=["rows_added", "rows_already_recorded", "notes", "updated_at"])
    audit_objects([record, *added], AuditAction.CREATE, by=by, request=request)
    risk_flags_evaluate(patient=patient)
    return record


# --- PDMP checks ----------------------------------------------------------------------------


@transaction.atomic
def pdmp_check_record(
    *,
    patient: Patient,
    state: str,
    result_summary: str,
    by: Any,
    checked_at: datetime | None = None,
    next_due_on: date | None = None,
    request: HttpRequest | None = None,
) -> PdmpCheck:
    """Record a PDMP lookup; the next is due PDMP_RECHECK_DAYS after it unless given."""
    require_role(by, LEDGER_ROLES, "record PDMP checks")
    checked_at = checked_at or timezone.now()
    moment_in_patients_life_check(patient, checked_at, field="checked_at", doing="A PDMP check cannot be")
    checked_on = timezone.localdate(checked_at, timezone=patient.time_zone)
    due = next_due_on or checked_on + timedelta(days=settings.PDMP_RECHECK_DAYS)
    if due <= checked_on:
        raise _fields_error("The next check is due after this one.", next_due_on="On or before the check.")
    check = PdmpCheck(
        patient=patient,
        checked_by=by,
        checked_at=checked_at,
        state=state.upper(),
        result_summary=result_summary,
        next_due_on=due,
    )
    try:
        check.full_clean(exclude=["patient", "checked_by"])
    except DjangoValidationError as error:
        raise ApplicationError(
            "Some fields are invalid; see extra.fields.", extra={"fields": error.message_dict}
        ) from None
    check.save()
    audit_record(audit_target_for(check, patient_path="patient"), action=AuditAction.CREATE, actor=by, request=request)
    return check


def recheck_recipients(patient: Patient) -> list[str]:
    """Email addresses of whom to remind of a patient's PDMP recheck: the open episode's
    prescriber of record when one of our staff (tapers.services.coordination.prescriber_of_record),
    else the care team's prescriber of record, else the care team's prescribers."""
    # Imported here: coordination reads the ledger's models, and this module stays importable alone.
    from tapers.services.coordination import prescriber_of_record

    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    of_record = prescriber_of_record(patient)
    if of_record is not None and of_record.prescriber.staff_id is not None:
        found = list(users.filter(pk=of_record.prescriber.staff_id).values_list("email", flat=True))
        if found:
            return found
    today = timezone.localdate()
    open_team = CareTeamMember.objects.current(today).filter(patient=patient)
    for members in (
        open_team.filter(team_role=CareTeamRole.PRESCRIBER_OF_RECORD),
        open_team.filter(member__groups__name=Role.PRESCRIBER),
    ):
        found = list(users.filter(pk__in=members.values("member_id")).values_list("email", flat=True).distinct())
        if found:
            return sorted(found)
    return []


def pdmp_checks_due(*, today: date) -> Any:
    """Checks whose recheck is due, not yet reminded, with no newer check of the patient."""
    newer = PdmpCheck.objects.filter(patient=OuterRef("patient"), checked_at__gt=OuterRef("checked_at"))
    return PdmpCheck.objects.filter(next_due_on__lte=today, reminded_at__isnull=True).exclude(Exists(newer))


def pdmp_recheck_reminders_send(*, today: date) -> int:
    """Email the prescriber(s) of each patient whose PDMP recheck is due; returns how many
    checks were reminded. Safe to run twice: a reminded check is marked in the same
    transaction as its email, and a second run skips it."""
    sent = 0
    for check_id in pdmp_checks_due(today=today).order_by("next_due_on", "id").values_list("id", flat=True):
        with transaction.atomic():
            # Skip a row another run holds; re-read "not reminded" under the lock.
            check = (
                PdmpCheck.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("patient")
                .filter(pk=check_id, reminded_at__isnull=True)
                .first()
            )
            if check is None:
                continue
            recipients = recheck_recipients(check.patient)
            if not recipients:
                logger.warning("PDMP recheck due for check %s: no prescriber with an email to remind", check.public_id)
                continue
            # No patient name or drug in the subject; the body links to the record by id only.
            send_mail(
                subject="A PDMP recheck is due",
                message=(
                    f"A patient's PDMP recheck was due on {check.next_due_on:%Y-%m-%d} (last check "
                    f"{timezone.localdate(check.checked_at):%Y-%m-%d}, state {check.state}).\n\n"
                    f"Patient: {staff_link(f'/api/v1/patients/{check.patient.public_id}/')}\n"
                    f"Last check: {staff_link(f'/api/v1/pdmp-checks/{check.public_id}/')}\n\n"
                    "Record the new check with POST /api/v1/pdmp-checks/ (2025 Joint Guideline Rec 1: "
                    "review the PDMP at least every 3 months)."
                ),
                from_email=None,
                recipient_list=recipients,
            )
            check.reminded_at = timezone.now()
            check.save(update_fields=["reminded_at", "updated_at"])
            sent += 1
    return sent


# --- risk flags -----------------------------------------------------------------------------


def _decimal_setting(name: str) -> Decimal:
    value = getattr(settings, name)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise risk.RiskInputError(f"{name} must be a number, not {value!r}.") from None


def _drug_class(value: str) -> risk.DrugClass:
    try:
        return risk.DrugClass(value)
    except ValueError:
        raise risk.RiskInputError(
            f"LEDGER_RISK_MULTIPLE_PROVIDER_CLASSES: {value!r} is not one of {', '.join(risk.DrugClass)}."
        ) from None


def ledger_thresholds() -> risk.Thresholds:
    """tapers.risk.Thresholds from the LEDGER_RISK_* settings."""
    name = settings.LEDGER_RISK_MULTIPLE_PROVIDER_DEFINITION
    definition = risk.MULTIPLE_PROVIDER_DEFINITIONS.get(name)
    if definition is None:
        raise risk.RiskInputError(
            f"LEDGER_RISK_MULTIPLE_PROVIDER_DEFINITION {name!r} is not one of "
            f"{', '.join(sorted(risk.MULTIPLE_PROVIDER_DEFINITIONS))}."
        )
    return risk.Thresholds(
        lookback_days=settings.LEDGER_RISK_LOOKBACK_DAYS,
        min_overlap_days=settings.LEDGER_RISK_MIN_OVERLAP_DAYS,
        multiple_provider=definition,
        multiple_provider_classes=frozenset(_drug_class(c) for c in settings.LEDGER_RISK_MULTIPLE_PROVIDER_CLASSES),
        early_refill_remaining_fraction=_decimal_setting("LEDGER_RISK_EARLY_REFILL_REMAINING_FRACTION"),
        opioid_overlap_min_days=settings.LEDGER_RISK_OPIOID_OVERLAP_MIN_DAYS,
        high_total_dze_mg=_decimal_setting("LEDGER_RISK_HIGH_TOTAL_DZE_MG"),
        equivalence_table=settings.LEDGER_RISK_EQUIVALENCE_TABLE,
    )


def _prescriber_label(prescriber: Prescriber) -> str:
    # Read by people in flag messages, and compared by the rules: unique (NPI, else our id).
    return (
        f"{prescriber.name} (NPI {prescriber.npi})" if prescriber.npi else f"{prescriber.name} ({prescriber.public_id})"
    )


def _rule_input(rx: Prescription) -> risk.Prescription:
    medication = rx.medication
    return risk.Prescription(
        id=str(rx.public_id),
        drug=medication.generic_name if medication else rx.drug_name,
        drug_class=risk.DrugClass(medication.drug_class if medication else DrugClass.OTHER),
        # Unknown only outside the sedatives (the service refuses it there), which the dose rules ignore.
        daily_dose_mg=rx.daily_dose_mg if rx.daily_dose_mg is not None else Decimal(0),
        quantity=rx.quantity,
        days_supply=rx.days_supply,
        written_on=rx.written_on,
        prescriber_id=_prescriber_label(rx.prescriber),
        filled_on=rx.filled_on,
        pharmacy_id=str(rx.pharmacy_id) if rx.pharmacy_id else None,
    )


def fingerprint(code: str, prescription_ids: Iterable[str]) -> str:
    return hashlib.sha256(f"{code}|{','.join(sorted(prescription_ids))}".encode()).hexdigest()


def risk_flags_evaluate(*, patient: Patient, as_of: date | None = None) -> list[RiskFlag]:
    """Run the rules on the patient's ledger and bring their flags in step: a flag raised again
    (same rule, same prescriptions) is updated, keeping its acknowledgement; a new one is added;
    an open one the rules no longer raise is cleared. Returns the open flags. Call inside the
    ledger change's transaction, with the patient locked."""
    as_of = as_of or timezone.localdate(timezone=patient.time_zone)
    now = timezone.now()
    ledger = list(
        Prescription.objects.filter(patient=patient, entered_in_error_at__isnull=True).select_related(
            "medication", "prescriber"
        )
    )
    by_public_id = {str(rx.public_id): rx for rx in ledger}
    raised = risk.ledger_flags([_rule_input(rx) for rx in ledger], as_of=as_of, thresholds=ledger_thresholds())
    existing = {flag.fingerprint: flag for flag in RiskFlag.objects.filter(patient=patient)}
    open_flags: list[RiskFlag] = []
    links: list[Any] = []  # the new flags' prescriptions, inserted together
    unchanged: list[int] = []
    for found in raised:
        key = fingerprint(found.code.value, found.prescription_ids)
        values = {
            "code": found.code.value,
            "severity": found.severity.value,
            "message": found.message,
            "source": found.source,
            "naloxone_prompt": found.naloxone_prompt or "",
        }
        flag = existing.get(key)
        if flag is None:
            flag = RiskFlag.objects.create(
                patient=patient, fingerprint=key, raised_at=now, last_evaluated_at=now, **values
            )
            links += [
                RiskFlag.prescriptions.through(riskflag=flag, prescription=by_public_id[i])
                for i in found.prescription_ids
            ]
        elif flag.cleared_at is not None or any(getattr(flag, k) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(flag, name, value)
            flag.cleared_at = None
            flag.last_evaluated_at = now
            flag.save()
        else:
            unchanged.append(flag.pk)
        open_flags.append(flag)
    RiskFlag.prescriptions.through.objects.bulk_create(links)
    # Unchanged: no history row for a re-evaluation that found the same, and one query for all.
    RiskFlag.objects.filter(pk__in=unchanged).update(last_evaluated_at=now)
    still_raised = {flag.pk for flag in open_flags}
    for flag in existing.values():
        if flag.cleared_at is None and flag.pk not in still_raised:
            flag.cleared_at = now
            flag.last_evaluated_at = now
            flag.save()
    return open_flags


def risk_flags_refresh() -> int:
    """Re-evaluate every patient with an open flag, as of their today: the rules look back a
    window that moves with the date, so a flag raised by an old overlap clears by itself once
    it leaves the window. Returns the number of patients evaluated. Work grows with the
    patients flagged, not the ledger; one transaction per patient, under the same lock as a
    ledger change."""
    patient_ids = RiskFlag.objects.filter(cleared_at__isnull=True).values_list("patient_id", flat=True).distinct()
    done = 0
    for patient_id in patient_ids.order_by("patient_id"):
        with transaction.atomic():
            patient = Patient.objects.select_for_update().filter(pk=patient_id).first()
            if patient is None:
                continue
            risk_flags_evaluate(patient=patient)
            done += 1
    return done


@transaction.atomic
def risk_flag_acknowledge(*, flag: RiskFlag, note: str = "", by: Any, request: HttpRequest | None = None) -> RiskFlag:
    require_role(by, FLAG_ACKNOWLEDGING_ROLES, "acknowledge risk flags")
    flag = RiskFlag.objects.select_for_update().select_related("patient").get(pk=flag.pk)
    if flag.acknowledged_at is not None:
        raise Conflict(
            f"Already acknowledged on {flag.acknowledged_at:%Y-%m-%d %H:%M} UTC.",
            extra={"acknowledged_at": flag.acknowledged_at.isoformat()},
        )
    flag.acknowledged_by = by
    flag.acknowledged_at = timezone.now()
    flag.acknowledgement_note = note.strip()
    flag.save()
    audit_record(audit_target_for(flag, patient_path="patient"), action=AuditAction.UPDATE, actor=by, request=request)
    return flag
