"""`manage.py eligibility_parse FILE [--json]`: read a 271 the way the services will, and say what it holds.

For billing staff and developers holding a payer's file: the same `parse_271` the eligibility check
uses, so what this prints is what the clinic will have recorded. No database is touched.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from insurance.x12 import codes, parse_271
from insurance.x12.model import Benefit, DatePeriod, EligibilityResponse, Issue, Member, Party, Rejection


class Command(BaseCommand):
    help = "Parse an X12 271 eligibility response and print what it holds (FILE '-' reads standard input)."
    # Tests hand in a byte stream; a person runs the command with the real standard input.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The 271 file, or '-' for standard input.")
        parser.add_argument("--json", action="store_true", help="Print the parse as JSON (to_dict()).")

    def handle(self, *args: Any, **options: Any) -> None:
        data = self._read(options["file"], options.get("stdin"))
        response = parse_271(data)
        if options["json"]:
            self.stdout.write(json.dumps(response.to_dict(), indent=2))
        else:
            self.stdout.write("\n".join(summary(response)))
        if response.errors:
            raise CommandError("; ".join(f"[{issue.code}] {issue.message}" for issue in response.errors))

    def _read(self, name: str, stdin: BinaryIO | None) -> bytes:
        if name == "-":
            stream: Any = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read()
            return data.encode() if isinstance(data, str) else bytes(data)
        try:
            return Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror or exc}.") from exc


def summary(response: EligibilityResponse) -> list[str]:
    lines = [
        f"Transaction set {response.transaction_set or '?'} ({response.version or 'no version'}); "
        f"interchange {response.interchange_control_number or '?'}, group {response.group_control_number or '?'}, "
        f"transaction {response.transaction_control_number or '?'}",
        f"Reference {response.reference or '-'}, created {response.created or '-'}",
    ]
    if response.delimiters is not None:
        d = response.delimiters
        lines.append(
            f"Delimiters: element {d.element!r}, repetition {d.repetition!r}, component {d.component!r}, "
            f"segment {d.segment!r}"
        )
    for source in response.sources:
        lines += ["", f"Payer: {_party(source.payer)}"]
        lines += [f"  Rejected: {_rejection(rejection)}" for rejection in source.rejections]
        lines.append(f"Receiver: {_party(source.receiver)}")
        lines += [f"  Rejected: {_rejection(rejection)}" for rejection in source.receiver_rejections]
        for member in source.members:
            lines += _member(member)
    lines += ["", f"Result: {'OK' if response.ok else 'NOT USABLE (errors below)'}"]
    lines += _issues("Warnings", response.warnings) + _issues("Errors", response.errors)
    return lines


def _party(party: Party | None) -> str:
    if party is None:
        return "(none)"
    name = ", ".join(part for part in (party.last_name, party.first_name, party.middle_name) if part)
    ident = f", {party.id_qualifier} {party.identifier}" if party.identifier else ""
    return f"{name or '(no name)'} [{party.entity_code} {party.entity}]{ident}"


def _rejection(rejection: Rejection) -> str:
    valid = {True: "valid request", False: "invalid request", None: "validity not given"}[rejection.valid_request]
    return (
        f"loop {rejection.loop}: {rejection.reason_code} {rejection.reason}; "
        f"follow-up {rejection.follow_up_code or '-'} {rejection.follow_up}; {valid}"
    )


def _date(period: DatePeriod) -> str:
    if period.start is None:
        when = f"{period.raw!r} (unreadable)"
    elif period.end is None or period.end == period.start:
        when = period.start.isoformat()
    else:
        when = f"{period.start.isoformat()} to {period.end.isoformat()}"
    return f"{period.meaning} ({period.qualifier}): {when}"


def _member(member: Member) -> list[str]:
    born = f", born {member.birth_date.isoformat()}" if member.birth_date else ""
    lines = [
        f"  {member.level.capitalize()}: {_party(member.name)}{born}{', ' + member.gender if member.gender else ''}"
    ]
    if member.relationship_code:
        lines.append(f"    Relationship (INS02): {member.relationship_code}")
    lines += [f"    Trace: {trace}" for trace in member.traces]
    lines += [f"    REF {kind}: {value}" for kind, value in member.references]
    lines += [f"    {_date(period)}" for period in member.dates]
    lines += [f"    Rejected: {_rejection(rejection)}" for rejection in member.rejections]
    if member.benefits:
        lines.append("    Benefits:")
    for benefit in member.benefits:
        lines += _benefit(benefit)
    return lines


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _benefit(benefit: Benefit) -> list[str]:
    parts = [f"{benefit.code} {benefit.meaning}"]
    if benefit.coverage_level:
        parts.append(codes.coverage_level(benefit.coverage_level))
    if benefit.service_types:
        parts.append(", ".join(f"{code} {codes.service_type(code)}" for code in benefit.service_types))
    if benefit.insurance_type:
        parts.append(codes.insurance_type(benefit.insurance_type))
    if benefit.plan_description:
        parts.append(benefit.plan_description)
    if benefit.amount is not None:
        parts.append(_money(benefit.amount))
    if benefit.percent is not None:
        parts.append(f"{benefit.percent * 100:g} %")
    if benefit.quantity is not None:
        parts.append(f"{benefit.quantity:g} {codes.quantity_qualifier(benefit.quantity_qualifier)}")
    if benefit.time_period:
        parts.append(f"per {codes.time_period(benefit.time_period)}")
    if benefit.authorization_required is not None:
        parts.append("authorization required" if benefit.authorization_required else "no authorization required")
    if benefit.in_network is not None:
        parts.append("in network" if benefit.in_network else "out of network")
    if benefit.procedure:
        parts.append(f"procedure {benefit.procedure}")
    lines = ["      - " + " | ".join(parts)]
    lines += [f"          Message: {message}" for message in benefit.messages]
    lines += [f"          {_date(period)}" for period in benefit.dates]
    lines += [f"          REF {kind}: {value}" for kind, value in benefit.references]
    lines += [f"          III {qualifier}: {code}" for qualifier, code in benefit.additional_information]
    lines += [f"          Entity: {_party(party)}" for party in benefit.related_entities]
    lines += [f"          Rejected: {_rejection(rejection)}" for rejection in benefit.rejections]
    return lines


def _issues(title: str, issues: tuple[Issue, ...]) -> list[str]:
    if not issues:
        return [f"{title}: none"]
    return [f"{title}:"] + [
        f"  - [{issue.code}] {issue.message}" + (f" (segment {issue.segment})" if issue.segment else "")
        for issue in issues
    ]
