"""Helpers for the X12 tests: the shared samples, and a small generic segment reader that knows
nothing of our parser, so the parser and the builder are each checked against something else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from insurance.x12.model import Delimiters, EligibilityResponse, Member

# ../shared beside the checkout (CI clones main and copies shared next to it), as tests/insurance/conftest.py.
X12_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "x12-samples"

SUBSCRIBER_271 = "271_lfh_tr3_subscriber_active_copay_MH.271"
DEPENDENT_271 = "271_lfh_tr3_dependent_active_copay_MH.271"
AAA_271 = "271_lfh_tr3_AAA50_provider_ineligible.271"
PAYER_C_271 = "271_lfh_v2021_dependent_payerC_PRV_NPI.271"
SAMPLES_271 = (SUBSCRIBER_271, DEPENDENT_271, AAA_271, PAYER_C_271)


def sample(name: str) -> bytes:
    return (X12_SAMPLES / name).read_bytes()


@dataclass(frozen=True)
class Read:
    element: str
    repetition: str
    component: str
    segment: str
    isa: str  # the ISA as sent, terminator included
    segments: list[list[str]]  # every segment as its elements, the ISA first


def read_segments(text: str) -> Read:
    """Delimiters by ISA position (the 106-character fixed layout) and a plain split: no leniency."""
    text = text.removeprefix("\ufeff")
    assert text.startswith("ISA"), text[:20]
    element, repetition, component, segment = text[3], text[82], text[104], text[105]
    segments = [chunk.strip("\r\n\t ").split(element) for chunk in text.split(segment) if chunk.strip("\r\n\t ")]
    return Read(element, repetition, component, segment, text[:106], segments)


def write_segments(
    segments: list[list[str]],
    *,
    element: str = "*",
    repetition: str = "^",
    component: str = ":",
    segment: str = "~",
    between: str = "",
) -> str:
    """Segments written back with other delimiters. The samples use "^" only to repeat and ":" only
    inside composites, so swapping those characters inside elements is exact for them."""
    out: list[str] = []
    for elements in segments:
        if elements[0] == "ISA":
            elements = [*elements[:11], repetition, *elements[12:16], component]
        else:
            elements = [
                value.replace("^", "\0").replace(":", component).replace("\0", repetition) for value in elements
            ]
        out.append(element.join(elements) + segment)
    return between.join(out) + between


def redelimit(data: bytes, **options: str) -> str:
    return write_segments(read_segments(data.decode()).segments, **options)


def with_segment(data: bytes, after: str, new: str, *, occurrence: int = 1) -> bytes:
    """`new` inserted after the `occurrence`-th segment starting with `after`, SE01 kept right."""
    segments = read_segments(data.decode()).segments
    seen = 0
    for index, elements in enumerate(segments):
        if "*".join(elements).startswith(after):
            seen += 1
            if seen == occurrence:
                segments.insert(index + 1, new.split("*"))
                break
    else:
        raise AssertionError(f"no segment {after!r}")
    for elements in segments:
        if elements[0] == "SE":
            elements[1] = str(int(elements[1]) + 1)
    return write_segments(segments, between="\n").encode()


def patient(response: EligibilityResponse) -> Member:
    assert response.patient is not None, "no member in the response"
    return response.patient


def delimiters(response: EligibilityResponse) -> Delimiters:
    assert response.delimiters is not None, "no delimiters in the response"
    return response.delimiters
