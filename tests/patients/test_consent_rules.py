from datetime import date
from typing import Any

import pytest

from patients.consents import ConsentTerms, Request, covers, missing_consent_message

SISTER = ConsentTerms(
    recipient_type="family_member",
    recipient_name="Sam Rivera",
    information=frozenset({"attendance", "treatment_plan"}),
    purposes=frozenset({"family_involvement"}),
    effective_on=date(2026, 11, 1),
    expires_on=date(2027, 5, 1),
    revoked_on=None,
)


def ask(**changes) -> Request:
    base: dict[str, Any] = {
        "recipient_type": "family_member",
        "recipient_name": "Sam Rivera",
        "information": frozenset({"attendance"}),
        "purpose": "family_involvement",
        "on": date(2026, 12, 1),
    }
    return Request(**(base | changes))


def test_it_covers_a_named_recipient_for_a_listed_purpose():
    assert covers(SISTER, ask())
    assert covers(SISTER, ask(recipient_name="  sam   RIVERA "))


@pytest.mark.parametrize(
    "changes",
    [
        {"recipient_name": "Alex Rivera"},
        {"recipient_type": "outside_therapist"},
        {"information": frozenset({"attendance", "medications"})},
        {"purpose": "treatment"},
        {"on": date(2026, 10, 31)},
        {"on": date(2027, 5, 2)},
    ],
)
def test_it_does_not_cover_anything_else(changes):
    assert not covers(SISTER, ask(**changes))


def test_revocation_stops_cover_from_that_day():
    revoked = ConsentTerms(**{**SISTER.__dict__, "revoked_on": date(2026, 12, 1)})
    assert covers(revoked, ask(on=date(2026, 11, 30)))
    assert not covers(revoked, ask(on=date(2026, 12, 1)))


def test_a_tpo_consent_covers_treating_providers_and_payers_for_tpo_only():
    tpo = ConsentTerms(
        recipient_type="tpo",
        recipient_name="my treating providers, health plans and third-party payers",
        information=frozenset({"billing", "diagnosis", "attendance"}),
        purposes=frozenset({"treatment", "payment", "operations"}),
        effective_on=date(2026, 11, 1),
        expires_on=None,
        revoked_on=None,
    )
    assert covers(
        tpo,
        ask(
            recipient_type="payer", recipient_name="Acme Health", information=frozenset({"billing"}), purpose="payment"
        ),
    )
    assert not covers(tpo, ask(information=frozenset({"attendance"})))  # a family member is not TPO
    assert not covers(
        tpo,
        ask(
            recipient_type="payer", recipient_name="Acme", information=frozenset({"billing"}), purpose="patient_request"
        ),
    )


def test_the_refusal_says_what_consent_is_missing():
    message = missing_consent_message(ask(information=frozenset({"medications"})))
    assert "medications to Sam Rivera (family member) for family involvement on 2026-12-01" in message
    assert "42 CFR 2.31" in message
