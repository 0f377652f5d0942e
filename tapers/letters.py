"""A letter to an outside prescriber, rendered to PDF bytes (pure: plain data in, bytes out).

Every page carries the 42 CFR 2.32 notice in its footer, so a page faxed or copied on its own
still says that Part 2 forbids its redisclosure. The document's metadata names nobody: a PDF's
title and subject are shown by file browsers and mail clients without opening it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

LETTER_FAMILY = "LetterFont"
# Typography the built-in PDF fonts (Latin-1 only) cannot show, and what to print instead.
_PLAIN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u2022": "-",
        "\u00a0": " ",
        "\u0141": "L",
        "\u0142": "l",
        "\u0152": "OE",
        "\u0153": "oe",
    }
)


@dataclass(frozen=True)
class Letter:
    letterhead: list[str]  # first line: the clinic's name; then its address and numbers
    dated: date
    recipient: list[str]  # the prescriber's name, practice, address
    regarding: str  # the patient, as the recipient needs to identify them
    subject: str
    body: str
    signature: list[str]  # the sender's name and credentials, and how to reach them
    notice: str  # 42 CFR 2.32
    reference: str  # the communication's id, so a reply can be matched


class _LetterPdf(FPDF):
    def __init__(self, notice: str, reference: str, family: str) -> None:
        super().__init__(format="Letter", unit="mm")
        self.notice = notice
        self.reference = reference
        self.family = family
        self.set_margins(20, 20, 20)
        # Room at the bottom of every page for the notice (up to three lines) and the page number.
        self.set_auto_page_break(True, margin=32)

    def footer(self) -> None:
        self.set_y(-28)
        self.set_font(self.family, "", 8)
        self.multi_cell(0, 4, self.notice, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 4, f"Ref. {self.reference} - page {self.page_no()}/{{nb}}", align="R")


def _latin1(text: str) -> str:
    """What the built-in fonts can print: typography made plain, accents kept where Latin-1 has
    them, otherwise dropped (a base letter), anything else a question mark."""
    text = text.translate(_PLAIN)
    out = []
    for char in text:
        if char in "\n\t" or (ord(char) < 256 and unicodedata.category(char)[0] != "C"):
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(base if base and base.isprintable() else "?")
    return "".join(out)


def render(letter: Letter, *, font_path: str = "") -> bytes:
    """The letter as PDF bytes. `font_path` (a TrueType font) prints any script; without it the
    built-in Helvetica prints Latin-1 and transliterates the rest."""
    family = LETTER_FAMILY if font_path else "Helvetica"
    clean: Callable[[str], str] = str if font_path else _latin1
    pdf = _LetterPdf(clean(letter.notice), letter.reference, family)
    if font_path:
        pdf.add_font(LETTER_FAMILY, "", font_path)
        pdf.add_font(LETTER_FAMILY, "B", font_path)
    pdf.set_creator("clinic-backend")
    pdf.set_title("Letter")  # deliberately nobody's name
    pdf.alias_nb_pages()
    pdf.add_page()

    def lines(text: str, size: float = 11, style: str = "", height: float = 5.5) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(0, height, clean(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    head, *rest = letter.letterhead or [""]
    lines(head, size=14, style="B", height=7)
    if rest:
        lines("\n".join(rest), size=9, height=4.5)
    pdf.ln(8)
    lines(f"{letter.dated:%B} {letter.dated.day}, {letter.dated.year}")
    pdf.ln(4)
    lines("\n".join(letter.recipient))
    pdf.ln(6)
    lines(f"Re: {letter.regarding}", style="B")
    lines(f"Subject: {letter.subject}", style="B")
    pdf.ln(4)
    lines(letter.body)
    pdf.ln(8)
    lines("\n".join(letter.signature))
    return bytes(pdf.output())
