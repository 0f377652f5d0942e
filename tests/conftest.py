import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.roles import Role
from tests.clinic.factories import UserFactory
from tests.patients.factories import PatientFactory, put_on_care_team

pytest_plugins = ["tests.fakes.twilio"]


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
