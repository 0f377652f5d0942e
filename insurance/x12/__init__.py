"""X12 005010X279A1 eligibility (270 out, 271 in): pure functions and plain data, no Django.

`parse_271` reads a payer's response leniently and never raises; `build_270` writes an inquiry.
The data types are the contract with the insurance services (`model`), the code tables with their
meanings are in `codes`.
"""

from insurance.x12.build import build_270
from insurance.x12.model import (
    Benefit,
    DatePeriod,
    Delimiters,
    EligibilityInquiry,
    EligibilityResponse,
    InformationSource,
    InquiryEnvelope,
    InquiryPerson,
    Issue,
    Member,
    Party,
    Rejection,
)
from insurance.x12.parse import parse_271

__all__ = [
    "Benefit",
    "DatePeriod",
    "Delimiters",
    "EligibilityInquiry",
    "EligibilityResponse",
    "InformationSource",
    "InquiryEnvelope",
    "InquiryPerson",
    "Issue",
    "Member",
    "Party",
    "Rejection",
    "build_270",
    "parse_271",
]
