import uuid

import psycopg
import pytest
from django.conf import settings

from tests.utils import database_url, manage


def connect_maintenance():
    db = settings.DATABASES["default"]
    return psycopg.connect(dbname="postgres", host=db["HOST"], port=db["PORT"], user=db["USER"], autocommit=True)


def database_exists(name: str) -> bool:
    with connect_maintenance() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


@pytest.fixture
def fresh_name():
    name = f"clinic_ensure_{uuid.uuid4().hex[:8]}"
    yield name
    with connect_maintenance() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_it_creates_a_missing_database_and_then_leaves_it_alone(fresh_name):
    first = manage("ensure_database", DEBUG="true", DATABASE_URL=database_url(NAME=fresh_name))
    assert first.returncode == 0, first.stderr
    assert f"Created database {fresh_name}" in first.stdout
    assert database_exists(fresh_name)
    second = manage("ensure_database", DEBUG="true", DATABASE_URL=database_url(NAME=fresh_name))
    assert f"Database {fresh_name} exists." in second.stdout


def test_it_explains_an_unreachable_server():
    result = manage("ensure_database", DEBUG="true", DATABASE_URL=database_url(PORT="1"))
    assert result.returncode != 0
    assert "Is it running" in result.stderr
