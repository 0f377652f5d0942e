import secrets

from tests.utils import manage

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "clinic.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "EMAIL_URL": "smtp://mail.example.org:587",
}


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_a_short_or_placeholder_secret_key_when_debug_is_off():
    for key in ["short", "django-insecure-" + "x" * 60, "a" * 60]:
        result = manage("check", DEBUG="false", SECRET_KEY=key)
        assert result.returncode != 0, key
        assert "SECRET_KEY must be set" in result.stderr


def test_it_starts_without_a_secret_key_in_debug():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


HEADERS_IN_PRODUCTION = """
from django.conf import settings
from django.test import Client
response = Client().get("/healthz", secure=True, HTTP_HOST="clinic.example.org")
print(response.status_code)
for name in ("Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
             "Cross-Origin-Opener-Policy"):
    print(f"{name}: {response.get(name)}")
print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY)
print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME, settings.ADMIN_REQUIRE_OTP)
"""


def test_responses_carry_the_security_headers_with_production_settings():
    # The lockout and second-factor settings ride along (their defaults, 5 failures and an hour,
    # are what tests/clinic/test_login_security.py runs with).
    overrides = {"AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_TIME": "0.25", "ADMIN_REQUIRE_OTP": "true"}
    result = manage("shell", "-c", HEADERS_IN_PRODUCTION, **PRODUCTION, **overrides)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-8:] == [
        "200",
        "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload",
        "X-Frame-Options: DENY",
        "X-Content-Type-Options: nosniff",
        "Referrer-Policy: same-origin",
        "Cross-Origin-Opener-Policy: same-origin",
        "True True True",
        "3 0.25 True",
    ]
