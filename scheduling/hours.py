"""Weekly program hours against a level's band (pure, no Django).

Bands: ASAM Criteria 3rd ed. adult hours (../shared/reference/clinical.md section 4),
stored on LevelOfCare: PHP 20 or more clinical hours a week, IOP 9 to under 20,
outpatient under 9. The week is the ISO week (Monday to Sunday) in the patient's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Week:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """'2026-W48' -> Week(2026, 48); ValueError with a readable message otherwise."""
        try:
            year, _, number = text.upper().partition("-W")
            week = cls(int(year), int(number))
            if not 2000 <= week.year <= 2100:
                raise ValueError("year out of range")
            week.monday()
        except ValueError as error:
            raise ValueError(f"'{text}' is not an ISO week; write it like 2026-W48.") from error
        return week

    @classmethod
    def of(cls, day: date) -> Week:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00) in `zone`, as aware datetimes."""
        start = datetime.combine(self.monday(), time(0), tzinfo=zone)
        end = datetime.combine(self.monday() + timedelta(days=7), time(0), tzinfo=zone)
        return start, end

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def band_status(
    minutes: Decimal | float | int, min_hours: Decimal | int | None, max_hours: Decimal | int | None
) -> str:
    """'under', 'within' or 'over' the band; 'within' when the level has no band."""
    hours = Decimal(str(minutes)) / 60
    if min_hours is not None and hours < min_hours:
        return "under"
    if max_hours is not None and hours >= max_hours:
        return "over"
    return "within"
