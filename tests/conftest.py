import json
import os
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery.signals import before_task_publish
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.celery import app
from clinic.roles import Role
from tests.clinic.factories import UserFactory
from tests.patients.factories import PatientFactory, put_on_care_team

pytest_plugins = ["tests.fakes.smtp", "tests.fakes.twilio", "tests.privacy"]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets its own test database (pytest-django adds the worker
    to its name) and, from here, its own Redis database: the Celery worker a test starts in
    process (tests/clinic/test_licence_notice.py) would otherwise take tasks another worker's
    tests enqueued, with ids of rows in the other database. REDIS_URL's database (15 by
    default, pyproject.toml) is for gw0, one less for gw1, and so on."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    from django.conf import settings

    parts = urlsplit(settings.REDIS_URL)
    database = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    if database < 1:
        raise pytest.UsageError(f"too many xdist workers for REDIS_URL {settings.REDIS_URL}: none may use database 0")
    url = urlunsplit(parts._replace(path=f"/{database}"))
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    app.conf.update(broker_url=url)


# Staff are made with passwords in many tests; the production hasher's cost (PBKDF2) is not
# what they are about. Tests of hashing itself choose their own.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def make_user(db):
    def make(*roles: str, **kwargs):
        return UserFactory.create(roles=list(roles), **kwargs)

    return make


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client holding a real token of the given user."""

    def make(user):
        _, token = AuthToken.objects.create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture
def clinician(make_user):
    return make_user(Role.CLINICIAN)


@pytest.fixture
def clinician_client(client_for, clinician):
    return client_for(clinician)


@pytest.fixture
def patient(db, clinician):
    """A patient on the `clinician` fixture's care team."""
    patient = PatientFactory.create()
    put_on_care_team(patient, clinician)
    return patient


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Tests run with DEBUG off but without collectstatic: no hashed manifest to read.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def locmem_sms(settings):
    """Texts kept in memory (clinic.messaging.outbox), empty at the start and the end."""
    from clinic import messaging

    settings.SMS_BACKEND = "clinic.messaging.LocmemSmsBackend"
    messaging.outbox.clear()
    yield messaging.outbox
    messaging.outbox.clear()


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Each task message published to the broker in the test (task, args, kwargs, id), taken
    from the message Celery hands to kombu; removed from the queue afterwards, so no worker of
    another run on the same Redis database takes a row id of this test's database."""
    messages: list[dict[str, Any]] = []

    def capture(sender: str | None = None, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        args, task_kwargs, _ = body
        messages.append({"task": sender, "args": list(args), "kwargs": task_kwargs, "id": headers["id"]})

    before_task_publish.connect(capture, weak=False)
    try:
        yield messages
    finally:
        before_task_publish.disconnect(capture)
        _remove_from_queue({m["id"] for m in messages})


def _remove_from_queue(ids: set[str]) -> None:
    if not ids:
        return
    with app.connection_for_write() as connection:
        client = cast(Any, connection.default_channel).client  # kombu's Redis channel: a redis-py client
        for raw in client.lrange("celery", 0, -1):
            if json.loads(raw)["headers"]["id"] in ids:
                client.lrem("celery", 1, raw)
