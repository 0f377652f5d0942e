"""Reference levels of care, kept present after every migrate (and test-database flush).

Hours bands: ASAM Criteria 3rd ed. (2013), adult, as summarised in
../shared/reference/clinical.md section 4: outpatient (1) under 9 h a week; intensive
outpatient (2.1) 9 or more (commonly 9-19); partial hospitalization (2.5) 20 or more.
Residential (3.5) and medically monitored withdrawal management (3.7-WM) are 24-hour
settings a clinic like ours refers to; they have no weekly-hours band. Rows are only
created when missing, never overwritten: they are editable in the admin (states adopting
the 4th edition relabel levels).
"""

from decimal import Decimal
from typing import Any

LEVELS = [
    # code, name, ASAM code, min hours (inclusive), max hours (exclusive), residential, order
    ("wm", "Withdrawal management (medically monitored inpatient)", "3.7-WM", None, None, True, 10),
    ("residential", "Residential (clinically managed, high intensity)", "3.5", None, None, True, 20),
    ("php", "Partial hospitalization (PHP)", "2.5", Decimal("20"), None, False, 30),
    ("iop", "Intensive outpatient (IOP)", "2.1", Decimal("9"), Decimal("20"), False, 40),
    ("outpatient", "Outpatient", "1", Decimal("0"), Decimal("9"), False, 50),
]


def seed_levels_of_care(level_model: Any, using: str = "default") -> None:
    for code, name, asam, low, high, residential, order in LEVELS:
        level_model.objects.using(using).get_or_create(
            code=code,
            defaults={
                "name": name,
                "asam_code": asam,
                "asam_edition": 3,
                "min_weekly_hours": low,
                "max_weekly_hours": high,
                "is_residential": residential,
                "sort_order": order,
            },
        )
