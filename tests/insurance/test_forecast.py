"""Authorization burn-down arithmetic (insurance.forecast), without a database."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from insurance.forecast import UnitEvent, burn_down

MONDAY = date(2026, 11, 23)


def day(n: int) -> date:
    return MONDAY + timedelta(days=n)


def run(events, *, authorized=10, unit="day", starts=0, ends=60, today=0):
    return burn_down(
        units_authorized=authorized,
        unit=unit,
        starts_on=day(starts),
        ends_on=day(ends),
        events=events,
        today=day(today),
    )


def test_it_counts_a_day_once_however_many_sessions_it_had():
    events = [UnitEvent(day(0), "present"), UnitEvent(day(0), "late"), UnitEvent(day(1), "left_early")]
    result = run(events, today=2)
    assert result.units_used == 2
    assert run(events, unit="session", today=2).units_used == 3


def test_it_ignores_absences_excused_days_and_days_outside_the_dates():
    events = [UnitEvent(day(0), "absent"), UnitEvent(day(1), "excused"), UnitEvent(day(-1), "present")]
    assert run(events, today=3).units_used == 0


def test_it_forecasts_the_run_out_on_the_scheduled_day_that_uses_the_last_unit():
    used = [UnitEvent(day(n), "present") for n in (0, 1, 2)]
    scheduled = [UnitEvent(day(n), "") for n in (7, 8, 9, 14, 15, 16)]
    result = run(used + scheduled, authorized=6, today=3)
    assert (result.units_used, result.units_scheduled, result.units_remaining) == (3, 6, 3)
    assert result.runs_out_on == day(9)
    assert result.basis == "scheduled"
    assert result.over_scheduled == 3


def test_a_day_attended_this_morning_is_not_also_scheduled_this_afternoon():
    events = [UnitEvent(day(3), "present"), UnitEvent(day(3), ""), UnitEvent(day(4), "")]
    result = run(events, authorized=5, today=3)
    assert (result.units_used, result.units_scheduled) == (1, 1)


def test_it_projects_past_the_schedule_at_the_scheduled_pace():
    # Three units a week scheduled for two weeks (6), 10 left: 4 more at 3 a week = 10 days on.
    scheduled = [UnitEvent(day(n), "") for n in (0, 2, 4, 7, 9, 11)]
    result = run(scheduled, authorized=10, today=0)
    assert result.basis == "projected"
    assert result.runs_out_on == day(11 + 10)


def test_it_does_not_forecast_a_run_out_after_the_authorization_ends():
    scheduled = [UnitEvent(day(n), "") for n in (0, 7)]
    result = run(scheduled, authorized=30, ends=20, today=0)
    assert (result.runs_out_on, result.basis) == (None, "none")


def test_run_out_is_the_day_the_last_unit_was_used_once_used_up():
    used = [UnitEvent(day(n), "present") for n in range(5)]
    result = run(used, authorized=3, today=10)
    assert (result.runs_out_on, result.basis, result.units_remaining) == (day(2), "used", 0)


def test_nothing_scheduled_means_no_forecast():
    result = run([UnitEvent(day(0), "present")], authorized=5, today=1)
    assert (result.runs_out_on, result.basis, result.units_remaining) == (None, "none", 4)


@given(
    attendance=st.lists(
        st.tuples(st.integers(-5, 70), st.sampled_from(["present", "late", "absent", ""])), max_size=40
    ),
    authorized=st.integers(0, 40),
    today=st.integers(0, 60),
    unit=st.sampled_from(["day", "session"]),
)
def test_the_burn_down_adds_up(attendance, authorized, today, unit):
    events = [UnitEvent(day(n), mark) for n, mark in attendance]
    result = run(events, authorized=authorized, unit=unit, today=today)
    assert result.units_remaining == max(authorized - result.units_used, 0)
    assert result.over_scheduled == max(result.units_scheduled - result.units_remaining, 0)
    if result.runs_out_on is not None:
        assert day(0) <= result.runs_out_on <= day(60)
        if result.basis == "scheduled":
            assert result.runs_out_on >= day(today)
