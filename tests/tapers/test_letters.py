"""The letter's PDF, rendered from plain data (no database): read back with pypdf."""

import io
from datetime import date
from pathlib import Path

import pypdf
import pytest

from patients.consents import REDISCLOSURE_NOTICE
from tapers.letters import Letter, render

LETTER = Letter(
    letterhead=["Harbor Outpatient", "1 Elm Street, Springfield, MA 01103"],
    dated=date(2026, 11, 23),
    recipient=["Lee Park, MD", "Riverside Practice", "Fax (617) 555-0199"],
    regarding="Jordan Quill, date of birth 1980-05-17",
    subject="Taper step from December 1",
    body="From December 1 the diazepam dose is 9 mg a day.",
    signature=["Ana Reyes, MD", "NPI 1234567893"],
    notice=REDISCLOSURE_NOTICE,
    reference="4f1c2a4e-0000-4000-8000-000000000001",
)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def pages_of(content: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages]


def test_it_renders_every_part_of_the_letter():
    [page] = pages_of(render(LETTER))
    for part in [
        "Harbor Outpatient",
        "November 23, 2026",
        "Lee Park, MD",
        "Re: Jordan Quill, date of birth 1980-05-17",
        "Subject: Taper step from December 1",
        "9 mg a day",
        "Ana Reyes, MD",
        REDISCLOSURE_NOTICE,
        "page 1/1",
    ]:
        assert part in page


def test_the_notice_is_on_every_page_of_a_long_letter():
    long = Letter(**{**LETTER.__dict__, "body": "A line of the history.\n" * 300})
    pages = pages_of(render(long))
    assert len(pages) >= 3
    assert all(REDISCLOSURE_NOTICE in page for page in pages)
    assert f"page {len(pages)}/{len(pages)}" in pages[-1]


def test_the_metadata_names_nobody():
    info = pypdf.PdfReader(io.BytesIO(render(LETTER))).metadata
    assert info is not None
    assert "Quill" not in " ".join(str(value) for value in info.values())


def test_without_a_font_it_prints_what_latin_1_can_and_transliterates_the_rest():
    typographic = "Łukasz Wróbel \u2013 MD"  # an en dash
    letter = Letter(**{**LETTER.__dict__, "recipient": [typographic], "body": "\u201cQuoted\u201d café"})
    [page] = pages_of(render(letter))
    assert "Lukasz Wróbel - MD" in page
    assert '"Quoted" café' in page


@pytest.mark.skipif(not DEJAVU.exists(), reason="no DejaVu font on this machine")
def test_with_a_font_it_prints_any_script():
    letter = Letter(**{**LETTER.__dict__, "recipient": ["Łukasz Wróbel", "Дмитрий Орлов"]})
    [page] = pages_of(render(letter, font_path=str(DEJAVU)))
    assert "Łukasz Wróbel" in page
    assert "Дмитрий Орлов" in page
    assert REDISCLOSURE_NOTICE in page
