"""Roles are Django groups. Who may see what is decided from them (DESIGN.md, "Roles")."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class Role(models.TextChoices):
    CLINIC_ADMIN = "clinic_admin", "Clinic administrator"
    ADMISSIONS = "admissions", "Admissions"
    CLINICIAN = "clinician", "Clinician"
    PRESCRIBER = "prescriber", "Prescriber"
    NURSE = "nurse", "Nurse"
    BILLING = "billing", "Billing"


# Roles that work with clinical records (subject to the care team, see patients/).
CLINICAL_ROLES = frozenset({Role.CLINICIAN, Role.PRESCRIBER, Role.NURSE})
# Roles that see demographics, consents, coverage and scheduling but never clinical records.
FRONT_OFFICE_ROLES = frozenset({Role.ADMISSIONS, Role.BILLING})


_ROLE_NAMES = frozenset(Role.values)


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The user's role names, cached on the user object for the length of a request."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_clinic_roles", None)
    if cached is None:
        # .all() so a list view's prefetch_related("user__groups") is used, not a query per user.
        cached = remember_roles(user, [group.name for group in user.groups.all()])  # type: ignore[attr-defined]
    return cached


def remember_roles(user: AbstractBaseUser, group_names: Iterable[str]) -> frozenset[str]:
    """Cache the user's roles for the request from group names read elsewhere (token
    authentication reads them with the token, in the same query)."""
    roles = frozenset(name for name in group_names if name in _ROLE_NAMES)
    user._clinic_roles = roles  # type: ignore[attr-defined]
    return roles


def has_any_role(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] | set[str]) -> bool:
    return bool(roles_of(user) & roles)


def may_act_as(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] | set[str]) -> bool:
    """Holds one of `roles`, or is a superuser (the deployment's owner, audited like anyone)."""
    return bool(getattr(user, "is_superuser", False)) or has_any_role(user, roles)


def require_role(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] | set[str], doing: str) -> None:
    """For services: refuse, with a message naming who may, unless `may_act_as`."""
    from clinic.errors import Forbidden

    if not may_act_as(user, roles):
        raise Forbidden(f"Only {', '.join(sorted(roles))} staff may {doing}.")
