"""Login and session: lockout after failed logins (django-axes) on the admin and the API,
password rules, the admin's optional second factor (django-otp TOTP), session expiry,
security headers and CSRF on the admin."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from clinic.roles import Role
from tests.clinic.factories import PASSWORD, LocationFactory

TOKEN_URL = "/api/v1/auth/token/"
LOGIN_URL = "/admin/login/"

# These tests log in dozens of times; PBKDF2's default cost would take most of a minute.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def api_login(api_client, username, password, address="203.0.113.7", **extra):
    return api_client.post(
        TOKEN_URL, {"username": username, "password": password, **extra}, format="json", REMOTE_ADDR=address
    )


def admin_login(client, username, password, otp_token="", address="203.0.113.7"):
    return client.post(
        LOGIN_URL,
        {"username": username, "password": password, "otp_token": otp_token, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def code_of(device: TOTPDevice, *, offset: int = 0) -> str:
    """The code the user's phone shows now (offset: steps later), computed from the device's key."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + offset):0{device.digits}d}"


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse1")


@pytest.fixture
def device(nurse):
    return TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)


# --- Lockout -------------------------------------------------------------------------------


def test_it_locks_the_api_login_after_the_failure_limit_in_the_error_shape(api_client, nurse):
    for _ in range(4):
        assert api_login(api_client, "nurse1", "wrong").status_code == 400
    response = api_login(api_client, "nurse1", "wrong")
    assert response.status_code == 429
    assert response.json() == {
        "message": "Too many failed logins for this username from your address. Try again in 1 hour, "
        "or ask a clinic administrator to unlock the account.",
        "extra": {"retry_after_seconds": 3600},
    }
    assert response["Retry-After"] == "3600"
    # Locked: the right password does not get in either, and no token is made.
    assert api_login(api_client, "nurse1", PASSWORD).status_code == 429
    assert AuthToken.objects.count() == 0


def test_the_failure_limit_is_a_setting(api_client, nurse, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert api_login(api_client, "nurse1", "wrong").status_code == 400
    assert api_login(api_client, "nurse1", "wrong").status_code == 429


def test_a_lockout_holds_one_username_at_one_address_only(api_client, nurse, make_user):
    make_user(Role.NURSE, username="nurse2")
    for _ in range(5):
        api_login(api_client, "nurse1", "wrong", address="203.0.113.7")
    assert api_login(api_client, "nurse1", PASSWORD, address="203.0.113.7").status_code == 429
    # The attacker's address cannot lock the nurse out at the clinic, nor a colleague out anywhere.
    assert api_login(api_client, "nurse1", PASSWORD, address="198.51.100.20").status_code == 200
    assert api_login(api_client, "nurse2", PASSWORD, address="203.0.113.7").status_code == 200


def test_a_successful_login_clears_the_failures(api_client, nurse):
    for _ in range(4):
        api_login(api_client, "nurse1", "wrong")
    assert api_login(api_client, "nurse1", PASSWORD).status_code == 200
    for _ in range(4):
        assert api_login(api_client, "nurse1", "wrong").status_code == 400
    assert api_login(api_client, "nurse1", PASSWORD).status_code == 200


def test_the_lockout_ends_after_the_cooloff(api_client, nurse):
    for _ in range(5):
        api_login(api_client, "nurse1", "wrong")
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        assert api_login(api_client, "nurse1", PASSWORD).status_code == 429
    # A try during the lockout started the hour again: 117 minutes after the failures, still locked,
    with time_machine.travel(timezone.now() + timedelta(minutes=59 + 58)):
        assert api_login(api_client, "nurse1", PASSWORD).status_code == 429
    # and an hour after that last try, open.
    with time_machine.travel(timezone.now() + timedelta(minutes=59 + 58 + 61)):
        assert api_login(api_client, "nurse1", PASSWORD).status_code == 200


def test_it_locks_the_admin_login_too_with_a_page_that_says_what_to_do(client, nurse):
    for _ in range(4):
        assert admin_login(client, "nurse1", "wrong").status_code == 200  # the form again, with its error
    response = admin_login(client, "nurse1", "wrong")
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    assert "Try again in 1 hour, or ask a clinic administrator to unlock the account." in response.content.decode()
    assert admin_login(client, "nurse1", PASSWORD).status_code == 429
    assert client.get("/admin/").status_code == 302


def test_a_failed_login_is_kept_without_its_password_or_code(client, nurse, device):
    admin_login(client, "nurse1", "not-the-password-xyz", otp_token="123456")
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("nurse1", "203.0.113.7", 1)
    assert "not-the-password-xyz" not in attempt.post_data
    assert "123456" not in attempt.post_data
    assert AccessFailureLog.objects.filter(username="nurse1").count() == 1


# --- Passwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["Tr0ub4dor&3", "password1234", "123456789012345", "nurse1@example.org"],
    ids=["short", "common", "numeric", "like-the-email"],
)
def test_it_refuses_a_weak_password(password, nurse):
    with pytest.raises(ValidationError):
        validate_password(password, user=nurse)


def test_it_accepts_a_long_uncommon_password(nurse):
    validate_password("mossy-lantern-quietly-47", user=nurse)


def test_the_admin_refuses_a_weak_password_for_a_new_user(client, make_user):
    client.force_login(make_user(is_superuser=True))
    response = client.post(
        "/admin/auth/user/add/",
        {"username": "newnurse", "password1": "short-pw1", "password2": "short-pw1", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert not get_user_model().objects.filter(username="newnurse").exists()


# --- Second factor (TOTP) --------------------------------------------------------------------


def test_a_user_without_an_authenticator_logs_in_with_the_password(client, nurse):
    response = admin_login(client, "nurse1", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200  # the desk's start page


def test_a_user_with_an_authenticator_must_give_its_code(client, nurse, device):
    response = admin_login(client, "nurse1", PASSWORD)
    assert response.status_code == 200
    assert "Your account has an authenticator: enter the 6-digit code it shows." in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_the_right_code_logs_in_and_verifies_the_session(client, nurse, device):
    response = admin_login(client, "nurse1", PASSWORD, otp_token=code_of(device))
    assert response.status_code == 302
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_is_refused_and_counts_toward_the_lockout(client, nurse, device):
    response = admin_login(client, "nurse1", PASSWORD, otp_token=code_of(device, offset=10))
    assert response.status_code == 200
    assert "That authenticator code is wrong or has expired." in response.content.decode()
    assert AccessAttempt.objects.get(username="nurse1").failures_since_start == 1
    assert client.get("/admin/").status_code == 302


def test_a_code_cannot_be_used_twice(client, nurse, device):
    code = code_of(device)
    assert admin_login(client, "nurse1", PASSWORD, otp_token=code).status_code == 302
    other = Client()
    assert admin_login(other, "nurse1", PASSWORD, otp_token=code).status_code == 200
    assert other.get("/admin/").status_code == 302


def test_an_unconfirmed_authenticator_is_not_asked_for(client, nurse):
    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=False)
    assert admin_login(client, "nurse1", PASSWORD).status_code == 302


def test_a_session_from_before_the_authenticator_was_added_must_log_in_again(client, nurse):
    client.force_login(nurse)
    assert client.get("/admin/").status_code == 200
    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    assert client.get("/admin/")["Location"].startswith(LOGIN_URL)


def test_with_admin_require_otp_staff_without_an_authenticator_cannot_log_in(client, nurse, settings):
    settings.ADMIN_REQUIRE_OTP = True
    response = admin_login(client, "nurse1", PASSWORD)
    assert response.status_code == 200
    assert "no authenticator set up. Ask a clinic administrator to add one." in response.content.decode()
    client.force_login(nurse)
    assert client.get("/admin/").status_code == 302


def test_with_admin_require_otp_no_api_token_is_issued_without_an_authenticator(api_client, nurse, settings):
    # Or a token would get round the rule the admin enforces.
    settings.ADMIN_REQUIRE_OTP = True
    response = api_login(api_client, "nurse1", PASSWORD)
    assert response.status_code == 400
    assert response.json()["extra"] == {"code": "otp_device_required"}
    assert not AuthToken.objects.filter(user=nurse).exists()


def test_with_admin_require_otp_staff_with_an_authenticator_log_in_with_the_code(client, nurse, device, settings):
    settings.ADMIN_REQUIRE_OTP = True
    assert admin_login(client, "nurse1", PASSWORD, otp_token=code_of(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_api_asks_for_the_code_of_a_user_who_has_an_authenticator(api_client, nurse, device):
    response = api_login(api_client, "nurse1", PASSWORD)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Your account has an authenticator: enter the 6-digit code it shows.",
        "extra": {"code": "otp_token_required"},
    }
    assert api_login(api_client, "nurse1", PASSWORD, otp_token=code_of(device, offset=10)).status_code == 400
    # After a wrong code django-otp makes the device wait (1 s, doubling with each wrong code).
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        assert api_login(api_client, "nurse1", PASSWORD, otp_token=code_of(device)).status_code == 200
    assert AuthToken.objects.filter(user=nurse).count() == 1


def test_an_administrator_adds_an_authenticator_and_sees_its_qr_code(client, make_user, nurse):
    client.force_login(make_user(is_superuser=True))
    response = client.post(
        "/admin/otp_totp/totpdevice/add/",
        {
            "user": nurse.pk,
            "name": "phone",
            "confirmed": "on",
            "key": TOTPDevice._meta.get_field("key").default(),
            "step": 30,
            "t0": 0,
            "digits": 6,
            "tolerance": 1,
            "drift": 0,
            "throttling_failure_count": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    device = TOTPDevice.objects.get(user=nurse)
    config = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/")
    assert config.status_code == 200
    assert "otpauth://totp/" in config.content.decode()
    qrcode = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/")
    assert qrcode["Content-Type"] == "image/svg+xml"
    assert client.get("/admin/otp_totp/totpdevice/999999/config/").status_code == 404
    # The nurse's next login asks for the code from the phone that scanned it.
    assert admin_login(Client(), "nurse1", PASSWORD, otp_token=code_of(device)).status_code == 302


# --- Session, headers, CSRF -------------------------------------------------------------------


def test_the_admin_session_ends_at_browser_close_and_after_eight_hours(client, nurse):
    response = admin_login(client, "nurse1", PASSWORD)
    cookie = response.cookies["sessionid"]
    assert not cookie["expires"]  # a browser-session cookie
    assert not cookie["max-age"]
    assert cookie["httponly"]
    assert client.session.get_expiry_age() == 8 * 3600
    with time_machine.travel(timezone.now() + timedelta(hours=7, minutes=59)):
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=8, minutes=1)):
        assert client.get("/admin/")["Location"].startswith(LOGIN_URL)


def test_admin_pages_carry_the_security_headers(client):
    response = client.get(LOGIN_URL, secure=True)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "form-action 'self'" in response["Content-Security-Policy"]


def test_the_admin_refuses_a_post_without_the_csrf_token(make_user):
    location = LocationFactory.create()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(is_superuser=True))
    url = f"/admin/clinic/location/{location.pk}/change/"
    assert client.post(url, {"name": "Renamed"}).status_code == 403
    # The same post with the form's token gets past CSRF (to the form's own validation).
    client.get(url)
    with_token = client.post(url, {"name": "Renamed", "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert with_token.status_code != 403


def test_the_admin_login_refuses_a_post_without_the_csrf_token(nurse):
    client = Client(enforce_csrf_checks=True)
    assert admin_login(client, "nurse1", PASSWORD).status_code == 403
    assert client.get("/admin/").status_code == 302
