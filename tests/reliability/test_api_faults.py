"""The web process survives its dependencies' faults (issue 9, "Faults"): gunicorn serving the
app against a PostgreSQL cluster of the test's own that is restarted and stopped under it, and
against a Redis of its own that is stopped. Requests fail cleanly (a 503 in the one error shape,
at once, not a 500 or a hang) and the same worker serves again when the dependency is back.
Nothing here stops the shared PostgreSQL on 5432 or the shared Redis on 6379."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import httpx
import psycopg
import pytest
from django.db import InterfaceError, OperationalError, transaction
from django.test import Client
from knox.models import AuthToken
from kombu.exceptions import OperationalError as BrokerUnavailable

from clinic import urls
from clinic.api.authentication import TokenAuthentication
from clinic.queueing import enqueue_on_commit
from clinic.roles import Role
from patients.models import Patient
from tapers.models import WithdrawalCheck
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.reliability.conftest import ThrowawayPostgres, copy_test_database
from tests.tapers.test_checks import scores
from tests.utils import database_url

# The live tests' rows must be committed for the web process (and pg_dump) to see them.
live = pytest.mark.django_db(transaction=True)

# Bounded, not timed: a request that hangs fails the test here instead of stalling the run.
REQUEST_TIMEOUT = 30
APP_NAME = "faults-web"


def assert_unavailable(response: httpx.Response, *, content_type: str = "application/json") -> dict[str, Any]:
    """A 503 in the one error shape, with a Retry-After the client can follow."""
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Content-Type"].startswith(content_type)
    if content_type != "application/json":
        return {}
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert body["message"]
    assert body["extra"] == {"unavailable": "database"}
    return body


def web_backends(cluster: ThrowawayPostgres, dbname: str) -> set[int]:
    """The web process's PostgreSQL sessions on the throwaway cluster."""
    with psycopg.connect(cluster.url(dbname), autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]).fetchall()
    return {pid for (pid,) in rows}


@pytest.fixture
def staff(make_user) -> dict[str, Any]:
    """A clinic administrator with an API token and an admin session, in the test database
    (committed: the test is transactional), to be copied to the throwaway cluster."""
    user = make_user(Role.CLINIC_ADMIN)
    _, token = AuthToken.objects.create(user=user)
    admin = Client()
    admin.force_login(user)
    return {"user": user, "token": token, "session": admin.cookies["sessionid"].value}


@live
def test_a_postgresql_restart_and_outage_fail_requests_cleanly_and_the_same_worker_recovers(
    throwaway_postgres, web, staff
):
    dbname = "clinic_faults"
    url = copy_test_database(throwaway_postgres, dbname)
    server = web(DATABASE_URL=f"{url}?application_name={APP_NAME}")
    api = httpx.Client(
        base_url=server.url, timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Token {staff['token']}"}
    )
    admin = httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, cookies={"sessionid": staff["session"]})
    login = {"username": staff["user"].username, "password": "x" * 20}
    workers = server.workers()
    assert len(workers) == 1

    def me() -> httpx.Response:
        return api.get("/api/v1/auth/me/")

    assert me().status_code == 200
    held = web_backends(throwaway_postgres, dbname)
    assert len(held) == 1  # the worker keeps its connection between requests (DATABASE_CONN_MAX_AGE)

    # A restart ends that session under the app; the health check replaces it before use.
    throwaway_postgres.pg_ctl("restart")
    assert me().status_code == 200
    assert api.get("/api/v1/locations/").status_code == 200
    assert web_backends(throwaway_postgres, dbname).isdisjoint(held)

    # Down: every request that needs the database is a 503 in the error shape, whatever it is.
    throwaway_postgres.pg_ctl("stop")
    assert_unavailable(me())
    assert_unavailable(api.get("/api/v1/locations/"))
    assert_unavailable(httpx.post(f"{server.url}/api/v1/auth/token/", json=login, timeout=REQUEST_TIMEOUT))
    assert_unavailable(admin.get("/admin/jsi18n/"), content_type="text/html")  # the admin: its session lookup
    ready = server_get(server, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["extra"]["checks"] == {"database": "unreachable", "broker": "ok"}
    assert server_get(server, "/healthz").status_code == 200  # alive: an orchestrator must not restart it

    # Back: the same worker serves again, on a new connection; nothing was restarted.
    throwaway_postgres.pg_ctl("start")
    assert me().status_code == 200
    assert admin.get("/admin/jsi18n/").status_code == 200
    assert server_get(server, "/readyz").status_code == 200
    assert server.workers() == workers


def server_get(server, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", timeout=REQUEST_TIMEOUT)


@live
def test_with_redis_down_the_api_and_the_admin_keep_working(redis_server, web, make_user, staff):
    """The only use of Redis is the Celery broker (the cache, throttling, sessions and login
    lockouts are in the process or in PostgreSQL). A request whose work enqueues a task after
    commit still succeeds with the broker stopped: the record is written, and the request is
    answered as usual."""
    server = web(DATABASE_URL=database_url(), EMAIL_URL="consolemail://")
    nurse = make_user(Role.NURSE)
    patient: Patient = PatientFactory.create()
    put_on_care_team(patient, nurse)
    _, token = AuthToken.objects.create(user=nurse)
    api = httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Token {token}"})
    admin = httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, cookies={"sessionid": staff["session"]})
    redis_server.stop()

    ready = server_get(server, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["extra"]["checks"] == {"database": "ok", "broker": "unreachable"}

    # A moderate withdrawal check holds and alerts the care team through a task.
    response = api.post("/api/v1/withdrawal-checks/", json={"patient": str(patient.public_id), "items": scores(25)})
    assert response.status_code == 201, response.text
    assert response.json()["hold"] is True
    assert WithdrawalCheck.objects.filter(patient=patient, hold=True).count() == 1
    assert api.get("/api/v1/auth/me/").status_code == 200
    assert admin.get("/admin/jsi18n/").status_code == 200
    assert "could not enqueue tapers.tasks.plans.alert_care_team" in server.log.read_text()


# --- the same answers in the process, without a server to stop ----------------------------------


@pytest.mark.django_db
def test_an_api_view_meeting_a_database_outage_answers_503_in_the_error_shape(clinician_client):
    with mock.patch.object(TokenAuthentication, "authenticate", side_effect=OperationalError("connection refused")):
        response = clinician_client.get("/api/v1/auth/me/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["extra"] == {"unavailable": "database"}


def raising(cause: type[psycopg.Error]) -> Any:
    """A side effect raising Django's OperationalError from psycopg's `cause`, as Django's
    error translation does."""

    def side_effect(*args: Any) -> None:
        try:
            raise cause("from the server")
        except psycopg.Error as error:
            raise OperationalError("from the server") from error

    return side_effect


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cause",
    [
        psycopg.errors.DeadlockDetected,  # 40P01: a passing conflict
        psycopg.errors.SerializationFailure,  # 40001
        psycopg.errors.TooManyConnections,  # 53300: insufficient resources
        psycopg.errors.AdminShutdown,  # 57P01: a restart
        psycopg.errors.ConnectionException,  # 08000
    ],
)
def test_a_passing_database_failure_is_a_503(clinician_client, cause):
    with mock.patch.object(TokenAuthentication, "authenticate", side_effect=raising(cause)):
        response = clinician_client.get("/api/v1/auth/me/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_a_database_error_that_is_not_an_outage_stays_a_500_with_its_traceback(clinician_client, caplog):
    # psycopg raises OperationalError for a program limit too (54000, an index row too large
    # for a value sent): a bug to see, not a 503 telling the client to try again.
    clinician_client.raise_request_exception = False
    with mock.patch.object(
        TokenAuthentication, "authenticate", side_effect=raising(psycopg.errors.ProgramLimitExceeded)
    ):
        response = clinician_client.get("/api/v1/auth/me/")
    assert response.status_code == 500
    (logged,) = [record for record in caplog.records if record.name == "django.request"]
    assert logged.exc_info is not None
    assert logged.exc_info[0] is OperationalError


@pytest.mark.parametrize(("path", "content_type"), [("/api/v1/x/", "application/json"), ("/admin/", "text/html")])
def test_an_outage_met_outside_an_api_view_is_a_503_too_and_any_other_error_still_a_500(rf, path, content_type):
    request = rf.get(path)
    try:
        raise InterfaceError("connection already closed")
    except InterfaceError:
        response = urls.handler500(request)
    assert (response.status_code, response["Content-Type"].split(";")[0]) == (503, content_type)
    try:
        raise ValueError("a bug")
    except ValueError:
        assert urls.handler500(request).status_code == 500


@live
def test_an_enqueue_the_broker_refuses_is_logged_and_the_commit_stands(caplog, make_user):
    task = mock.Mock(**{"delay.side_effect": BrokerUnavailable("down")})
    task.name = "tapers.tasks.plans.alert_care_team"  # Mock(name=...) names the mock itself
    with caplog.at_level(logging.ERROR, logger="clinic.queueing"), transaction.atomic():
        user = make_user(Role.NURSE)
        enqueue_on_commit(task, 41, 42)
        task.delay.assert_not_called()  # not before the commit
    task.delay.assert_called_once_with(41, 42)
    assert "could not enqueue tapers.tasks.plans.alert_care_team(41, 42): the broker is unavailable" in caplog.text
    assert type(user).objects.filter(pk=user.pk).exists()
