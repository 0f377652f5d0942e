"""clinic.db: the hottest reads run as prepared statements through Django's connection."""

import pytest
from django.db import ProgrammingError, connection
from django.test.utils import CaptureQueriesContext

from clinic.db import PreparedPage, execute_prepared, fetch_prepared
from tests.utils import manage

pytestmark = pytest.mark.django_db

SQL = "SELECT n FROM generate_series(1, %s) AS n ORDER BY n"


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_statement_is_prepared_once_per_connection_and_reused():
    assert fetch_prepared(SQL, [3]) == [(1,), (2,), (3,)]
    assert fetch_prepared(SQL, [2]) == [(1,), (2,)]
    assert [s for s in prepared_statements() if "generate_series" in s] == [
        "SELECT n FROM generate_series(1, $1) AS n ORDER BY n"
    ]


@pytest.mark.parametrize(("setting", "threshold"), [("true", "0"), ("false", "None")])
def test_the_setting_gives_psycopg_its_prepare_threshold(setting, threshold):
    shown = 'from django.conf import settings; print(settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"])'
    result = manage("shell", "-c", shown, DEBUG="true", DATABASE_PREPARED_STATEMENTS=setting)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == threshold


def test_with_prepared_statements_off_the_same_sql_runs_unprepared():
    # DATABASE_PREPARED_STATEMENTS=false leaves psycopg's prepare_threshold at None.
    connection.ensure_connection()
    threshold, connection.connection.prepare_threshold = connection.connection.prepare_threshold, None
    try:
        assert fetch_prepared(SQL, [2]) == [(1,), (2,)]
        assert not [s for s in prepared_statements() if "generate_series" in s]
    finally:
        connection.connection.prepare_threshold = threshold


def test_the_query_log_shows_the_statement_with_its_values():
    with CaptureQueriesContext(connection) as captured:
        fetch_prepared(SQL, [4])
    assert [query["sql"] for query in captured.captured_queries] == [
        "SELECT n FROM generate_series(1, 4) AS n ORDER BY n"
    ]


def test_a_database_error_is_djangos_own():
    with pytest.raises(ProgrammingError, match="no_such_table"):
        execute_prepared("INSERT INTO no_such_table VALUES (%s)", [1])


def test_a_prepared_page_counts_and_slices_as_a_paginator_expects():
    page = PreparedPage(count_sql="SELECT count(*) FROM generate_series(1, %s)", page_sql=SQL, params=[7])
    assert page.count() == 7
    assert page[2:5] == [(3,), (4,), (5,)]
    assert page[5:5] == []
