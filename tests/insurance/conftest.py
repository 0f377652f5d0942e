"""Insurance fixtures: the scheduling clinic (clock, location, tracks, admitted patients) plus
payers, coverages and the payer consent an eligibility check needs."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clinic.roles import Role
from insurance.models import Coverage, Payer
from insurance.services.coverage import coverage_create
from patients.services.consents import consent_record
from tests.scheduling.conftest import (  # noqa: F401  (fixtures, re-exported for pytest)
    admitted,
    clock,
    location,
    make_track,
    room,
    staff_of,
    therapist,
)

# ../shared beside the checkout (CI clones main and copies shared next to it).
X12_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "x12-samples"


@pytest.fixture
def billing(make_user):
    return make_user(Role.BILLING)


@pytest.fixture
def billing_client(client_for, billing):
    return client_for(billing)


@pytest.fixture
def admissions(make_user):
    return make_user(Role.ADMISSIONS)


@pytest.fixture
def payer(db):
    return Payer.objects.create(name="ABC Company", payer_id="842610001", phone="+18005551212")


@pytest.fixture
def make_coverage(billing, payer):
    def make(patient, **fields) -> Coverage:
        fields.setdefault("payer", payer)
        fields.setdefault("member_id", "W199966066")
        fields.setdefault("effective_on", date(2026, 1, 1))
        return coverage_create(patient=patient, by=billing, **fields)

    return make


# What a payer's eligibility check needs the patient to have consented to: billing
# information, to the payer, for payment (42 CFR 2.31). Add recipient_name and the dates.
PAYER_CONSENT: dict[str, Any] = {
    "recipient_type": "payer",
    "information": ["billing"],
    "amount_and_kind": "Identity, coverage and the services billed",
    "purposes": ["payment"],
}


@pytest.fixture
def payer_consent(admissions):
    """Record the patient's consent to tell `payer_name` what billing needs, for payment."""

    def record(patient, payer_name="ABC Company", **overrides):
        fields = {
            **PAYER_CONSENT,
            "recipient_name": payer_name,
            "effective_on": "2026-11-01",
            "expires_on": "2027-11-01",
            "signed_at": "2026-11-01T10:00:00-05:00",
            "signature_method": "electronic",
            "right_to_revoke_statement": "You may revoke this consent at any time.",
        }
        return consent_record(patient=patient, by=admissions, **(fields | overrides))

    return record
