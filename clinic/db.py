"""Prepared statements for the hottest reads (the token check, the week view, the patient list).

Django sends every query as text with its values bound client-side, so PostgreSQL plans
each one afresh. For a statement run on almost every request, planning can cost more than
running it: `fetch_prepared` sends it with server-side parameters, which psycopg prepares at
the first execution (`prepare_threshold` 0, see settings.py), so a connection plans it once
and then reuses it (psycopg keeps the statement per connection and prepares it again after a
reconnect or a rolled-back transaction, when it deallocates them all; PostgreSQL re-plans by
itself after a schema change).

It still goes through Django's connection: the health check, reconnection, error
translation, `execute_wrappers` and the query log (`CaptureQueriesContext`, pinned query
counts) all see it. `DATABASE_PREPARED_STATEMENTS=false` (which leaves psycopg's
`prepare_threshold` at None, see settings.py) sends the same SQL unprepared, for a pooler
that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import psycopg
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper
from django.db.models import QuerySet


def fetch_prepared(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Every row of one constant SQL statement (`%s` placeholders), prepared per connection."""
    return _run_prepared(sql, params, fetch=True) or []


def execute_prepared(sql: str, params: Sequence[Any]) -> None:
    """Run one constant SQL statement that returns no rows, prepared per connection."""
    _run_prepared(sql, params, fetch=False)


def _run_prepared(sql: str, params: Sequence[Any], *, fetch: bool) -> list[tuple[Any, ...]] | None:
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # Server-side binding: Django's own cursors bind client-side and cannot be prepared.
        cursor = connection._prepare_cursor(psycopg.Cursor(connection.connection))  # type: ignore[attr-defined]

    with cursor:
        # The query log (DEBUG, CaptureQueriesContext) shows the statement with its values, as for any query.
        debug = isinstance(cursor, CursorDebugWrapper)
        logged = connection.ops.compose_sql(sql, params) if debug else ""  # type: ignore[attr-defined]
        with cursor.debug_sql(logged, None) if debug else nullcontext():
            # Django's own executor (broken-transaction check, error translation) behind the wrappers.
            cursor._execute_with_wrappers(sql, params, many=False, executor=cursor._execute)
        if not fetch:
            return None
        with connection.wrap_database_errors:
            return list(cursor.fetchall())


class PreparedPage:
    """A list endpoint's rows as two prepared statements, a count and a page, in the shape
    Django's Paginator (and so DRF's page-number pagination, with its 404 for a page past
    the end) expects: `count()` runs the first, a slice the second with LIMIT and OFFSET.
    `page_sql` must order its rows completely, or pages would overlap."""

    def __init__(self, *, count_sql: str, page_sql: str, params: Sequence[Any]) -> None:
        self.count_sql = count_sql
        self.page_sql = f"{page_sql} LIMIT %s OFFSET %s"
        self.params = list(params)

    def count(self) -> int:
        return int(fetch_prepared(self.count_sql, self.params)[0][0])

    def __getitem__(self, bounds: slice) -> list[tuple[Any, ...]]:
        start, stop = bounds.start or 0, bounds.stop
        if stop is None or stop <= start:
            return []
        return fetch_prepared(self.page_sql, [*self.params, stop - start, start])


def page_of(queryset: QuerySet[Any], *, columns: str, table: str, order_by: str) -> PreparedPage:
    """The records of `queryset`, with whatever filters and access scope the ORM put on it,
    as a PreparedPage of `SELECT {columns} FROM {table}` (aliased `t`) ordered by `order_by`.

    The ORM chooses the rows (so the access rules and filters stay in one place) and only
    compiles its choice into an id subquery; the page itself is one prepared statement.
    """
    ids = queryset.order_by().values("pk")
    where, params = "", ()
    if ids.query.where:
        try:
            subquery, params = ids.query.sql_with_params()
        except EmptyResultSet:  # queryset.none(): nothing the caller may see
            subquery, params = "SELECT NULL", ()
        where = f" WHERE t.id IN ({subquery})"
    # The caller's constant SQL and the ORM's compiled subquery; every value is a parameter.
    return PreparedPage(
        count_sql=f"SELECT count(*) FROM {table} t{where}",  # noqa: S608
        page_sql=f"SELECT {columns} FROM {table} t{where} ORDER BY {order_by}",  # noqa: S608
        params=params,
    )
