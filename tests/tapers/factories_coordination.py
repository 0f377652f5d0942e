"""Factories and helpers for the coordination tests: episodes, outside prescribers, consents."""

from datetime import date, datetime

import factory

from patients.consents import RIGHT_TO_REVOKE
from patients.models import Consent, EpisodeOfCare, Patient
from tapers.models import Communication, Prescriber
from tapers.services import coordination
from tests.tapers.factories import PrescriberFactory


class EpisodeFactory(factory.django.DjangoModelFactory[EpisodeOfCare]):
    class Meta:
        model = EpisodeOfCare

    admitted_on = date(2026, 11, 19)


class OutsidePrescriberFactory(PrescriberFactory):
    """A prescriber outside the clinic we can write to."""

    practice = factory.Sequence(lambda n: f"Riverside Practice {n}")
    secure_email = factory.Sequence(lambda n: f"outside{n}@direct.example.org")
    fax = "+16175550199"
    address = "12 Harbor Road\nBoston, MA 02110"


def consent_for(
    patient: Patient,
    recipient_name: str,
    *,
    by,
    recipient_type: str = "outside_prescriber",
    information: list[str] | None = None,
    purposes: list[str] | None = None,
    effective_on: date = date(2026, 11, 1),
    expires_on: date | None = date(2027, 11, 1),
) -> Consent:
    return Consent.objects.create(
        patient=patient,
        recipient_type=recipient_type,
        recipient_name=recipient_name,
        information=information or ["medications", "attendance"],
        amount_and_kind="Current medications, taper plan and attendance",
        purposes=purposes or ["care_coordination"],
        effective_on=effective_on,
        expires_on=expires_on,
        signed_at=datetime.fromisoformat("2026-11-01T10:00:00-05:00"),
        signature_method="electronic",
        right_to_revoke_statement=RIGHT_TO_REVOKE,
        recorded_by=by,
    )


def fax_letter(
    patient: Patient, prescriber: Prescriber, *, by, subject: str = "Taper step", body: str = "9 mg a day"
) -> Communication:
    """A draft fax about the patient's medications, for care coordination, through the service."""
    return coordination.communication_draft(
        patient=patient,
        prescriber=prescriber,
        channel="fax",
        subject=subject,
        body=body,
        information=["medications"],
        purpose="care_coordination",
        by=by,
    )
