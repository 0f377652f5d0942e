"""Expanding a track's RFC 5545 RRULE into session times (pure, no Django).

Occurrences are computed on the wall clock of the location's time zone and only then
turned into instants, so "Mondays 09:00" stays 09:00 local across daylight-saving changes
(its UTC offset moves instead). A wall-clock time that does not exist on a spring-forward
day (02:30) moves forward by the gap, as RFC 5545 section 3.3.5 says; an ambiguous one
on a fall-back day takes its first occurrence (fold=0).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

UTC = ZoneInfo("UTC")

# Generation never walks further than this, whatever the rule says (a COUNT in the
# thousands, a DAILY rule without end): enough for any horizon a clinic would set.
MAX_OCCURRENCES = 2000
# Parts of a rule we accept; the rest (BYSECOND, BYHOUR, ...) would move sessions off the
# track's start time or make them more often than daily.
ALLOWED_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "COUNT", "UNTIL", "WKST"}
ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY"}


class RecurrenceError(ValueError):
    pass


def _local_until(value: str, zone: ZoneInfo) -> str:
    # We expand on the local wall clock (a naive DTSTART); RFC 5545 writes UNTIL in UTC
    # ("...Z") when DTSTART has a zone, so bring it to the same local clock.
    if not value.endswith("Z"):
        return value
    try:
        instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as error:
        raise RecurrenceError(f"UNTIL={value} is not a date-time like 20261231T235959Z.") from error
    return instant.astimezone(zone).strftime("%Y%m%dT%H%M%S")


def parse(rule: str, *, starts_on: date, start_time: time, zone: ZoneInfo = UTC) -> rrule:
    """The rule anchored at its first day and start time (naive, on `zone`'s wall clock);
    RecurrenceError with a message a person can act on when it does not parse or is not
    allowed."""
    text = rule.strip().removeprefix("RRULE:")
    if not text:
        raise RecurrenceError("Give a recurrence rule, e.g. FREQ=WEEKLY;BYDAY=MO,WE,TH.")
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not value:
            raise RecurrenceError(f"'{part}' is not NAME=VALUE; write e.g. FREQ=WEEKLY;BYDAY=MO,WE,TH.")
        if name.upper() in parts:
            raise RecurrenceError(f"{name.upper()} is given twice.")
        parts[name.upper()] = value.upper()
    unknown = set(parts) - ALLOWED_PARTS
    if unknown:
        raise RecurrenceError(
            f"{', '.join(sorted(unknown))} not allowed in a track's rule; use {', '.join(sorted(ALLOWED_PARTS))}."
        )
    if parts.get("FREQ") not in ALLOWED_FREQ:
        raise RecurrenceError(f"FREQ must be one of {', '.join(sorted(ALLOWED_FREQ))}.")
    _check_numbers(parts)
    if "UNTIL" in parts:
        parts["UNTIL"] = _local_until(parts["UNTIL"], zone)
    text = ";".join(f"{name}={value}" for name, value in parts.items())
    dtstart = datetime.combine(starts_on, start_time)
    try:
        parsed = rrulestr(text, dtstart=dtstart)
        if not isinstance(parsed, rrule):
            raise RecurrenceError("Give one RRULE, not a set of rules.")
        # A rule that never happens (30 February) would be scanned to the year 9999 on
        # every expansion: look for a first occurrence within two years only.
        probe = parsed if "UNTIL" in parts else parsed.replace(count=None, until=dtstart + timedelta(days=PROBE_DAYS))
        first = probe.after(dtstart, inc=True)
    except RecurrenceError:
        raise
    except (ValueError, TypeError, IndexError, OverflowError) as error:  # dateutil's ways of refusing
        raise RecurrenceError(f"The recurrence rule does not parse: {error}.") from error
    if first is None:
        raise RecurrenceError(
            "This rule makes no session (before its UNTIL, or in its first two years); check UNTIL, BYMONTH, "
            "BYMONTHDAY and BYDAY."
        )
    return parsed


PROBE_DAYS = 731


def _number(parts: dict[str, str], name: str, low: int, high: int) -> None:
    for value in filter(None, parts.get(name, "").split(",")):
        try:
            number = int(value)
        except ValueError:
            raise RecurrenceError(f"{name}={parts[name]}: {value} is not a whole number.") from None
        if not (low <= abs(number) <= high) or (name in {"INTERVAL", "COUNT"} and number < 1):
            raise RecurrenceError(f"{name}={parts[name]}: {value} is out of range ({low} to {high}).")


def _check_numbers(parts: dict[str, str]) -> None:
    _number(parts, "INTERVAL", 1, 52)
    _number(parts, "COUNT", 1, MAX_OCCURRENCES)
    _number(parts, "BYMONTHDAY", 1, 31)
    _number(parts, "BYMONTH", 1, 12)
    _number(parts, "BYSETPOS", 1, 31)
    for day in filter(None, parts.get("BYDAY", "").split(",")):
        ordinal = day[:-2]
        if day[-2:] not in {"MO", "TU", "WE", "TH", "FR", "SA", "SU"} or (
            ordinal and (not ordinal.lstrip("+-").isdigit() or not 1 <= abs(int(ordinal)) <= 5)
        ):
            raise RecurrenceError(f"BYDAY={parts['BYDAY']}: {day} is not a day like MO, or 1MO to 5MO, -1FR.")


def _instant(local: datetime, zone: ZoneInfo) -> datetime:
    # fold=0 reads a nonexistent time (02:30 on a spring-forward day) with the offset in
    # force before the gap, which lands on 03:30 after it: forward by the gap, as RFC 5545
    # wants. An ambiguous time (01:30 on a fall-back day) gets its first occurrence.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def occurrences(
    rule: str,
    *,
    starts_on: date,
    ends_on: date | None,
    start_time: time,
    duration_minutes: int,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) instants of the occurrences starting in [window_start, window_end)."""
    parsed = parse(rule, starts_on=starts_on, start_time=start_time, zone=zone)
    length = timedelta(minutes=duration_minutes)
    # Walk from the local day before the window (offsets are at most a day), not from the
    # track's first day: a track running for years costs no more than a new one.
    first_local = window_start.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    for count, local in enumerate(parsed.xafter(first_local, inc=True)):
        if count >= MAX_OCCURRENCES or (ends_on is not None and local.date() > ends_on):
            return
        start = _instant(local, zone)
        if start >= window_end:
            return
        if start >= window_start:
            # The end is on the wall clock too (a 09:00-12:00 group ends at 12:00 local),
            # except where a spring-forward gap would swallow it.
            end = _instant(local + length, zone)
            yield start, end if end > start else start + length
