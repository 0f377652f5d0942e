"""Reference session types, kept present after every migrate (and test-database flush).
Rows are only created when missing, never overwritten: a clinic edits them in the admin.

Which sessions count toward program hours: the ASAM weekly-hours bands count clinical
services (../shared/reference/clinical.md section 4); an intake assessment is before
admission and a nursing check is a few minutes of vitals, so neither counts by default.
"""

from typing import Any

CLINICAL = ["clinician", "prescriber", "nurse"]

SESSION_TYPES = [
    # code, name, group, minutes, counts toward program hours, roles that may lead
    ("group_therapy", "Group therapy", True, 180, True, ["clinician"]),
    ("individual_therapy", "Individual therapy", False, 50, True, ["clinician"]),
    ("psychiatry", "Psychiatry (medication management)", False, 30, True, ["prescriber"]),
    ("family_session", "Family session", False, 60, True, ["clinician"]),
    ("intake_assessment", "Intake assessment", False, 90, False, ["clinician", "prescriber"]),
    ("case_management", "Case management", False, 30, True, ["clinician"]),
    ("nursing_check", "Nursing check", False, 15, False, ["nurse"]),
]

# One-to-one appointment types (the rest are groups, booked through tracks).
ONE_TO_ONE = frozenset(code for code, _, group, *_ in SESSION_TYPES if not group)
INTAKE = "intake_assessment"
FAMILY = "family_session"


def seed_session_types(model: Any, using: str = "default") -> None:
    for code, name, group, minutes, counts, roles in SESSION_TYPES:
        model.objects.using(using).get_or_create(
            code=code,
            defaults={
                "name": name,
                "is_group": group,
                "default_duration_minutes": minutes,
                "counts_toward_program_hours": counts,
                "lead_roles": roles,
            },
        )
