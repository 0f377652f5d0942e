"""The admin site: Django's, with the desk's start page (clinic.desk) above the app list,
and a second factor at login for staff who have an authenticator (django-otp TOTP)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_otp import user_has_device

from clinic.desk import desk_panels
from clinic.security import SecondFactorRefused, second_factor_check


class DeskAuthenticationForm(AdminAuthenticationForm):
    """Username and password, then the authenticator's code for a user who has one.

    A user with a confirmed TOTP device must give its current code; a user without one
    logs in with the password alone, unless ADMIN_REQUIRE_OTP asks every staff user for a
    code (clinic.security.second_factor_check).
    """

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=16,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6-digit code from your authenticator app, if you have set one up.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        user = self.get_user()
        if user is not None:
            self._check_second_factor(user)
        return cleaned_data

    def _check_second_factor(self, user: Any) -> None:
        try:
            device = second_factor_check(
                user=user,
                token=self.cleaned_data.get("otp_token") or "",
                request=self.request,
            )
        except SecondFactorRefused as refused:
            raise forms.ValidationError(refused.message, code=refused.code) from None
        if device is not None:
            # django_otp's user_logged_in receiver records the device in the session.
            user.otp_device = device


class DeskAdminSite(admin.AdminSite):
    site_header = "Clinic administration"
    site_title = "Clinic administration"
    index_title = "Admissions desk"
    index_template = "admin/desk_index.html"
    login_form = DeskAuthenticationForm
    login_template = "admin/desk_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        """Staff, and verified by their authenticator if they have one (or if every staff
        user must). A session from before a device was added ends at the next request."""
        if not super().has_permission(request):
            return False
        user = request.user
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and is_verified():
            return True
        if settings.ADMIN_REQUIRE_OTP:
            return False
        # Asked more than once per page (the view's guard, the page's context): one query.
        if not hasattr(request, "_desk_has_device"):
            request._desk_has_device = user_has_device(user, confirmed=True)  # type: ignore[attr-defined]
        return not request._desk_has_device  # type: ignore[attr-defined]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        return super().index(request, {"desk_panels": desk_panels(request), **(extra_context or {})})
