"""Reading an X12 interchange into segments: decoding, delimiters from the ISA, splitting.

Real payer files are messier than the TR3 examples (../shared/x12-samples/SOURCES.md): byte-order
marks, CRLF or indentation between segments, delimiters of any kind including non-printing ones,
junk after the IEA. Everything here is lenient and reports what it forgave as a warning; only input
it cannot read at all (no ISA, unusable delimiters) is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from insurance.x12.model import Delimiters, Issue

# The ISA is fixed width: 106 characters, its 16 element separators at these offsets, ISA11 (the
# repetition separator) at 82 and ISA16 (the component separator) at 104, the terminator at 105.
ISA_LENGTH = 106
_ISA_SEPARATOR_OFFSETS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
_ISA_REPETITION_OFFSET = 82
_ISA_COMPONENT_OFFSET = 104

# Whitespace that may sit between segments or pad elements. Not str.strip()'s default: Python counts
# \x1c-\x1f as whitespace, and those are the non-printing delimiters some payers use; stripping one
# from the end of a segment (ISA16 itself, an empty last repetition) would change what was sent.
_WHITESPACE = " \t\r\n\x0b\x0c"

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


@dataclass
class Report:
    """The issues of one parse, in the order found."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, code: str, message: str, segment: int | None = None) -> None:
        self.errors.append(Issue("error", code, message, segment))

    def warn(self, code: str, message: str, segment: int | None = None) -> None:
        self.warnings.append(Issue("warning", code, message, segment))


@dataclass(frozen=True)
class Segment:
    tag: str
    elements: tuple[str, ...]  # elements[0] is the tag, so element n is elements[n] as in "NM103"
    position: int  # 1-based in the interchange, the ISA being 1

    def get(self, index: int) -> str:
        return self.elements[index] if index < len(self.elements) else ""


@dataclass(frozen=True)
class Tokens:
    delimiters: Delimiters
    segments: tuple[Segment, ...]  # from the ISA to the IEA (or the end, when the IEA is missing)


def decode(data: bytes | str, report: Report) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    raw = bytes(data)
    # Files saved by Windows tools arrive as UTF-16 with its byte-order mark now and then.
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                break
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # X12 allows only a basic and an extended character set; a stray Latin-1 byte in a name
        # should not lose the whole answer. Latin-1 decodes any byte, so nothing is dropped.
        report.warn("encoding", "The file is not valid UTF-8; it was read as Latin-1.")
        return raw.decode("latin-1")


def _find_isa(text: str) -> int:
    """Where the interchange starts: an "ISA" followed by a plausible element separator that
    recurs at least 16 times within two ISA lengths (so "ISA" in a sentence is not taken for one)."""
    start = text.find("ISA")
    while start != -1:
        after = text[start + 3 : start + 4]
        if (
            after
            and not after.isalnum()
            and after not in _WHITESPACE
            and text.count(after, start + 3, start + 2 * ISA_LENGTH) >= len(_ISA_SEPARATOR_OFFSETS)
        ):
            return start
        start = text.find("ISA", start + 3)
    return -1


def _read_delimiters(text: str, start: int, report: Report) -> Delimiters | None:
    """The delimiters of the ISA at `start`."""
    element = text[start + 3]
    isa = text[start : start + ISA_LENGTH]
    fixed = (
        len(isa) == ISA_LENGTH
        and all(isa[offset] == element for offset in _ISA_SEPARATOR_OFFSETS)
        and isa[:105].count(element) == len(_ISA_SEPARATOR_OFFSETS)
    )
    if fixed:
        repetition = isa[_ISA_REPETITION_OFFSET]
        component = isa[_ISA_COMPONENT_OFFSET]
        terminator = isa[105]
    else:
        # A shorter or padded ISA (trimmed fields, a two-digit year): the sixteenth element
        # separator still ends ISA15, ISA16 is the next character and the terminator follows it.
        offsets: list[int] = []
        cursor = start + 3
        while len(offsets) < len(_ISA_SEPARATOR_OFFSETS):
            cursor = text.find(element, cursor)
            if cursor == -1 or cursor - start > 2 * ISA_LENGTH:
                report.error("bad_isa", "The ISA header has fewer than 16 elements: the delimiters cannot be read.", 1)
                return None
            offsets.append(cursor)
            cursor += 1
        end = offsets[-1]
        if end + 2 >= len(text):
            report.error("truncated", "The file ends inside the ISA header.", 1)
            return None
        component, terminator = text[end + 1], text[end + 2]
        repetition = text[offsets[10] + 1 : offsets[11]].strip(_WHITESPACE)
        report.warn(
            "isa_layout",
            f"The ISA header is not {ISA_LENGTH} characters of fixed width; its delimiters were read "
            "from the element positions instead.",
            1,
        )
    if terminator in _WHITESPACE and terminator not in "\r\n":
        report.error(
            "bad_delimiters", f"The segment terminator {terminator!r} is blank: segments cannot be told apart."
        )
        return None
    if len({element, component, terminator}) < 3 or terminator.isalnum() or component.isalnum():
        report.error(
            "bad_delimiters",
            f"The ISA header gives unusable delimiters (element {element!r}, component {component!r}, "
            f"segment {terminator!r}).",
            1,
        )
        return None
    if len(repetition) != 1 or repetition.isalnum() or repetition in {element, component, terminator}:
        # 4010 files put "U" (the standards identifier) in ISA11: there is no repetition separator.
        if repetition not in {"U", ""}:
            report.warn("repetition_separator", f"ISA11 {repetition!r} is not a usable repetition separator.", 1)
        repetition = ""
    return Delimiters(element, repetition, component, terminator)


def tokenize(data: bytes | str, report: Report) -> Tokens | None:
    """The interchange's segments, or None (with an error in `report`) when it cannot be read."""
    text = decode(data, report)
    start = _find_isa(text)
    if start == -1:
        report.error("not_x12", "No ISA interchange header: this is not an X12 file.")
        return None
    if text[:start].strip(_WHITESPACE):
        report.warn("leading_data", f"{start} characters before the ISA header were skipped.")
    delimiters = _read_delimiters(text, start, report)
    if delimiters is None:
        return None
    used = {delimiters.element, delimiters.repetition, delimiters.component, delimiters.segment}
    blank = "".join(char for char in _WHITESPACE if char not in used)
    segments: list[Segment] = []
    chunks = text[start:].split(delimiters.segment)
    for index, chunk in enumerate(chunks):
        chunk = chunk.strip(blank)
        if not chunk:
            continue
        elements = tuple(value.strip(blank) for value in chunk.split(delimiters.element))
        tag = elements[0]
        if not _SEGMENT_ID.fullmatch(tag):
            report.warn("unreadable_segment", f"Skipped text that is not a segment: {chunk[:40]!r}.")
            continue
        segments.append(Segment(tag, elements, len(segments) + 1))
        if tag == "IEA":
            rest = delimiters.segment.join(chunks[index + 1 :]).strip(blank + delimiters.segment)
            if rest:
                report.warn("trailing_data", f"{len(rest)} characters after the IEA trailer were ignored.")
            break
    return Tokens(delimiters, tuple(segments))


def components(value: str, delimiters: Delimiters) -> tuple[str, ...]:
    return tuple(value.split(delimiters.component)) if value else ()
