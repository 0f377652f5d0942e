"""No Docker engine runs here: check docker-compose.yml and the Dockerfile as text."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["web", "worker", "beat", "migrate"]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_every_service(compose):
    assert set(compose["services"]) == {"postgres", "redis", "mailpit", *APP_SERVICES}


def test_it_pins_the_major_versions_of_postgres_and_redis(compose):
    assert compose["services"]["postgres"]["image"] == "postgres:16"
    assert compose["services"]["redis"]["image"] == "redis:7"


def test_app_services_share_one_image_built_from_the_dockerfile(compose):
    images = {compose["services"][name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    assert all(compose["services"][name]["build"] == "." for name in APP_SERVICES)
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", ["postgres", "redis", "mailpit", "web", "worker", "beat"])
def test_long_running_services_have_a_health_check(compose, name):
    check = compose["services"][name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert len(check["test"]) > 1


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(compose, name):
    depends = compose["services"][name]["depends_on"]
    assert depends["postgres"] == {"condition": "service_healthy"}
    assert depends["redis"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_app_services_start_after_migrations(compose, name):
    assert compose["services"][name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_each_app_service_runs_its_own_process(compose):
    commands = {name: " ".join(compose["services"][name]["command"]) for name in APP_SERVICES}
    assert commands["web"].startswith("gunicorn clinic.wsgi --bind 0.0.0.0:8000")
    assert commands["worker"].startswith("celery -A clinic worker")
    assert commands["beat"].startswith("celery -A clinic beat")
    assert commands["migrate"] == "python manage.py migrate --noinput"


def test_compose_has_no_default_secret_key(compose):
    key = compose["x-app"]["environment"]["SECRET_KEY"]
    assert key.startswith("${SECRET_KEY:?")


def test_ports_expose_the_web_and_the_mail_catcher(compose):
    assert compose["services"]["web"]["ports"] == ["8000:8000"]
    assert compose["services"]["mailpit"]["ports"] == ["8025:8025"]


def test_app_services_point_at_the_compose_postgres_redis_and_mailpit(compose):
    env = compose["services"]["web"]["environment"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["EMAIL_URL"] == "smtp://mailpit:1025"
    pg = compose["services"]["postgres"]["environment"]
    assert (
        env["DATABASE_URL"]
        == f"postgres://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    )
