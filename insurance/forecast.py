"""Authorization burn-down (pure, no Django): units used, units scheduled, when they run out.

A unit is a day (any attended program session that day) or a session, as the payer
authorized it. Used units come from recorded attendance; scheduled units are future bookings
not yet attended. The forecast walks the scheduled units in order: the day the last
authorized unit is consumed is the run-out date. When the schedule does not reach that far
(tracks are generated a few weeks ahead), the run-out date is projected at the pace of the
scheduled weeks, and said to be projected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

# An attendance that used a unit: the patient was there for some of it. Absent and excused
# bookings do not (payers pay for services rendered).
USED_ATTENDANCE = frozenset({"present", "late", "left_early"})


@dataclass(frozen=True)
class UnitEvent:
    """A booking that may consume a unit: its local date and its attendance ("" until recorded)."""

    on: date
    attendance: str


@dataclass(frozen=True)
class BurnDown:
    units_authorized: int
    units_used: int
    units_scheduled: int  # future units inside the authorization's dates
    units_remaining: int  # authorized - used, never below 0
    over_scheduled: int  # scheduled units beyond what is left: bookings the payer will not pay for
    runs_out_on: date | None  # the day the last authorized unit is consumed
    basis: Literal["used", "scheduled", "projected", "none"]
    # "used": already run out; "scheduled": a scheduled unit consumes the last one;
    # "projected": extrapolated at the scheduled pace; "none": nothing scheduled, no forecast.


def units_from(events: Iterable[UnitEvent], *, unit: str) -> list[date]:
    """One date per unit: each event for sessions, each distinct date for days."""
    dates = sorted(event.on for event in events)
    if unit == "day":
        return sorted(set(dates))
    return dates


def burn_down(
    *,
    units_authorized: int,
    unit: str,
    starts_on: date,
    ends_on: date,
    events: Sequence[UnitEvent],
    today: date,
) -> BurnDown:
    """The state of one authorization on `today`.

    Used: events inside the dates with a used attendance, up to today. Scheduled: events from
    today on with no attendance recorded yet (today's unrecorded sessions are still to come).
    For days, a date already used does not count again as scheduled.
    """
    inside = [event for event in events if starts_on <= event.on <= ends_on]
    used_dates = units_from((e for e in inside if e.attendance in USED_ATTENDANCE and e.on <= today), unit=unit)
    scheduled_events = [e for e in inside if not e.attendance and e.on >= today]
    scheduled_dates = units_from(scheduled_events, unit=unit)
    if unit == "day":
        used_set = set(used_dates)
        scheduled_dates = [day for day in scheduled_dates if day not in used_set]
    used = len(used_dates)
    remaining = max(units_authorized - used, 0)
    scheduled = len(scheduled_dates)
    over = max(scheduled - remaining, 0)

    if units_authorized and used >= units_authorized:
        return BurnDown(units_authorized, used, scheduled, 0, over, used_dates[units_authorized - 1], "used")
    if remaining and scheduled >= remaining:
        return BurnDown(units_authorized, used, scheduled, remaining, over, scheduled_dates[remaining - 1], "scheduled")
    projected = _project(scheduled_dates, still_needed=remaining - scheduled, today=today)
    if projected is None or remaining == 0:
        return BurnDown(units_authorized, used, scheduled, remaining, over, None, "none")
    # Beyond the authorization's last day nothing runs out: the dates end first.
    if projected > ends_on:
        return BurnDown(units_authorized, used, scheduled, remaining, over, None, "none")
    return BurnDown(units_authorized, used, scheduled, remaining, over, projected, "projected")


def _project(scheduled: Sequence[date], *, still_needed: int, today: date) -> date | None:
    """Extrapolate past the last scheduled unit at the pace of the scheduled weeks."""
    if not scheduled:
        return None
    # Whole weeks: a schedule of Mon/Wed/Fri for two weeks is three a week, not 3.5 over 12 days.
    weeks = max(math.ceil(((scheduled[-1] - today).days + 1) / 7), 1)
    per_week = len(scheduled) / weeks
    extra_days = math.ceil(still_needed / per_week * 7)
    return scheduled[-1] + timedelta(days=extra_days)
