"""Plain data for X12 005010X279A1 eligibility: what a parsed 271 holds and what a 270 asks.

No Django here (STYLE.md: X12 parsing is pure logic). The parser (`insurance.x12.parse`)
fills these; the builder (`insurance.x12.build`) reads `EligibilityInquiry`; the insurance
services store `EligibilityResponse.to_dict()` as JSON next to the raw text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """Something wrong with the file. Errors mean the parse cannot be trusted (not X12, truncated,
    the wrong transaction set); warnings are envelope faults real payers send (wrong SE count,
    control numbers that do not match) and never stop the parse."""

    severity: Severity
    code: str  # stable, machine-readable: "not_x12", "truncated", "wrong_transaction", "segment_count", ...
    message: str  # a sentence a person can act on
    segment: int | None = None  # 1-based position of the segment in the interchange, when one is to blame


@dataclass(frozen=True)
class Rejection:
    """An AAA segment: the payer could not answer, at the loop it names."""

    loop: str  # "2000A", "2100A", "2100B", "2000C", "2100C", "2110C", "2100D", "2110D"
    valid_request: bool | None  # AAA01: Y / N
    reason_code: str  # AAA03, e.g. "72"
    reason: str  # its meaning, e.g. "Invalid/Missing Subscriber/Insured ID"
    follow_up_code: str  # AAA04, e.g. "C"
    follow_up: str  # its meaning, e.g. "Please Correct and Resubmit"


@dataclass(frozen=True)
class Party:
    """An NM1 (payer, provider, subscriber, dependent, benefit-related entity)."""

    entity_code: str  # NM101, e.g. "PR", "1P", "IL", "03", "P3"
    entity: str  # its meaning, e.g. "Payer"
    is_person: bool  # NM102 == "1"
    last_name: str = ""  # or organisation name
    first_name: str = ""
    middle_name: str = ""
    suffix: str = ""
    id_qualifier: str = ""  # NM108, e.g. "PI", "XX" (NPI), "MI" (member id)
    identifier: str = ""  # NM109


@dataclass(frozen=True)
class DatePeriod:
    """A DTP: a qualifier and a single date or a range."""

    qualifier: str  # DTP01, e.g. "291" plan, "346" plan begin, "307" eligibility, "348" benefit begin
    meaning: str
    start: date | None
    end: date | None  # == start for a single date
    raw: str  # DTP03 as sent, kept when it does not parse


@dataclass(frozen=True)
class Benefit:
    """One EB segment of loop 2110C/2110D with everything that belongs to it."""

    code: str  # EB01, e.g. "1", "B", "A", "C", "G", "F", "I"
    meaning: str  # e.g. "Active Coverage", "Co-Payment"
    coverage_level: str = ""  # EB02, e.g. "IND", "FAM"
    service_types: tuple[str, ...] = ()  # EB03, split on the repetition separator
    insurance_type: str = ""  # EB04, e.g. "HM", "PR", "MC"
    plan_description: str = ""  # EB05
    time_period: str = ""  # EB06, e.g. "23" calendar year, "29" remaining, "27" visit
    amount: Decimal | None = None  # EB07
    percent: Decimal | None = None  # EB08 as sent: a fraction, 0.2 means 20 %
    quantity_qualifier: str = ""  # EB09, e.g. "VS" visits, "DY" days
    quantity: Decimal | None = None  # EB10
    authorization_required: bool | None = None  # EB11: Y / N; None for U or absent
    in_network: bool | None = None  # EB12: Y / N; None for W (not applicable), U or absent
    procedure: str = ""  # EB13 composite as sent, e.g. "HC:90837"
    messages: tuple[str, ...] = ()  # MSG01 of the MSG segments after this EB
    dates: tuple[DatePeriod, ...] = ()  # DTP after this EB
    references: tuple[tuple[str, str], ...] = ()  # REF01, REF02 after this EB
    related_entities: tuple[Party, ...] = ()  # NM1 of loop 2120C/2120D (inside LS/LE)
    rejections: tuple[Rejection, ...] = ()  # AAA inside this 2110 loop
    # III01, III02 of loop 2115C/D, e.g. ("ZZ", "11"): the place of service (office) this benefit is for
    additional_information: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Member:
    """A subscriber (2000C) or dependent (2000D) with its name loop and benefits."""

    level: Literal["subscriber", "dependent"]
    name: Party | None
    birth_date: date | None = None  # DMG02 with DMG01 == "D8"
    gender: str = ""  # DMG03
    relationship_code: str = ""  # INS02 for a dependent, e.g. "19" child, "01" spouse
    group_number: str = ""  # REF*6P
    plan_number: str = ""  # REF*18
    references: tuple[tuple[str, str], ...] = ()  # every REF of the 2100 loop
    traces: tuple[str, ...] = ()  # TRN02
    dates: tuple[DatePeriod, ...] = ()  # DTP of the 2100 loop (plan, eligibility)
    rejections: tuple[Rejection, ...] = ()  # AAA of 2000C/2100C (or D)
    benefits: tuple[Benefit, ...] = ()

    @property
    def member_id(self) -> str:
        return self.name.identifier if self.name else ""


@dataclass(frozen=True)
class InformationSource:
    """A 2000A payer with its receivers (2000B) and, under them, their members."""

    payer: Party | None
    rejections: tuple[Rejection, ...] = ()  # AAA of 2000A/2100A
    receiver: Party | None = None  # 2100B, usually the provider
    receiver_rejections: tuple[Rejection, ...] = ()  # AAA of 2100B
    members: tuple[Member, ...] = ()  # 2000C, and 2000D after the 2000C they belong to


@dataclass(frozen=True)
class Delimiters:
    element: str
    repetition: str  # ISA11; "" when the sender used "U" (4010 style)
    component: str  # ISA16
    segment: str  # segment terminator, without the line break that may follow


@dataclass(frozen=True)
class EligibilityResponse:
    """A parsed 271. `errors` empty means it can be trusted; `warnings` never stop a parse."""

    transaction_set: str = ""  # ST01, "271" when all is well
    version: str = ""  # GS08 / ST03, e.g. "005010X279A1"
    interchange_control_number: str = ""  # ISA13
    group_control_number: str = ""  # GS06
    transaction_control_number: str = ""  # ST02
    reference: str = ""  # BHT03, the submitter's transaction reference
    created: str = ""  # BHT04 + BHT05 as sent
    delimiters: Delimiters | None = None
    sources: tuple[InformationSource, ...] = ()
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        """Every AAA in the file, outermost loop first."""
        found: list[Rejection] = []
        for source in self.sources:
            found += source.rejections
            found += source.receiver_rejections
            for member in source.members:
                found += member.rejections
                for benefit in member.benefits:
                    found += benefit.rejections
        return tuple(found)

    @property
    def members(self) -> tuple[Member, ...]:
        return tuple(member for source in self.sources for member in source.members)

    @property
    def patient(self) -> Member | None:
        """The member the benefits are for: the first dependent if there is one (the patient is
        the dependent when the 271 has a 2000D), else the first subscriber."""
        members = self.members
        for member in members:
            if member.level == "dependent":
                return member
        return members[0] if members else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, decimals as strings."""
        return _jsonable(dataclasses.asdict(self)) | {"ok": self.ok}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class InquiryPerson:
    last_name: str
    first_name: str
    birth_date: date | None = None
    gender: str = ""  # "M", "F", "U"
    member_id: str = ""  # subscriber only: NM109 with NM108 "MI"
    middle_name: str = ""
    group_number: str = ""  # REF*6P, subscriber only
    relationship_code: str = ""  # dependent only: INS02 is not sent in 5010 270s; kept for our records


@dataclass(frozen=True)
class InquiryEnvelope:
    sender_id: str  # ISA06 / GS02
    receiver_id: str  # ISA08 / GS03
    interchange_control_number: int  # ISA13, 1..999999999
    group_control_number: int  # GS06
    usage: Literal["P", "T"] = "P"  # ISA15: production or test
    sender_qualifier: str = "ZZ"  # ISA05
    receiver_qualifier: str = "ZZ"  # ISA07


@dataclass(frozen=True)
class EligibilityInquiry:
    """What a 270 asks: one subscriber (and optionally one dependent, who is then the patient)."""

    envelope: InquiryEnvelope
    payer_name: str
    payer_id: str  # NM109 with NM108 "PI"
    provider_name: str  # organisation name
    provider_npi: str  # NM109 with NM108 "XX"
    subscriber: InquiryPerson
    trace_number: str  # TRN02, echoed back in the 271
    trace_originator: str  # TRN03: "1" + EIN or our own 10-character id
    service_types: tuple[str, ...] = ("30", "AI", "AJ", "AK", "MH")
    dependent: InquiryPerson | None = None
    service_date: date | None = None  # DTP*291
    transaction_control_number: str = "0001"  # ST02
    reference: str = ""  # BHT03; defaults to the trace number
    created_at: tuple[date, str] | None = None  # BHT04/BHT05 and ISA09/ISA10; (date, "HHMM")
    delimiters: Delimiters = field(default_factory=lambda: Delimiters("*", "^", ":", "~"))
