"""`build_270`: an `EligibilityInquiry` as an X12 005010X279A1 270 (eligibility inquiry).

Choices, each for a payer that reads less than the standard allows:
- One EQ segment (one 2110 loop) per service type instead of one EQ01 with repetitions: the TR3
  lets EQ01 repeat, but payers are only obliged to answer the first repetition (many answer "30"
  alone); separate 2110 loops are read by every payer.
- Text containing one of the interchange's delimiters is refused with a ValueError naming the field,
  not stripped: a silently changed name or member id would come back as "subscriber not found"
  (AAA 75) with no hint why. Accents are folded to ASCII (X12's character set); anything else that
  is not ASCII is refused the same way.
- Names are upper case, as payers match them; identifiers are sent as given.
- No line breaks between segments: some clearinghouses read a newline as part of the next segment id.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

from insurance.x12.codes import SERVICE_TYPES
from insurance.x12.model import Delimiters, EligibilityInquiry, InquiryPerson

IMPLEMENTATION = "005010X279A1"


def build_270(inquiry: EligibilityInquiry) -> str:
    """The 270 as text. Raises ValueError naming the field when the inquiry cannot be sent as is."""
    delimiters = inquiry.delimiters
    _check_delimiters(delimiters)
    envelope = inquiry.envelope
    day, hhmm = inquiry.created_at or _now()
    if not (len(hhmm) == 4 and hhmm.isdigit()):
        raise ValueError(f"created_at time {hhmm!r} must be HHMM.")
    text = _Text(delimiters)
    for what, number in (
        ("envelope.interchange_control_number", envelope.interchange_control_number),
        ("envelope.group_control_number", envelope.group_control_number),
    ):
        if not 1 <= number <= 999_999_999:
            raise ValueError(f"{what} must be between 1 and 999999999.")
    control = text.id(inquiry.transaction_control_number, "transaction_control_number", 4, 9)
    trace = text.id(inquiry.trace_number, "trace_number", 1, 50)
    originator = text.id(inquiry.trace_originator, "trace_originator", 10, 10)
    npi = text.id(inquiry.provider_npi, "provider_npi", 10, 10)
    if not npi.isdigit():
        raise ValueError("provider_npi must be the provider's 10-digit NPI.")
    if not inquiry.service_types:
        raise ValueError("service_types is empty: ask for at least one service type (30 for the plan).")
    for code in inquiry.service_types:
        if code not in SERVICE_TYPES:
            raise ValueError(f"service_types holds {code!r}, which is not an X12 service type code.")

    isa = _isa(inquiry, text, day, hhmm)
    body: list[list[str]] = [
        ["ST", "270", control, IMPLEMENTATION],
        ["BHT", "0022", "13", text.id(inquiry.reference or trace, "reference", 1, 50), _ccyymmdd(day), hhmm],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", text.name(inquiry.payer_name, "payer_name"), "", "", "", "", "PI",
         text.id(inquiry.payer_id, "payer_id", 2, 80)],
        ["HL", "2", "1", "21", "1"],
        ["NM1", "1P", "2", text.name(inquiry.provider_name, "provider_name"), "", "", "", "", "XX", npi],
        ["HL", "3", "2", "22", "1" if inquiry.dependent else "0"],
    ]  # fmt: skip
    trn = ["TRN", "1", trace, originator]
    subscriber = inquiry.subscriber
    member_id = text.id(subscriber.member_id, "subscriber.member_id", 0, 80)
    # 2000C/2100C: the subscriber. When a dependent is the patient, the TRN, the date of service and
    # the questions (EQ) go to the dependent's loops instead (TR3 1.4.7; the dependent 270 example).
    if inquiry.dependent is None:
        body.append(trn)
    body.append(
        ["NM1", "IL", "1", *_names(text, subscriber, "subscriber"), "", "", *(("MI", member_id) if member_id else ())]
    )
    if subscriber.group_number:
        body.append(["REF", "6P", text.id(subscriber.group_number, "subscriber.group_number", 1, 50)])
    body += _demographics(subscriber, "subscriber")
    if inquiry.dependent is None:
        body += _questions(inquiry)
    else:
        dependent = inquiry.dependent
        body += [["HL", "4", "3", "23", "0"], trn, ["NM1", "03", "1", *_names(text, dependent, "dependent")]]
        body += _demographics(dependent, "dependent")
        body += _questions(inquiry)
    body.append(["SE", str(len(body) + 1), control])
    trailer = [
        ["GE", "1", str(envelope.group_control_number)],
        ["IEA", "1", f"{envelope.interchange_control_number:09d}"],
    ]
    gs = [
        "GS", "HS", text.id(envelope.sender_id, "envelope.sender_id", 2, 15),
        text.id(envelope.receiver_id, "envelope.receiver_id", 2, 15), _ccyymmdd(day), hhmm,
        str(envelope.group_control_number), "X", IMPLEMENTATION,
    ]  # fmt: skip
    return isa + "".join(_segment(elements, delimiters) for elements in [gs, *body, *trailer])


def _now() -> tuple[date, str]:
    now = datetime.now(tz=UTC)
    return now.date(), now.strftime("%H%M")


def _ccyymmdd(day: date) -> str:
    return day.strftime("%Y%m%d")


def _check_delimiters(delimiters: Delimiters) -> None:
    chosen = (delimiters.element, delimiters.repetition, delimiters.component, delimiters.segment)
    for char in chosen:
        # Not str.isspace(): it counts \x1c-\x1f as blank, and those non-printing separators are fine.
        if len(char) != 1 or char.isalnum() or char in " \t\r\n\x0b\x0c":
            raise ValueError(f"Delimiter {char!r} must be one character that is neither a letter, a digit nor blank.")
    if len(set(chosen)) != len(chosen):
        raise ValueError("The element, repetition, component and segment delimiters must all differ.")


class _Text:
    """Element values checked against the interchange's delimiters and character set."""

    def __init__(self, delimiters: Delimiters) -> None:
        self.delimiters = {
            delimiters.element: "the element separator",
            delimiters.repetition: "the repetition separator",
            delimiters.component: "the component separator",
            delimiters.segment: "the segment terminator",
        }

    def clean(self, value: str, what: str) -> str:
        # Fold accents (JOSÉ -> JOSE): payers' files use X12's basic and extended character sets.
        folded = "".join(
            char for char in unicodedata.normalize("NFKD", value.strip()) if not unicodedata.combining(char)
        )
        for char in folded:
            if char in self.delimiters:
                raise ValueError(
                    f"{what} contains {char!r}, {self.delimiters[char]} of this interchange: "
                    "correct the value or build with other delimiters."
                )
            if not (" " <= char <= "~"):
                raise ValueError(f"{what} contains {char!r}, which an X12 interchange cannot carry.")
        return folded

    def name(self, value: str, what: str) -> str:
        return self.clean(value, what).upper()

    def id(self, value: str, what: str, shortest: int, longest: int) -> str:
        cleaned = self.clean(value, what)
        if not shortest <= len(cleaned) <= longest:
            size = f"{shortest}" if shortest == longest else f"{shortest} to {longest}"
            raise ValueError(f"{what} must be {size} characters long, not {len(cleaned)}.")
        return cleaned


def _names(text: _Text, person: InquiryPerson, role: str) -> list[str]:
    return [
        text.name(person.last_name, f"{role}.last_name"),
        text.name(person.first_name, f"{role}.first_name"),
        text.name(person.middle_name, f"{role}.middle_name"),
    ]


def _demographics(person: InquiryPerson, role: str) -> list[list[str]]:
    if person.gender not in {"", "M", "F", "U"}:
        raise ValueError(f"{role}.gender must be M, F, U or empty, not {person.gender!r}.")
    if person.birth_date is None:
        return []  # DMG01-02 are required together: without a birth date the gender cannot be sent either
    return [["DMG", "D8", _ccyymmdd(person.birth_date), person.gender]]


def _questions(inquiry: EligibilityInquiry) -> list[list[str]]:
    found: list[list[str]] = []
    if inquiry.service_date is not None:
        found.append(["DTP", "291", "D8", _ccyymmdd(inquiry.service_date)])
    found += [["EQ", code] for code in dict.fromkeys(inquiry.service_types)]
    return found


def _segment(elements: list[str], delimiters: Delimiters) -> str:
    while elements and not elements[-1]:
        elements = elements[:-1]
    return delimiters.element.join(elements) + delimiters.segment


def _isa(inquiry: EligibilityInquiry, text: _Text, day: date, hhmm: str) -> str:
    envelope = inquiry.envelope
    if envelope.usage not in {"P", "T"}:
        raise ValueError(f"envelope.usage must be P or T, not {envelope.usage!r}.")
    elements = [
        "ISA",
        "00",  # ISA01-04: no authorization or security information, as HIPAA 5010 senders send
        " " * 10,
        "00",
        " " * 10,
        text.id(envelope.sender_qualifier, "envelope.sender_qualifier", 2, 2),
        text.id(envelope.sender_id, "envelope.sender_id", 2, 15).ljust(15),
        text.id(envelope.receiver_qualifier, "envelope.receiver_qualifier", 2, 2),
        text.id(envelope.receiver_id, "envelope.receiver_id", 2, 15).ljust(15),
        day.strftime("%y%m%d"),
        hhmm,
        inquiry.delimiters.repetition,
        "00501",
        f"{envelope.interchange_control_number:09d}",
        "0",  # ISA14: no TA1 interchange acknowledgment asked for
        envelope.usage,
        inquiry.delimiters.component,
    ]
    return inquiry.delimiters.element.join(elements) + inquiry.delimiters.segment
