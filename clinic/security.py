"""Login and session safety that is not a view: the answer to a locked-out login
(django-axes), the client address lockouts count by, the admin's Content-Security-Policy,
and revoking a user's API tokens when their password changes or their account is closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework import status

from clinic.errors import error_body


class SecondFactorRefused(Exception):
    """The login's second factor is missing or wrong; the message says what to do."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def second_factor_check(*, user: Any, token: str, request: HttpRequest | None) -> TOTPDevice | None:
    """After the password, at every login (the admin's and the API token's alike, or one
    would get round the other): the device that accepts `token`, or None for a user without
    a confirmed TOTP device (refused instead when ADMIN_REQUIRE_OTP asks every staff user
    for a code).

    A wrong code counts as a failed login toward the lockout (django-axes), so a stolen
    password cannot be used to try codes until one fits; the device's own throttle
    (django-otp: a doubling wait after each wrong code) applies too.
    """
    devices = TOTPDevice.objects.devices_for_user(user, confirmed=True)
    if not devices.exists():
        if settings.ADMIN_REQUIRE_OTP:
            raise SecondFactorRefused(
                "Every staff user must give an authenticator code here, and your account has no "
                "authenticator set up. Ask a clinic administrator to add one.",
                code="otp_device_required",
            )
        return None
    token = "".join(token.split())
    if not token:
        raise SecondFactorRefused(
            "Your account has an authenticator: enter the 6-digit code it shows.", code="otp_token_required"
        )
    throttled = False
    with transaction.atomic():
        # Locked, so two logins racing with the same code cannot both use it.
        for device in devices.select_for_update():
            if not device.verify_is_allowed()[0]:
                throttled = True
            elif device.verify_token(token):
                return device
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    if throttled:
        raise SecondFactorRefused(
            "Too many wrong authenticator codes: wait a minute, then enter the code your app shows.",
            code="otp_throttled",
        )
    raise SecondFactorRefused(
        "That authenticator code is wrong or has expired. Enter the code your app shows now.",
        code="otp_token_invalid",
    )


def _wait_in_words(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """What a locked-out login gets (AXES_LOCKOUT_CALLABLE): 429 and Retry-After, in the
    API's one error shape under /api/ and as an admin page elsewhere."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else None
    if seconds:
        message = (
            "Too many failed logins for this username from your address. "
            f"Try again in {_wait_in_words(seconds)}, or ask a clinic administrator to unlock the account."
        )
    else:
        message = "Too many failed logins for this username from your address. Ask a clinic administrator to unlock it."
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body(message, {"retry_after_seconds": seconds}), status=status.HTTP_429_TOO_MANY_REQUESTS
        )
    else:
        context = {**admin.site.each_context(request), "title": "Login locked", "message": message}
        response = render(request, "admin/locked_out.html", context, status=status.HTTP_429_TOO_MANY_REQUESTS)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


class AdminContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on the admin's pages.

    Only what cannot break a page: no <base> or form posts to another site, no framing,
    no plugins. Scripts are not restricted, because desk pages carry inline scripts
    (scheduling's week view) that a nonce would have to reach first.
    """

    policy = "base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def revoke_api_tokens(sender: type, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    """post_save of the user: a new password, an unusable one or a deactivated account ends
    every API token of the user (admin sessions end by themselves: Django checks the
    password hash in the session, and refuses inactive users).

    This is a signal because the password is set by Django's own forms and commands
    (the admin's change-password form, `changepassword`), not by a service of ours.
    `_password` is the raw password `set_password` leaves until the save: a hash merely
    upgraded at login (a new hasher iteration count) leaves it unset and revokes nothing.
    """
    if created:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login, written on every admin login
    password_set = getattr(instance, "_password", None) is not None
    if password_set or not instance.is_active or not instance.has_usable_password():
        AuthToken.objects.filter(user=instance).delete()
