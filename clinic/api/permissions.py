from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from clinic.roles import Role, may_act_as


class HasClinicRole(BasePermission):
    """The caller holds one of the view's `allowed_roles` (superusers always do)."""

    message = "Your account has no role that may use this endpoint. Ask a clinic administrator."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        allowed: frozenset[str] = getattr(view, "allowed_roles", frozenset(Role.values))
        return may_act_as(user, allowed)
