"""42 CFR Part 2 consent matching (pure, no Django): does a consent cover this disclosure?

Section numbers are 42 CFR Part 2 as amended by the 2024 final rule (89 FR 12472),
summarised in ../shared/reference/clinical.md section 6.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# § 2.31(a)(4): a single consent for all future treatment, payment and health care
# operations (TPO) may describe its recipients as a class.
TPO_RECIPIENT_TYPES = frozenset({"outside_prescriber", "outside_therapist", "other_provider", "payer"})
TPO_PURPOSES = frozenset({"treatment", "payment", "operations"})

# § 2.32: the notice that accompanies every disclosure made with consent (statement 2,
# 2024 wording), with a copy or clear explanation of the consent's scope.
REDISCLOSURE_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."

RIGHT_TO_REVOKE = (
    "You may revoke this consent at any time, in writing, except to the extent that the program "
    "has already acted in reliance on it. To revoke it, tell or write to the program's front desk."
)


@dataclass(frozen=True)
class ConsentTerms:
    recipient_type: str
    recipient_name: str
    information: frozenset[str]
    purposes: frozenset[str]
    effective_on: date
    expires_on: date | None
    revoked_on: date | None


@dataclass(frozen=True)
class Request:
    recipient_type: str
    recipient_name: str
    information: frozenset[str]
    purpose: str
    on: date


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def covers(terms: ConsentTerms, request: Request) -> bool:
    if terms.revoked_on is not None and terms.revoked_on <= request.on:
        return False
    if request.on < terms.effective_on or (terms.expires_on is not None and request.on > terms.expires_on):
        return False
    if not request.information <= terms.information:
        return False
    if terms.recipient_type == "tpo":
        return request.recipient_type in TPO_RECIPIENT_TYPES and request.purpose in TPO_PURPOSES
    return (
        terms.recipient_type == request.recipient_type
        and _same_name(terms.recipient_name, request.recipient_name)
        and request.purpose in terms.purposes
    )


def first_covering(consents: Iterable[tuple[int, ConsentTerms]], request: Request) -> int | None:
    """The id of the first consent that covers the request, or None."""
    return next((consent_id for consent_id, terms in consents if covers(terms, request)), None)


def missing_consent_message(request: Request) -> str:
    information = ", ".join(sorted(request.information))
    return (
        f"No current consent lets us disclose {information} to {request.recipient_name} "
        f"({request.recipient_type.replace('_', ' ')}) for {request.purpose.replace('_', ' ')} on "
        f"{request.on:%Y-%m-%d}. Record a signed consent that names this recipient, this information "
        "and this purpose (42 CFR 2.31) before disclosing anything."
    )
