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
