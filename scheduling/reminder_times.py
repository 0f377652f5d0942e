"""When an appointment reminder goes out, given quiet hours in the patient's time zone (pure, no Django).

Quiet hours: 47 CFR § 64.1200(c)(1) bars telephone solicitations "before the hour of 8 a.m. or after
9 p.m. (local time at the called party's location)". Strictly that covers marketing, not informational
reminders, but it is the prevailing norm; some states' mini-TCPA windows are stricter (UNVERIFIED), so
the window is a parameter and evaluated in the recipient's zone (../shared/reference/clinical.md § 8.3).

"Allowed" is read off the patient's wall clock: an instant is allowed when its local time t satisfies
window.start <= t < window.end. Everything here returns UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
# Local days around the moment to look for the window's next opening. One day is enough for a window
# that opens every day; a spring-forward gap can swallow a day's opening, and a zone that skipped a
# whole calendar day (Pacific/Apia, 30 December 2011) another; a fall-back that crosses midnight can
# show the previous date again after the moment, hence the day before.
_SEARCH_DAYS = range(-1, 4)


@dataclass(frozen=True)
class Window:
    """The allowed sending window in local wall-clock times: start inclusive, end exclusive, no wrap."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("The sending window takes wall-clock times with no time zone; the zone is the patient's.")
        if self.start >= self.end:
            raise ValueError(
                f"The sending window must start before it ends and cannot wrap past midnight; "
                f"got {self.start.isoformat()} to {self.end.isoformat()}."
            )


# 08:00-21:00 recipient local time: the 47 CFR § 64.1200(c)(1) hours, the suggested default in
# ../shared/reference/clinical.md § 8.3.
DEFAULT_WINDOW = Window(start=time(8), end=time(21))
# Product defaults (a day ahead to plan, two hours ahead as a nudge); no regulation sets them.
DEFAULT_OFFSETS = (timedelta(hours=24), timedelta(hours=2))


def send_at(*, starts_at: datetime, offset: timedelta, zone: ZoneInfo, window: Window) -> datetime | None:
    """When the reminder `offset` before `starts_at` should go, in UTC, or None if not before the start.

    starts_at - offset if its local time in `zone` is inside the window; otherwise the next instant the
    window opens on the wall clock of `zone` (see next_allowed). Offsets are real durations: 24 hours
    before is 24 hours before even across a DST change, which on the wall clock reads 23 or 25.
    """
    _require_aware("starts_at", starts_at)
    if offset <= timedelta(0):
        raise ValueError(f"A reminder offset must be a positive duration before the session; got {offset}.")
    starts_at = starts_at.astimezone(UTC)
    moment = next_allowed(starts_at - offset, zone=zone, window=window)
    # A reminder at or after the start is no reminder: skip it rather than send it late.
    return moment if moment < starts_at else None


def next_allowed(moment: datetime, *, zone: ZoneInfo, window: Window) -> datetime:
    """`moment` (in UTC) if its local time in `zone` is inside the window, else the first instant after it
    at which the window opens.

    The window opens where the wall clock reads window.start: on the same local date if that is still
    ahead, else the next one. On a spring-forward day whose gap swallows window.start (02:30 when clocks
    jump 02:00 -> 03:00), it opens at the first real instant after the gap (03:00), provided that is still
    before window.end; a window wholly inside the gap does not open that day. On a fall-back day an
    ambiguous window.start is its first occurrence (fold=0); its second occurrence, or the instant the
    clock jumps back into the window, only counts when the window has already closed after the first
    (possible only for a window ending inside the repeated hour): the result is the earliest allowed
    instant, never a later one.
    """
    _require_aware("moment", moment)
    moment = moment.astimezone(UTC)
    if _allowed(moment, zone, window):
        return moment
    today = _wall(moment, zone).date()
    candidates = [
        instant
        for days in _SEARCH_DAYS
        for instant in _openings(today + timedelta(days=days), zone, window)
        if instant > moment and _allowed(instant, zone, window)
    ]
    if not candidates:
        raise ValueError(f"The window {window} does not open in {zone} within days of {moment.isoformat()}.")
    return min(candidates)


def local_day_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local calendar day in `zone` containing `moment`.

    Each bound is local midnight (its first occurrence if a fall-back repeats it), or the first instant
    after the gap where a spring-forward skips midnight (America/Havana). The day is 23, 24 or 25 hours
    long, 23.5 or 24.5 in Australia/Lord_Howe.
    """
    _require_aware("moment", moment)
    day = _wall(moment, zone).date()
    return _day_start(day, zone), _day_start(day + timedelta(days=1), zone)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone); got naive {value.isoformat()}.")


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of `instant` in `zone`."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _allowed(instant: datetime, zone: ZoneInfo, window: Window) -> bool:
    return window.start <= _wall(instant, zone).time() < window.end


def _occurrences(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the clock in `zone` reads `wall`: one, two in a fall-back's repeated
    hour (first occurrence first), none in a spring-forward gap.

    A local time exists if it survives a round trip through UTC; zoneinfo reads a time in a gap with the
    offset on one side of it, which lands on a different wall time on the other side.
    """
    instants = sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)})
    return [instant for instant in instants if _wall(instant, zone) == wall]


def _first_instant_at(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which the clock in `zone` reads `wall`, or if it never does (a gap), the first
    real instant after the gap."""
    occurrences = _occurrences(wall, zone)
    if occurrences:
        return occurrences[0]
    # In a gap, fold=1 reads `wall` with the offset after the change, which lands before the gap, and
    # fold=0 with the offset before it, which lands after: the change lies between. Unlike
    # scheduling.recurrence, which moves a session time in a gap on by the gap (02:30 -> 03:30), a day or
    # a window starts at the end of the gap (03:00): the first moment that is not before it.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return _first_second(before, after, lambda instant: _wall(instant, zone) >= wall)


# Cached: a batch of reminders asks about the same few local days many times, and a day with a clock
# change costs a bisection. Keyed by the ZoneInfo, which zoneinfo itself caches per key.
@functools.lru_cache(maxsize=4096)
def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return _first_instant_at(datetime.combine(day, time(0)), zone)


@functools.lru_cache(maxsize=4096)
def _clock_change(day: date, zone: ZoneInfo) -> datetime | None:
    """The instant the UTC offset changes on local `day`, if it does. Assumes one change a day at most."""
    start, end = _day_start(day, zone), _day_start(day + timedelta(days=1), zone)
    offset_after = end.astimezone(zone).utcoffset()
    if start.astimezone(zone).utcoffset() == offset_after:
        return None
    return _first_second(start, end, lambda instant: instant.astimezone(zone).utcoffset() == offset_after)


def _openings(day: date, zone: ZoneInfo, window: Window) -> Iterator[datetime]:
    """Every instant of local `day` at which the window may open: where the clock reads window.start,
    and where the clock changes (it may jump over window.start, or back into the window). The caller
    keeps the ones that are allowed."""
    yield from _occurrences(datetime.combine(day, window.start), zone)
    change = _clock_change(day, zone)
    if change is not None:
        yield change


def _first_second(low: datetime, high: datetime, reached: Callable[[datetime], bool]) -> datetime:
    """The first whole UTC second in (low, high] at which `reached` holds, for a `reached` false at low,
    true at high and flipping once in between. Clock changes happen on whole seconds (whole minutes in
    today's tz database), so bisecting on seconds finds the change itself."""
    low_second = (low - _EPOCH) // _SECOND
    high_second = -((_EPOCH - high) // _SECOND)  # ceiling
    while high_second - low_second > 1:
        middle = (low_second + high_second) // 2
        if reached(_EPOCH + middle * _SECOND):
            high_second = middle
        else:
            low_second = middle
    return _EPOCH + high_second * _SECOND
