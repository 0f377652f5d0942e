"""The envelopes of an interchange: ISA/IEA around GS/GE groups around ST/SE transaction sets.

Control numbers and counts that disagree are warnings: payers get them wrong (the TR3's own 3.1.3
example has SE02 != ST02) and the answer inside is still the answer. A missing trailer is an error,
because it means the file was cut and what follows the cut is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from insurance.x12.segments import Report, Segment

# ST01 values a clinic may be handed instead of a 271, named in the wrong_transaction error.
TRANSACTION_NAMES = {
    "270": "an eligibility inquiry (270)",
    "271": "an eligibility response (271)",
    "276": "a claim status inquiry (276)",
    "277": "a claim status response (277)",
    "278": "a prior authorization (278)",
    "820": "a premium payment (820)",
    "834": "an enrolment file (834)",
    "835": "a remittance advice (835)",
    "837": "a claim (837)",
    "997": "a functional acknowledgment (997)",
    "999": "an implementation acknowledgment (999)",
}


@dataclass
class Transaction:
    st: Segment
    body: list[Segment] = field(default_factory=list)  # between ST and SE
    se: Segment | None = None

    @property
    def kind(self) -> str:
        return self.st.get(1)


@dataclass
class Group:
    gs: Segment | None  # None when an ST came with no GS before it
    transactions: list[Transaction] = field(default_factory=list)
    ge: Segment | None = None


@dataclass
class Interchange:
    isa: Segment
    groups: list[Group] = field(default_factory=list)
    iea: Segment | None = None

    @property
    def transactions(self) -> list[Transaction]:
        return [transaction for group in self.groups for transaction in group.transactions]


def split_envelopes(segments: tuple[Segment, ...], report: Report) -> Interchange:
    """Group the segments; report a trailer that is missing as `truncated` (an error)."""
    interchange = Interchange(isa=segments[0])
    group: Group | None = None
    transaction: Transaction | None = None
    for segment in segments[1:]:
        tag = segment.tag
        if tag in {"GS", "GE", "IEA"}:
            # An open transaction set ends here without its SE; _check_complete reports it.
            transaction = None
        if tag == "GS":
            group = Group(segment)
            interchange.groups.append(group)
        elif tag == "ST":
            if group is None:
                report.warn("missing_gs", "A transaction set starts without a GS group header.", segment.position)
                group = Group(None)
                interchange.groups.append(group)
            transaction = Transaction(segment)
            group.transactions.append(transaction)
        elif tag == "SE":
            if transaction is None:
                report.warn("stray_segment", "An SE trailer with no ST before it was ignored.", segment.position)
            else:
                transaction.se = segment
                transaction = None
        elif tag == "GE":
            if group is None:
                report.warn("stray_segment", "A GE trailer with no GS before it was ignored.", segment.position)
            else:
                group.ge = segment
                group = None
        elif tag == "IEA":
            interchange.iea = segment
            break
        elif tag == "ISA":
            report.warn("stray_segment", "A second ISA header inside the interchange was ignored.", segment.position)
        elif transaction is not None:
            transaction.body.append(segment)
        else:
            report.warn("stray_segment", f"A {tag} segment outside any transaction set was ignored.", segment.position)
    _check_complete(interchange, report)
    _check_counts(interchange, report)
    return interchange


def _check_complete(interchange: Interchange, report: Report) -> None:
    for transaction in interchange.transactions:
        if transaction.se is None:
            report.error(
                "truncated",
                f"Transaction set {transaction.st.get(2)!r} has no SE trailer: the file was cut short, "
                "and its benefits are left out rather than shown incomplete.",
                transaction.st.position,
            )
    for group in interchange.groups:
        if group.gs is not None and group.ge is None:
            report.error(
                "truncated", "A functional group has no GE trailer: the file was cut short.", group.gs.position
            )
    if interchange.iea is None:
        report.error("truncated", "The interchange has no IEA trailer: the file was cut short.")


def _count_mismatch(expected: str, actual: int) -> bool:
    return not expected.isdigit() or int(expected) != actual


def _check_counts(interchange: Interchange, report: Report) -> None:
    for transaction in interchange.transactions:
        st, se = transaction.st, transaction.se
        if se is None:
            continue
        actual = len(transaction.body) + 2  # SE01 counts the ST and the SE themselves
        if _count_mismatch(se.get(1), actual):
            report.warn(
                "segment_count",
                f"SE01 says {se.get(1)!r} segments but the transaction set has {actual}.",
                se.position,
            )
        if se.get(2) != st.get(2):
            report.warn(
                "control_number",
                f"SE02 {se.get(2)!r} does not match ST02 {st.get(2)!r}.",
                se.position,
            )
    for group in interchange.groups:
        gs, ge = group.gs, group.ge
        if gs is None or ge is None:
            continue
        if _count_mismatch(ge.get(1), len(group.transactions)):
            report.warn(
                "transaction_count",
                f"GE01 says {ge.get(1)!r} transaction sets but the group has {len(group.transactions)}.",
                ge.position,
            )
        if ge.get(2) != gs.get(6):
            report.warn("control_number", f"GE02 {ge.get(2)!r} does not match GS06 {gs.get(6)!r}.", ge.position)
    iea = interchange.iea
    if iea is not None:
        groups = sum(1 for group in interchange.groups if group.gs is not None)
        if _count_mismatch(iea.get(1), groups):
            report.warn(
                "group_count",
                f"IEA01 says {iea.get(1)!r} functional groups but the interchange has {groups}.",
                iea.position,
            )
        if iea.get(2) != interchange.isa.get(13):
            report.warn(
                "control_number",
                f"IEA02 {iea.get(2)!r} does not match ISA13 {interchange.isa.get(13)!r}.",
                iea.position,
            )
