"""Reminder send times against quiet hours in the patient's zone. Pure: no database."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.reminder_times import DEFAULT_WINDOW, Window, local_day_bounds, next_allowed, send_at

NY = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")
HAVANA = ZoneInfo("America/Havana")
TORONTO = ZoneInfo("America/Toronto")
HOUR = timedelta(hours=1)


def local(zone, year, month, day, hour, minute=0, fold=0):
    return datetime(year, month, day, hour, minute, tzinfo=zone, fold=fold)


def shown(instant, zone):
    """An instant on the zone's wall clock, with its UTC offset so DST sides are visible."""
    return instant.astimezone(zone).strftime("%a %d %b %H:%M %z")


def remind(zone, session, offset, window=DEFAULT_WINDOW):
    result = send_at(starts_at=session, offset=offset, zone=zone, window=window)
    return None if result is None else shown(result, zone)


# Monday 23 November 2026, New York, default 08:00-21:00 window.


def test_it_sends_a_day_ahead_at_the_same_wall_time():
    assert remind(NY, local(NY, 2026, 11, 25, 10), 24 * HOUR) == "Tue 24 Nov 10:00 -0500"


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        (time(9), "Mon 23 Nov 08:00 -0500"),  # 07:00 is quiet
        (time(8, 30), "Mon 23 Nov 08:00 -0500"),  # 06:30 is quiet
        (time(10), "Mon 23 Nov 08:00 -0500"),  # exactly 08:00 is allowed
        (time(11, 15), "Mon 23 Nov 09:15 -0500"),
    ],
)
def test_it_holds_an_early_morning_reminder_until_the_window_opens(session, expected):
    assert remind(NY, datetime.combine(date(2026, 11, 23), session, tzinfo=NY), 2 * HOUR) == expected


def test_it_holds_a_reminder_due_at_dawn_on_sunday_until_sunday_0800():
    # 24 h before a 07:30 Monday session is Sunday 07:30, quiet.
    assert remind(NY, local(NY, 2026, 11, 23, 7, 30), 24 * HOUR) == "Sun 22 Nov 08:00 -0500"


def test_it_skips_a_reminder_that_could_only_go_when_the_session_starts():
    # 06:00 is quiet and the window opens at 08:00, the session's start: not before it, so no reminder.
    assert remind(NY, local(NY, 2026, 11, 23, 8), 2 * HOUR) is None


@pytest.mark.parametrize(
    ("session", "offset", "expected"),
    [
        (time(9, 30), timedelta(hours=12), "Mon 23 Nov 08:00 -0500"),  # due Sunday 21:30
        (time(8, 1), timedelta(hours=10, minutes=31), "Mon 23 Nov 08:00 -0500"),  # due Sunday 21:30
        (time(8), timedelta(hours=10, minutes=30), None),  # due Sunday 21:30; 08:00 is the start
        (time(10), timedelta(hours=13), "Mon 23 Nov 08:00 -0500"),  # due Sunday 21:00: the end is exclusive
        (time(9, 59), timedelta(hours=13), "Sun 22 Nov 20:59 -0500"),  # a minute earlier is still inside
    ],
)
def test_it_moves_a_late_evening_reminder_to_the_next_morning(session, offset, expected):
    assert remind(NY, datetime.combine(date(2026, 11, 23), session, tzinfo=NY), offset) == expected


def test_it_answers_in_utc_whatever_zone_the_input_is_in():
    result = send_at(starts_at=local(KOLKATA, 2026, 11, 25, 20), offset=24 * HOUR, zone=NY, window=DEFAULT_WINDOW)
    assert result is not None
    assert result.tzinfo is UTC
    assert result == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 in New York


# US clocks go forward Sunday 8 March 2026 at 02:00 and back Sunday 1 November 2026 at 02:00.


@pytest.mark.parametrize("zone", [NY, CHICAGO])
@pytest.mark.parametrize(
    ("session", "expected"),
    [
        # Monday 10:00: the change happened at 02:00 Sunday, before the reminder's hour, so the
        # Sunday reminder is at 10:00 on the same offset as the session.
        ((2026, 3, 9, 10), "Sun 08 Mar 10:00"),
        ((2026, 11, 2, 10), "Sun 01 Nov 10:00"),
        # Sunday 10:00: 24 real hours earlier is on the other side of the change. The spring day is
        # 23 hours long, so the reminder reads 09:00 on Saturday; the fall day is 25, so 11:00.
        ((2026, 3, 8, 10), "Sat 07 Mar 09:00"),
        ((2026, 11, 1, 10), "Sat 31 Oct 11:00"),
        # Sunday 08:30 after the spring change: Saturday 07:30 standard time is quiet, so 08:00.
        ((2026, 3, 8, 8, 30), "Sat 07 Mar 08:00"),
    ],
)
def test_it_counts_a_day_ahead_in_real_hours_across_the_dst_change(zone, session, expected):
    result = send_at(starts_at=local(zone, *session), offset=24 * HOUR, zone=zone, window=DEFAULT_WINDOW)
    assert result is not None
    assert result.astimezone(zone).strftime("%a %d %b %H:%M") == expected


def test_it_opens_a_window_starting_in_the_spring_gap_at_the_end_of_the_gap():
    # 02:30 does not exist on 8 March 2026 in New York: the window opens at 03:00 EDT, the first real
    # instant after the gap (not 03:30, as reading 02:30 with the old offset would give).
    window = Window(start=time(2, 30), end=time(21))
    assert shown(next_allowed(local(NY, 2026, 3, 8, 1), zone=NY, window=window), NY) == "Sun 08 Mar 03:00 -0400"
    session = local(NY, 2026, 3, 8, 10)
    assert remind(NY, session, timedelta(hours=8), window) == "Sun 08 Mar 03:00 -0400"  # due 01:00 EST
    # The next day 02:30 exists again.
    assert shown(next_allowed(local(NY, 2026, 3, 9, 1), zone=NY, window=window), NY) == "Mon 09 Mar 02:30 -0400"


def test_it_skips_a_day_on_which_the_whole_window_falls_in_the_gap():
    window = Window(start=time(2, 10), end=time(2, 50))
    assert shown(next_allowed(local(NY, 2026, 3, 8, 1), zone=NY, window=window), NY) == "Mon 09 Mar 02:10 -0400"


def test_it_opens_an_ambiguous_window_start_at_its_first_occurrence():
    window = Window(start=time(1, 30), end=time(21))
    opened = next_allowed(local(NY, 2026, 11, 1, 0), zone=NY, window=window)
    assert shown(opened, NY) == "Sun 01 Nov 01:30 -0400"


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # Closed at 01:45 EDT, but the repeated hour reads 01:15 again half an hour later.
        (Window(start=time(1, 15), end=time(1, 40)), "Sun 01 Nov 01:15 -0500"),
        # The clock jumps from 01:59:59 EDT back to 01:00 EST, inside this window.
        (Window(start=time(0, 30), end=time(1, 30)), "Sun 01 Nov 01:00 -0500"),
    ],
)
def test_it_reopens_in_the_repeated_hour_rather_than_wait_a_day(window, expected):
    assert shown(next_allowed(local(NY, 2026, 11, 1, 1, 45), zone=NY, window=window), NY) == expected


def test_it_handles_lord_howes_half_hour_change():
    # Lord Howe Island goes from +10:30 to +11:00 on Sunday 4 October 2026, 02:00 -> 02:30.
    window = Window(start=time(2, 15), end=time(21))
    assert shown(next_allowed(local(LORD_HOWE, 2026, 10, 4, 1), zone=LORD_HOWE, window=window), LORD_HOWE) == (
        "Sun 04 Oct 02:30 +1100"
    )
    # 24 real hours before Sunday 10:00 reads 09:30 on Saturday: the day was 23.5 hours long.
    assert remind(LORD_HOWE, local(LORD_HOWE, 2026, 10, 4, 10), 24 * HOUR) == "Sat 03 Oct 09:30 +1030"
    assert remind(LORD_HOWE, local(LORD_HOWE, 2026, 10, 5, 10), 24 * HOUR) == "Sun 04 Oct 10:00 +1100"


def test_it_handles_half_and_three_quarter_hour_offsets():
    assert remind(KOLKATA, local(KOLKATA, 2026, 11, 25, 9), 2 * HOUR) == "Wed 25 Nov 08:00 +0530"
    # The Chatham Islands go from +12:45 to +13:45 on Sunday 27 September 2026, 02:45 -> 03:45.
    window = Window(start=time(3), end=time(21))
    assert shown(next_allowed(local(CHATHAM, 2026, 9, 27, 2), zone=CHATHAM, window=window), CHATHAM) == (
        "Sun 27 Sep 03:45 +1345"
    )


@pytest.mark.parametrize(
    ("zone", "day", "start", "length"),
    [
        (NY, date(2026, 11, 23), "Mon 23 Nov 00:00 -0500", timedelta(hours=24)),
        (NY, date(2026, 3, 8), "Sun 08 Mar 00:00 -0500", timedelta(hours=23)),
        (CHICAGO, date(2026, 11, 1), "Sun 01 Nov 00:00 -0500", timedelta(hours=25)),
        (LORD_HOWE, date(2026, 10, 4), "Sun 04 Oct 00:00 +1030", timedelta(hours=23, minutes=30)),
        (LORD_HOWE, date(2026, 4, 5), "Sun 05 Apr 00:00 +1100", timedelta(hours=24, minutes=30)),
        (CHATHAM, date(2026, 9, 27), "Sun 27 Sep 00:00 +1245", timedelta(hours=23)),
        # Havana springs forward at midnight: the day starts at 01:00.
        (HAVANA, date(2026, 3, 8), "Sun 08 Mar 01:00 -0400", timedelta(hours=23)),
        # ...and falls back at 01:00 to 00:00: the day starts at the first midnight.
        (HAVANA, date(2026, 11, 1), "Sun 01 Nov 00:00 -0400", timedelta(hours=25)),
        # Toronto jumped from 23:30 EST to 00:30 EDT on 30 March 1919: midnight fell inside the gap
        # without starting it, so the day starts at 00:30, not 01:00 as midnight read at EST would be.
        (TORONTO, date(1919, 3, 31), "Mon 31 Mar 00:30 -0400", timedelta(hours=23, minutes=30)),
    ],
)
def test_it_bounds_the_local_day_on_short_and_long_days(zone, day, start, length):
    day_start, day_end = local_day_bounds(datetime.combine(day, time(12), tzinfo=zone), zone)
    assert shown(day_start, zone) == start
    assert day_end - day_start == length
    assert day_start.tzinfo is UTC
    assert day_end.tzinfo is UTC


def test_it_refuses_naive_datetimes():
    naive = datetime(2026, 11, 23, 10)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="starts_at must be an aware datetime"):
        send_at(starts_at=naive, offset=HOUR, zone=NY, window=DEFAULT_WINDOW)
    with pytest.raises(ValueError, match="moment must be an aware datetime"):
        next_allowed(naive, zone=NY, window=DEFAULT_WINDOW)
    with pytest.raises(ValueError, match="moment must be an aware datetime"):
        local_day_bounds(naive, NY)


@pytest.mark.parametrize("offset", [timedelta(0), -HOUR])
def test_it_refuses_an_offset_that_is_not_before_the_session(offset):
    with pytest.raises(ValueError, match="positive duration"):
        send_at(starts_at=local(NY, 2026, 11, 23, 10), offset=offset, zone=NY, window=DEFAULT_WINDOW)


@pytest.mark.parametrize(("start", "end"), [(time(21), time(8)), (time(8), time(8))])
def test_it_refuses_a_window_that_does_not_start_before_it_ends(start, end):
    with pytest.raises(ValueError, match="must start before it ends"):
        Window(start=start, end=end)


def test_it_refuses_a_window_with_a_time_zone():
    with pytest.raises(ValueError, match="with no time zone"):
        Window(start=time(8, tzinfo=UTC), end=time(21))


# Properties. Everything is on whole minutes (instants, offsets, window bounds, and every offset these
# zones use), so walking minute by minute from the due time finds the true first allowed instant.

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]
# Zones whose clock changes at midnight, so a day may start at 01:00 or repeat its last hour.
MIDNIGHT_CHANGE_ZONES = ["America/Havana", "America/Santiago", "Asia/Beirut"]
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
LAST = datetime(2029, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _change_days(name):
    """Noon UTC of each day in 2025-2028 on which the zone's offset changes."""
    zone = ZoneInfo(name)
    days = [FIRST + timedelta(days=n, hours=12) for n in range((LAST - FIRST).days)]
    return [b for a, b in pairwise(days) if a.astimezone(zone).utcoffset() != b.astimezone(zone).utcoffset()]


CHANGE_DAYS = {name: _change_days(name) for name in ZONES + MIDNIGHT_CHANGE_ZONES}


def _instants(name):
    anywhere = st.integers(0, (LAST - FIRST) // MINUTE).map(lambda n: FIRST + n * MINUTE)
    if not CHANGE_DAYS[name]:
        return anywhere
    near_a_change = st.builds(
        lambda day, minutes: day + minutes * MINUTE,
        st.sampled_from(CHANGE_DAYS[name]),
        st.integers(-4 * 24 * 60, 4 * 24 * 60),
    )
    return st.one_of(anywhere, near_a_change)


# Built once: building strategies inside each draw costs more than the code under test.
INSTANTS = {name: _instants(name) for name in CHANGE_DAYS}
OFFSETS = st.one_of(st.sampled_from([24 * HOUR, 2 * HOUR]), st.integers(1, 72 * 60).map(lambda n: n * MINUTE))
SECONDS = st.integers(0, 59).map(lambda n: n * timedelta(seconds=1))


def minute_of_day(n):
    return time(n // 60, n % 60)


def _windows(last_minute):
    """Windows with whole-minute bounds ending by `last_minute` of the day."""
    minutes = st.integers(0, last_minute)
    bounds = st.tuples(minutes, minutes).filter(lambda pair: pair[0] != pair[1]).map(sorted)
    return bounds.map(lambda pair: Window(start=minute_of_day(pair[0]), end=minute_of_day(pair[1])))


# Mostly any window; some only in the small hours, where clocks change.
WINDOWS = st.one_of(st.just(DEFAULT_WINDOW), _windows(24 * 60 - 1), _windows(4 * 60))


def _days(name):
    """Local dates, half of them on or beside a day the zone's clock changes."""
    anywhere = st.integers(0, (LAST - FIRST).days - 1).map(lambda n: FIRST.date() + timedelta(days=n))
    if not CHANGE_DAYS[name]:
        return anywhere
    zone = ZoneInfo(name)
    near_a_change = st.builds(
        lambda noon, days: noon.astimezone(zone).date() + timedelta(days=days),
        st.sampled_from(CHANGE_DAYS[name]),
        st.integers(-1, 1),
    )
    return st.one_of(anywhere, near_a_change)


DAYS = {name: _days(name) for name in ZONES}
FOLDS = st.integers(0, 1)
WHERE = st.sampled_from(["start", "end", "small hours"])
NUDGE = st.integers(-1, 1)
SMALL_HOURS = st.integers(0, 4 * 60)


@st.composite
def reminders(draw):
    """(zone, starts_at, offset, window); half of them due right at a window bound (or a minute either
    side) or in the small hours, on a wall clock near a change, where uniform instants rarely land."""
    name = draw(st.sampled_from(ZONES))
    zone, offset, window = ZoneInfo(name), draw(OFFSETS), draw(WINDOWS)
    if draw(st.booleans()):
        return zone, draw(INSTANTS[name]), offset, window
    where = draw(WHERE)
    if where == "small hours":
        minute = draw(SMALL_HOURS)
    else:
        bound = window.start if where == "start" else window.end
        minute = (bound.hour * 60 + bound.minute + draw(NUDGE)) % (24 * 60)
    due = datetime.combine(draw(DAYS[name]), minute_of_day(minute), tzinfo=zone).replace(fold=draw(FOLDS))
    return zone, due.astimezone(UTC) + offset, offset, window


def inside(instant, zone, window):
    return window.start <= instant.astimezone(zone).time() < window.end


def first_allowed_minute(due, zone, window):
    """The oracle: walk the clock a minute at a time until the window is open."""
    walked = due
    while not inside(walked, zone, window):
        walked += MINUTE
        assert walked - due < timedelta(days=3), "the window should open within a couple of days"
    return walked


# One test for both properties: the examples cost more to generate than to check.
@settings(max_examples=300, deadline=None)
@given(reminders())
def test_it_sends_inside_the_window_before_the_session_and_no_later_than_it_must(reminder):
    zone, starts_at, offset, window = reminder
    due = starts_at - offset
    opens = next_allowed(due, zone=zone, window=window)
    assert opens == first_allowed_minute(due, zone, window)
    result = send_at(starts_at=starts_at, offset=offset, zone=zone, window=window)
    if result is None:
        assert opens >= starts_at
        return
    assert result.tzinfo is UTC
    assert due <= result < starts_at
    assert inside(result, zone, window)
    if inside(due, zone, window):
        assert result == due
    assert result == opens
    if result - MINUTE >= due:
        assert not inside(result - MINUTE, zone, window)


@st.composite
def moments(draw):
    name = draw(st.sampled_from(ZONES + MIDNIGHT_CHANGE_ZONES))
    return ZoneInfo(name), draw(INSTANTS[name]) + draw(SECONDS)


def starts_a_local_day(instant, zone):
    """The first instant of its local date: midnight, or the first instant after a gap over midnight."""
    day = instant.astimezone(zone).date()
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    midnight_exists = midnight.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == midnight.replace(tzinfo=None)
    before = (instant - timedelta(microseconds=1)).astimezone(zone)
    return before.date() == day - timedelta(days=1) and (
        instant.astimezone(zone).time() == time(0) or not midnight_exists
    )


@settings(max_examples=300, deadline=None)
@given(moments())
def test_it_bounds_the_local_day_containing_the_moment(zone_and_moment):
    zone, moment = zone_and_moment
    start, end = local_day_bounds(moment, zone)
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC
    assert start <= moment < end
    assert (end - start) / HOUR in {23, 23.5, 24, 24.5, 25}
    assert start.astimezone(zone).date() == moment.astimezone(zone).date()
    assert starts_a_local_day(start, zone)
    assert starts_a_local_day(end, zone)
