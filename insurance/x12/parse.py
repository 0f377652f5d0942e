"""`parse_271`: an X12 005010X279A1 eligibility response into an `EligibilityResponse`.

Leniency rules (what is forgiven, what is not):
- Delimiters come from the ISA by position (element at 3, ISA11 repetition, ISA16 component, the
  terminator after it), whatever characters they are, non-printing ones included. An ISA that is not
  106 characters wide is read element by element, with a warning.
- A byte-order mark, CRLF/LF/CR, blanks or indentation between segments, and data after the IEA are
  read past (the last one with a warning).
- Wrong counts (SE01, GE01, IEA01) and control numbers that disagree (ST02/SE02, GS06/GE02,
  ISA13/IEA02) are warnings: the answer inside is still the payer's answer.
- A missing SE, GE or IEA is an error ("truncated"): the result is not `ok`. A transaction set
  whose SE is missing gives no sources at all, because a benefit list cut short (an exclusion or an
  "inactive" lost past the cut) must not pass for the payer's answer; its header fields stay for
  diagnosis. A set that is whole inside a cut group or interchange keeps its sources.
- No ISA is "not_x12"; a file whose transaction sets are not 271s (a 270, an 835) is
  "wrong_transaction", with no sources.
- Several 271 transaction sets (a batch reply) are all read, in order, into `sources`; the header
  fields (ST02, BHT) are the first one's, and a "multiple_transactions" warning says so. Other
  transaction sets in the same file are skipped with a warning.
- Bad numbers and dates are warnings (the value is None, a date's raw text is kept); unknown codes
  read as "Unknown code 'ZZ'". Nothing raises: an unexpected exception becomes an "internal" error.
"""

from __future__ import annotations

import logging

from insurance.x12.envelope import TRANSACTION_NAMES, Interchange, Transaction, split_envelopes
from insurance.x12.loops import LoopReader
from insurance.x12.model import Delimiters, EligibilityResponse, InformationSource, Issue
from insurance.x12.segments import Report, tokenize

logger = logging.getLogger(__name__)

VERSION = "005010X279A1"


def parse_271(data: bytes | str) -> EligibilityResponse:
    """Never raises: whatever `data` is, the answer is a response whose `errors` say what went wrong."""
    try:
        return _parse(data)
    except Exception as exc:
        # A parser bug must not lose an uploaded file or fail a request. Only the exception's type
        # goes to the log: its message may quote patient data from the file.
        logger.error("parse_271 failed with %s", type(exc).__name__)
        return EligibilityResponse(
            errors=(
                Issue(
                    "error",
                    "internal",
                    f"The file could not be read ({type(exc).__name__}: {exc}). This is a fault in the "
                    "parser, not in the file alone; keep the file for the developers.",
                ),
            )
        )


def _describe(kind: str) -> str:
    return TRANSACTION_NAMES.get(kind, f"a {kind or 'blank'!s} transaction set")


def _parse(data: bytes | str) -> EligibilityResponse:
    report = Report()
    tokens = tokenize(data, report)
    if tokens is None:
        return _result(report)
    interchange = split_envelopes(tokens.segments, report)
    transactions = interchange.transactions
    if not transactions:
        report.error("no_transaction", "The interchange holds no transaction set.")
        return _result(report, tokens.delimiters, interchange)
    responses = [transaction for transaction in transactions if transaction.kind == "271"]
    if not responses:
        kinds = sorted({_describe(transaction.kind) for transaction in transactions})
        report.error(
            "wrong_transaction",
            f"This file is {' and '.join(kinds)}, not an eligibility response (271).",
            transactions[0].st.position,
        )
        return _result(report, tokens.delimiters, interchange, transactions[0])
    for transaction in transactions:
        if transaction.kind != "271":
            report.warn(
                "skipped_transaction",
                f"Transaction set {transaction.st.get(2)!r} is {_describe(transaction.kind)}; it was skipped.",
                transaction.st.position,
            )
    if len(responses) > 1:
        report.warn(
            "multiple_transactions",
            f"The file holds {len(responses)} 271 transaction sets: all are read into the sources, in order; "
            "the control number and BHT shown are the first one's.",
        )
    sources: list[InformationSource] = []
    for transaction in responses:
        version = transaction.st.get(3)
        if version and not version.startswith("005010X279"):
            report.warn("version", f"ST03 {version!r} is not {VERSION}; read as if it were.", transaction.st.position)
        body = transaction.body
        if not body or body[0].tag != "BHT":
            report.warn("missing_bht", "The transaction set does not begin with BHT.", transaction.st.position)
        if transaction.se is None:
            continue  # truncated: reported as an error by split_envelopes; no sources from it
        sources += LoopReader(tokens.delimiters, report).read(body)
    return _result(report, tokens.delimiters, interchange, responses[0], tuple(sources))


def _result(
    report: Report,
    delimiters: Delimiters | None = None,
    interchange: Interchange | None = None,
    transaction: Transaction | None = None,
    sources: tuple[InformationSource, ...] = (),
) -> EligibilityResponse:
    gs = next((group.gs for group in interchange.groups if group.gs is not None), None) if interchange else None
    bht = next((segment for segment in transaction.body if segment.tag == "BHT"), None) if transaction else None
    version = (transaction.st.get(3) if transaction else "") or (gs.get(8) if gs else "")
    created = " ".join(part for part in (bht.get(4), bht.get(5)) if part) if bht else ""
    return EligibilityResponse(
        transaction_set=transaction.kind if transaction else "",
        version=version,
        interchange_control_number=interchange.isa.get(13) if interchange else "",
        group_control_number=gs.get(6) if gs else "",
        transaction_control_number=transaction.st.get(2) if transaction else "",
        reference=bht.get(3) if bht else "",
        created=created,
        delimiters=delimiters,
        sources=sources,
        errors=tuple(report.errors),
        warnings=tuple(report.warnings),
    )
