"""The loops of one 271 transaction set, walked by its HL tree.

Where a segment belongs is decided by HL01/HL02/HL03 (20 information source, 21 receiver,
22 subscriber, 23 dependent), never by position: a dependent goes under the subscriber its HL02
names, and an AAA goes to the loop it sits in (2000A/2100A, 2100B, 2000C/2100C/2110C and the D
loops), which is what says whether the payer rejected the provider, the member or one benefit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from insurance.x12 import codes
from insurance.x12.model import Benefit, DatePeriod, Delimiters, InformationSource, Member, Party, Rejection
from insurance.x12.segments import Report, Segment, components
from insurance.x12.values import birth_date, decimal, period, yes_no

Level = Literal["A", "B", "C", "D"]
_LEVELS: dict[str, Level] = {"20": "A", "21": "B", "22": "C", "23": "D"}

# Segments of the 271 that the model does not keep; reading past them quietly is correct.
_NOT_KEPT = frozenset({"BHT", "N3", "N4", "PER", "PRV", "HSD", "MPI", "HI"})

_SERVICE_TYPE = re.compile(r"[A-Z0-9]{1,2}")


@dataclass
class _BenefitDraft:
    benefit: Benefit
    messages: list[str] = field(default_factory=list)
    dates: list[DatePeriod] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)
    entities: list[Party] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    additional: list[tuple[str, str]] = field(default_factory=list)

    def build(self) -> Benefit:
        return dataclasses.replace(
            self.benefit,
            messages=tuple(self.messages),
            dates=tuple(self.dates),
            references=tuple(self.references),
            related_entities=tuple(self.entities),
            rejections=tuple(self.rejections),
            additional_information=tuple(self.additional),
        )


@dataclass
class _MemberDraft:
    level: Literal["subscriber", "dependent"]
    parent: _MemberDraft | None = None  # a dependent's subscriber
    name: Party | None = None
    birth_date: date | None = None
    gender: str = ""
    relationship_code: str = ""
    references: list[tuple[str, str]] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    dates: list[DatePeriod] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    benefits: list[_BenefitDraft] = field(default_factory=list)

    def build(self) -> Member:
        # The first REF of a kind wins, as a person reading the file would take it.
        return Member(
            level=self.level,
            name=self.name,
            birth_date=self.birth_date,
            gender=self.gender,
            relationship_code=self.relationship_code,
            group_number=next((value for kind, value in self.references if kind == "6P"), ""),
            plan_number=next((value for kind, value in self.references if kind == "18"), ""),
            references=tuple(self.references),
            traces=tuple(self.traces),
            dates=tuple(self.dates),
            rejections=tuple(self.rejections),
            benefits=tuple(benefit.build() for benefit in self.benefits),
        )


@dataclass
class _SourceDraft:
    payer: Party | None = None
    rejections: list[Rejection] = field(default_factory=list)
    has_receiver_level: bool = False
    receiver: Party | None = None
    receiver_rejections: list[Rejection] = field(default_factory=list)
    members: list[_MemberDraft] = field(default_factory=list)

    def build(self) -> InformationSource:
        return InformationSource(
            payer=self.payer,
            rejections=tuple(self.rejections),
            receiver=self.receiver,
            receiver_rejections=tuple(self.receiver_rejections),
            members=tuple(member.build() for member in self.members),
        )


@dataclass
class _Node:
    level: Level
    source: _SourceDraft
    member: _MemberDraft | None


class LoopReader:
    """Reads the body of one 271 (the segments between BHT and SE) into information sources."""

    def __init__(self, delimiters: Delimiters, report: Report) -> None:
        self.delimiters = delimiters
        self.report = report
        self.sources: list[_SourceDraft] = []
        self.nodes: dict[str, _Node] = {}
        self.level: Level | None = None
        self.source: _SourceDraft | None = None
        self.member: _MemberDraft | None = None
        self.benefit: _BenefitDraft | None = None
        self.named = False  # an NM1 has opened the 2100 loop of the current HL
        self.in_ls = False  # between LS and LE: loop 2120
        self.last_subscriber: _Node | None = None
        self.handlers: dict[str, Callable[[Segment], None]] = {
            "HL": self._hl,
            "NM1": self._nm1,
            "AAA": self._aaa,
            "EB": self._eb,
            "MSG": self._msg,
            "III": self._iii,
            "LS": self._ls,
            "LE": self._le,
            "DTP": self._dtp,
            "REF": self._ref,
            "TRN": self._trn,
            "DMG": self._dmg,
            "INS": self._ins,
        }

    def read(self, body: list[Segment]) -> list[InformationSource]:
        for segment in body:
            handler = self.handlers.get(segment.tag)
            if handler is not None:
                handler(segment)
            elif segment.tag not in _NOT_KEPT:
                self.report.warn("unexpected_segment", f"A {segment.tag} segment was ignored.", segment.position)
        return [source.build() for source in self.sources]

    # --- the HL tree ------------------------------------------------------------------------------

    def _hl(self, segment: Segment) -> None:
        hl_id, parent, code = segment.get(1), segment.get(2), segment.get(3)
        self.benefit, self.in_ls, self.named = None, False, False
        if hl_id in self.nodes:
            self.report.warn("hl_duplicate", f"HL01 {hl_id!r} is used twice.", segment.position)
        level = _LEVELS.get(code)
        if level is None:
            self.report.warn(
                "hl_level", f"HL03 {code!r} is not a 271 level; its segments were ignored.", segment.position
            )
            self.level, self.source, self.member = None, None, None
            return
        member: _MemberDraft | None = None
        if level == "A":
            if parent:
                self.report.warn("hl_parent", f"The information source HL {hl_id!r} has a parent.", segment.position)
            source = _SourceDraft()
            self.sources.append(source)
        elif level == "B":
            source = self._parent_source(segment, {"A"})
            if source.has_receiver_level:
                # The model has one receiver per source: a second 2000B under the same payer
                # becomes a source of its own with the same payer, so its members stay its own.
                source = _SourceDraft(payer=source.payer)
                self.sources.append(source)
            source.has_receiver_level = True
        elif level == "C":
            source = self._parent_source(segment, {"B"})
            member = _MemberDraft("subscriber")
            source.members.append(member)
        else:
            source, member = self._add_dependent(segment)
        node = _Node(level, source, member)
        self.nodes[hl_id] = node
        if level == "C":
            self.last_subscriber = node
        self.level, self.source, self.member = level, source, member

    def _parent_source(self, segment: Segment, expected: set[Level]) -> _SourceDraft:
        parent = self.nodes.get(segment.get(2))
        if parent is not None and parent.level in expected:
            return parent.source
        self.report.warn(
            "hl_parent",
            f"HL {segment.get(1)!r} (HL03 {segment.get(3)!r}) names parent {segment.get(2)!r}, which is not "
            "the level above it; it was attached to the nearest one.",
            segment.position,
        )
        if parent is not None:
            return parent.source
        if not self.sources:
            self.sources.append(_SourceDraft())
        return self.sources[-1]

    def _add_dependent(self, segment: Segment) -> tuple[_SourceDraft, _MemberDraft]:
        parent = self.nodes.get(segment.get(2))
        if parent is None or parent.level != "C":
            self.report.warn(
                "hl_parent",
                f"Dependent HL {segment.get(1)!r} names parent {segment.get(2)!r}, which is not a subscriber; "
                "it was attached to the subscriber before it.",
                segment.position,
            )
            parent = self.last_subscriber
        if parent is None or parent.member is None:
            source = self._parent_source(segment, {"C"})
            dependent = _MemberDraft("dependent")
            source.members.append(dependent)
            return source, dependent
        subscriber = parent.member
        dependent = _MemberDraft("dependent", parent=subscriber)
        members = parent.source.members
        # After the subscriber and the dependents already under it, whatever the HL order was.
        at = members.index(subscriber) + 1
        while at < len(members) and members[at].parent is subscriber:
            at += 1
        members.insert(at, dependent)
        return parent.source, dependent

    def _loop(self) -> str:
        number = "2110" if self.benefit is not None else "2100" if self.named else "2000"
        return f"{number}{self.level}"

    # --- segments ---------------------------------------------------------------------------------

    def _party(self, segment: Segment) -> Party:
        code = segment.get(1)
        return Party(
            entity_code=code,
            entity=codes.entity(code),
            is_person=segment.get(2) == "1",
            last_name=segment.get(3),
            first_name=segment.get(4),
            middle_name=segment.get(5),
            suffix=segment.get(7),
            id_qualifier=segment.get(8),
            identifier=segment.get(9),
        )

    def _nm1(self, segment: Segment) -> None:
        party = self._party(segment)
        if self.benefit is not None:
            if not self.in_ls:
                self.report.warn(
                    "missing_ls",
                    "An NM1 follows an EB without LS*2120; it was read as the benefit's related entity.",
                    segment.position,
                )
            self.benefit.entities.append(party)
            return
        if self.source is None:
            self.report.warn("stray_segment", "An NM1 outside any HL level was ignored.", segment.position)
            return
        if self.named:
            self.report.warn(
                "repeated_name", f"A second NM1 in loop {self._loop()} replaced the first.", segment.position
            )
        if self.level == "A":
            self.source.payer = party
        elif self.level == "B":
            self.source.receiver = party
        elif self.member is not None:
            self.member.name = party
        self.named = True

    def _aaa(self, segment: Segment) -> None:
        reason, follow_up = segment.get(3), segment.get(4)
        rejection = Rejection(
            loop=self._loop() if self.level else "",
            valid_request=yes_no(segment.get(1)),
            reason_code=reason,
            reason=codes.reject_reason(reason),
            follow_up_code=follow_up,
            follow_up=codes.follow_up_action(follow_up),
        )
        if self.benefit is not None:
            self.benefit.rejections.append(rejection)
        elif self.member is not None:
            self.member.rejections.append(rejection)
        elif self.source is not None and self.level == "A":
            self.source.rejections.append(rejection)
        elif self.source is not None and self.level == "B":
            self.source.receiver_rejections.append(rejection)
        else:
            self.report.warn("stray_segment", "An AAA outside any HL level was ignored.", segment.position)

    def _eb(self, segment: Segment) -> None:
        if self.member is None:
            self.report.warn(
                "stray_segment", "An EB outside a subscriber or dependent loop was ignored.", segment.position
            )
            return
        if self.in_ls:
            self.report.warn("missing_le", "An LS*2120 was not closed by LE before the next EB.", segment.position)
        self.in_ls = False
        code = segment.get(1)
        if not code:
            self.report.warn("missing_code", "An EB has no EB01 code.", segment.position)
        percent = decimal(segment.get(8), "EB08 percent", segment, self.report)
        if percent is not None and percent > 1:
            self.report.warn(
                "percent_scale",
                f"EB08 {segment.get(8)!r} is above 1: the TR3 sends a fraction (0.2 for 20 %); kept as sent.",
                segment.position,
            )
        benefit = Benefit(
            code=code,
            meaning=codes.eligibility(code),
            coverage_level=segment.get(2),
            service_types=self._service_types(segment),
            insurance_type=segment.get(4),
            plan_description=segment.get(5),
            time_period=segment.get(6),
            amount=decimal(segment.get(7), "EB07 amount", segment, self.report),
            percent=percent,
            quantity_qualifier=segment.get(9),
            quantity=decimal(segment.get(10), "EB10 quantity", segment, self.report),
            authorization_required=yes_no(segment.get(11)),
            in_network=yes_no(segment.get(12)),
            # Components joined by ":" whatever ISA16 was, so the parse does not depend on it.
            procedure=":".join(components(segment.get(13), self.delimiters)),
        )
        self.benefit = _BenefitDraft(benefit)
        self.member.benefits.append(self.benefit)

    def _service_types(self, segment: Segment) -> tuple[str, ...]:
        repetition = self.delimiters.repetition
        value = segment.get(3)
        if repetition and repetition in value:
            parts = value.split(repetition)
        elif "^" in value and "^" not in {self.delimiters.element, self.delimiters.component, self.delimiters.segment}:
            parts = value.split("^")
            # "^" is the usual repetition separator; a file whose ISA11 says otherwise but whose
            # EB03 holds codes joined by "^" means a list. Only when every piece is a code.
            if all(_SERVICE_TYPE.fullmatch(part) for part in parts):
                self.report.warn(
                    "repetition_separator",
                    f"EB03 {value!r} is split on '^' although ISA11 is {repetition or 'U'!r}.",
                    segment.position,
                )
            else:
                parts = [value]
        else:
            parts = [value]
        return tuple(part for part in parts if part)

    def _msg(self, segment: Segment) -> None:
        if self.benefit is None:
            self.report.warn("stray_segment", "An MSG outside a benefit (2110) loop was ignored.", segment.position)
        else:
            self.benefit.messages.append(segment.get(1))

    def _iii(self, segment: Segment) -> None:
        if self.benefit is None:
            self.report.warn("stray_segment", "An III outside a benefit (2110) loop was ignored.", segment.position)
        else:
            self.benefit.additional.append((segment.get(1), segment.get(2)))

    def _ls(self, segment: Segment) -> None:
        if self.benefit is None:
            self.report.warn("stray_segment", "An LS outside a benefit (2110) loop was ignored.", segment.position)
        else:
            self.in_ls = True

    def _le(self, segment: Segment) -> None:
        if not self.in_ls:
            self.report.warn("stray_segment", "An LE without LS before it was ignored.", segment.position)
        self.in_ls = False

    def _dtp(self, segment: Segment) -> None:
        if self.benefit is not None:
            self.benefit.dates.append(period(segment, self.report))
        elif self.member is not None:
            self.member.dates.append(period(segment, self.report))
        # A DTP at the source or receiver level is not in the 271; nothing in the model holds it.

    def _ref(self, segment: Segment) -> None:
        reference = (segment.get(1), segment.get(2))
        if self.benefit is not None:
            if not self.in_ls:
                self.benefit.references.append(reference)
        elif self.member is not None:
            self.member.references.append(reference)

    def _trn(self, segment: Segment) -> None:
        if self.member is None or self.benefit is not None:
            self.report.warn("stray_segment", "A TRN outside a subscriber or dependent level.", segment.position)
        else:
            self.member.traces.append(segment.get(2))

    def _dmg(self, segment: Segment) -> None:
        if self.member is not None and self.benefit is None:
            self.member.birth_date = birth_date(segment, self.report)
            self.member.gender = segment.get(3)

    def _ins(self, segment: Segment) -> None:
        if self.member is not None and self.benefit is None:
            self.member.relationship_code = segment.get(2)
