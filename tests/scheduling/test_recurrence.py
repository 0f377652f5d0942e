from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.recurrence import RecurrenceError, occurrences, parse

NY = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")


def expand(rule, zone, start_on, days, start_time=time(9), minutes=180, ends_on=None):
    window_start = datetime.combine(start_on, time(0), tzinfo=zone)
    return list(
        occurrences(
            rule,
            starts_on=start_on,
            ends_on=ends_on,
            start_time=start_time,
            duration_minutes=minutes,
            zone=zone,
            window_start=window_start,
            window_end=window_start + timedelta(days=days),
        )
    )


@pytest.mark.parametrize(("zone", "standard_utc_hour", "daylight_utc_hour"), [(NY, 14, 13), (CHICAGO, 15, 14)])
def test_a_weekly_group_keeps_its_wall_clock_time_across_the_fall_change(zone, standard_utc_hour, daylight_utc_hour):
    # US daylight saving ends Sunday 1 November 2026.
    sessions = expand("FREQ=WEEKLY;BYDAY=MO,WE,TH", zone, date(2026, 10, 26), 14)
    assert [s.astimezone(zone).strftime("%a %d %H:%M") for s, _ in sessions] == [
        "Mon 26 09:00", "Wed 28 09:00", "Thu 29 09:00", "Mon 02 09:00", "Wed 04 09:00", "Thu 05 09:00",
    ]  # fmt: skip
    assert [s.hour for s, _ in sessions] == [daylight_utc_hour] * 3 + [standard_utc_hour] * 3
    assert all((e - s) == timedelta(hours=3) for s, e in sessions)


@pytest.mark.parametrize("zone", [NY, CHICAGO])
def test_a_weekly_group_keeps_its_wall_clock_time_across_the_spring_change(zone):
    # US daylight saving begins Sunday 14 March 2027.
    sessions = expand("FREQ=WEEKLY;BYDAY=FR,MO", zone, date(2027, 3, 12), 4)
    assert [s.astimezone(zone).strftime("%a %H:%M") for s, _ in sessions] == ["Fri 09:00", "Mon 09:00"]
    assert sessions[0][0].utcoffset() == sessions[1][0].utcoffset() == timedelta(0)
    assert sessions[1][0] - sessions[0][0] == timedelta(days=3) - timedelta(hours=1)


def test_a_time_in_the_spring_gap_moves_forward_by_the_gap():
    sessions = expand("FREQ=DAILY", NY, date(2027, 3, 13), 3, start_time=time(2, 30), minutes=60)
    local = [(s.astimezone(NY).strftime("%d %H:%M"), e.astimezone(NY).strftime("%H:%M")) for s, e in sessions]
    assert local == [("13 02:30", "03:30"), ("14 03:30", "04:30"), ("15 02:30", "03:30")]


def test_until_and_the_tracks_end_date_both_stop_it():
    assert len(expand("FREQ=WEEKLY;BYDAY=MO;UNTIL=20261207T235959Z", NY, date(2026, 11, 23), 60)) == 3
    assert len(expand("FREQ=WEEKLY;BYDAY=MO", NY, date(2026, 11, 23), 60, ends_on=date(2026, 11, 30))) == 2


def test_the_window_starts_late_in_a_long_running_track():
    # A track that began years ago is expanded from the window, not from its first day.
    window_start = datetime(2026, 11, 23, tzinfo=NY)
    later = list(
        occurrences(
            "FREQ=DAILY",
            starts_on=date(2020, 1, 1),
            ends_on=None,
            start_time=time(9),
            duration_minutes=60,
            zone=NY,
            window_start=window_start,
            window_end=window_start + timedelta(days=2),
        )
    )
    assert [s.astimezone(NY).date() for s, _ in later] == [date(2026, 11, 23), date(2026, 11, 24)]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "Give a recurrence rule"),
        ("FREQ=WEEKLY;BYDAY=XX", "is not a day like"),
        ("FREQ=MONTHLY;BYDAY=53MO", "is not a day like"),
        ("FREQ=DAILY;INTERVAL=-5", "out of range"),
        ("FREQ=DAILY;INTERVAL=0", "out of range"),
        ("FREQ=DAILY;COUNT=0", "out of range"),
        ("FREQ=MONTHLY;BYMONTH=13", "out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "out of range"),
        ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "makes no session"),
        ("FREQ=WEEKLY;FREQ=DAILY", "given twice"),
        ("FREQ=HOURLY", "FREQ must be one of"),
        ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR not allowed"),
        ("WEEKLY", "is not NAME=VALUE"),
        ("FREQ=WEEKLY;COUNT=x", "not a whole number"),
        ("FREQ=WEEKLY;UNTIL=20261101T000000Z", "makes no session"),
    ],
)
def test_a_rule_that_does_not_parse_says_why(rule, message):
    with pytest.raises(RecurrenceError, match=message):
        parse(rule, starts_on=date(2026, 11, 23), start_time=time(9))


@given(
    zone=st.sampled_from([NY, CHICAGO, ZoneInfo("America/Denver"), ZoneInfo("America/Los_Angeles")]),
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
    hour=st.integers(5, 20),
    days=st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR"]), min_size=1),
)
def test_every_occurrence_is_on_a_chosen_weekday_at_the_same_wall_clock_time(zone, start, hour, days):
    sessions = expand(f"FREQ=WEEKLY;BYDAY={','.join(sorted(days))}", zone, start, 70, start_time=time(hour))
    names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    assert sessions
    for begin, end in sessions:
        local = begin.astimezone(zone)
        assert (local.hour, local.minute) == (hour, 0)
        assert names[local.weekday()] in days
        assert end.astimezone(UTC) - begin.astimezone(UTC) == timedelta(minutes=180)
