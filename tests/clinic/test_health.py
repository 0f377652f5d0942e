import json
import socket

import pytest

from tests.utils import database_url, manage


def closed_port() -> int:
    # Bind then release: nothing listens there for the few seconds the test needs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def readyz_in_a_fresh_process(**env: str) -> tuple[int, dict]:
    """Start the app in a new process with the given environment and GET /readyz."""
    script = (
        "import json; from django.test import Client; "
        "r = Client().get('/readyz'); print(json.dumps([r.status_code, r.json()]))"
    )
    result = manage("shell", "-c", script, **{"DATABASE_URL": database_url(), "DEBUG": "true", **env})
    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.strip().splitlines()[-1])
    return status, body


def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_broker_when_redis_url_points_at_a_closed_port():
    status, body = readyz_in_a_fresh_process(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert status == 503
    assert body["message"] == "Not ready: broker is unreachable."
    assert body["extra"]["checks"] == {"database": "ok", "broker": "unreachable"}


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_database_when_postgres_is_unreachable():
    status, body = readyz_in_a_fresh_process(DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/clinic")
    assert status == 503
    assert body["extra"]["checks"] == {"database": "unreachable", "broker": "ok"}


@pytest.mark.django_db
def test_the_probes_answer_over_plain_http_when_everything_else_redirects(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/locations/").status_code == 301


@pytest.mark.django_db
def test_the_probes_answer_head_requests(client):
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200
