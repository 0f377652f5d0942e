"""Who may see which patients (DESIGN.md, "Roles").

- Front-office roles (admissions, billing) and clinic administrators see every patient's
  demographics, consents, coverage and scheduling; never clinical records.
- Clinical roles (clinician, prescriber, nurse) see a patient, demographics and clinical
  records alike, only while they are on the patient's care team or hold an unexpired
  break-the-glass grant for that patient.
- Superusers (the deployment's owners) see everything; they are audited like anyone.

A patient outside the caller's view is a 404, never a 403 that would confirm they exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.roles import CLINICAL_ROLES, FRONT_OFFICE_ROLES, Role, has_any_role, may_act_as
from patients.models import BreakGlassGrant, CareTeamMember, Patient

DEMOGRAPHICS_FOR_ALL = FRONT_OFFICE_ROLES | {Role.CLINIC_ADMIN}
# An episode is a front-office record (its dates and levels, for scheduling and authorizations),
# but these fields of it are clinical records (DESIGN.md, "Roles"): the API and the admin show
# them only to who may read the patient's clinical records.
EPISODE_CLINICAL_FIELDS = ("relapse_prevention_plan", "safety_plan")


def clinically_visible_patients(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Patient]:
    """Patients whose clinical records the user may open (care team or break-glass)."""
    if not user.is_authenticated:
        return Patient.objects.none()
    if getattr(user, "is_superuser", False):
        return Patient.objects.all()
    if not has_any_role(user, CLINICAL_ROLES):
        return Patient.objects.none()
    today = timezone.localdate()
    # Two subqueries, each on its own index (care_team_open_by_member, break_glass_user_expiry),
    # rather than OR over two outer joins, which can use neither.
    memberships = CareTeamMember.objects.current(today).filter(member_id=user.pk)
    grants = BreakGlassGrant.objects.filter(user_id=user.pk, expires_at__gt=timezone.now())
    return Patient.objects.filter(Q(pk__in=memberships.values("patient_id")) | Q(pk__in=grants.values("patient_id")))


def visible_patients(user: AbstractBaseUser | AnonymousUser, *, clinical: bool) -> QuerySet[Patient]:
    """Patients the user may see: clinical records when `clinical`, else demographics."""
    if not clinical and user.is_authenticated and may_act_as(user, DEMOGRAPHICS_FOR_ALL):
        return Patient.objects.all()
    return clinically_visible_patients(user)


def scope_to_visible_patients(
    queryset: QuerySet[Any], user: AbstractBaseUser | AnonymousUser, *, patient_path: str, clinical: bool
) -> QuerySet[Any]:
    """Filter `queryset` (records reached from a patient by `patient_path`) to visible patients.

    One subquery, whatever the page size; no per-row checks.
    """
    visible = visible_patients(user, clinical=clinical)
    if visible.query.is_empty():
        return queryset.none()
    lookup = "__".join(filter(None, patient_path.split("."))) or None
    if not visible.query.where:
        # Every patient: a subquery naming them all would only cost the database a join
        # (the admissions desk's patient list spent more on it than on its page).
        return queryset.filter(**{f"{lookup}__isnull": False}) if lookup else queryset
    field = f"{lookup}__pk__in" if lookup else "pk__in"
    return queryset.filter(**{field: visible.values("pk")})


def visible_patient(user: AbstractBaseUser | AnonymousUser, public_id: Any, *, clinical: bool) -> Patient | None:
    """The patient with that id if the user may see them (the caller answers 404 if not)."""
    patients = scope_to_visible_patients(Patient.objects.all(), user, patient_path="", clinical=clinical)
    return patients.filter(public_id=public_id).first()
