"""Element values of a 271 read leniently: a bad number or date is a warning and None, never a raise."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from insurance.x12 import codes
from insurance.x12.model import DatePeriod
from insurance.x12.segments import Report, Segment

# X12's R (real) type: an optional minus sign, digits, an optional decimal point. Decimal() alone
# would also take "NaN", "Infinity" and "1E+3", none of which a payer means as an amount.
_REAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")


def decimal(value: str, what: str, segment: Segment, report: Report) -> Decimal | None:
    if not value:
        return None
    if _REAL.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            pass
    report.warn("bad_number", f"{what} {value!r} is not a number; it was left out.", segment.position)
    return None


def yes_no(value: str) -> bool | None:
    """Y / N; None for U (unknown), W (not applicable) and anything else."""
    return {"Y": True, "N": False}.get(value)


def ccyymmdd(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def period(segment: Segment, report: Report) -> DatePeriod:
    """A DTP: D8 is one day, RD8 a range CCYYMMDD-CCYYMMDD; anything else keeps its raw text."""
    qualifier, form, raw = segment.get(1), segment.get(2), segment.get(3)
    start: date | None = None
    end: date | None = None
    if form == "D8":
        start = end = ccyymmdd(raw)
    elif form == "RD8":
        first, dash, last = raw.partition("-")
        start, end = ccyymmdd(first), ccyymmdd(last)
        if not dash or start is None or end is None:
            start = end = None
    else:
        report.warn("date_format", f"DTP format {form!r} is not D8 or RD8; the date is kept as sent.", segment.position)
        return DatePeriod(qualifier, codes.date_qualifier(qualifier), None, None, raw)
    if start is None:
        report.warn("bad_date", f"DTP {qualifier} date {raw!r} is not a valid {form} date.", segment.position)
    elif end is not None and end < start:
        report.warn("bad_date", f"DTP {qualifier} range {raw!r} ends before it starts.", segment.position)
    return DatePeriod(qualifier, codes.date_qualifier(qualifier), start, end, raw)


def birth_date(segment: Segment, report: Report) -> date | None:
    form, raw = segment.get(1), segment.get(2)
    if not raw:
        return None
    found = ccyymmdd(raw) if form == "D8" else None
    if found is None:
        report.warn("bad_date", f"DMG birth date {raw!r} ({form or 'no format'}) is not a D8 date.", segment.position)
    return found
