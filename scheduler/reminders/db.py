"""Running the reminders' hot statements: the send's claim and record, and the sweep's insert.

These run once per reminder (or carry thousands of values), so they skip the ORM's query
building. On PostgreSQL the parameters are bound by the server rather than quoted into the
SQL by psycopg on the client, which matters for the sweep's arrays, and the send's
statements stay prepared on the worker's connection: the six-table claim is then planned
once per connection instead of once per reminder (planning it cost more than running it;
bench/bench_reminders.py). ``DB_PREPARED_STATEMENTS=0`` turns preparing off for a
connection pooler that cannot carry prepared statements (PgBouncer before 1.21 in
transaction mode); server-side binding alone works through any pooler.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.db import connection


def execute(sql: str, params: list, *, fetch: bool | str = False, prepare: bool = True):
    """Run ``sql`` (``%s`` placeholders) on the default database; return its first row
    (``fetch=True``), all its rows (``fetch="all"``) or the number of rows it changed."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=prepare and settings.DB_PREPARED_STATEMENTS)
            return _result(cursor, fetch)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _result(cursor, fetch)


def _result(cursor, fetch: bool | str):
    if fetch == "all":
        return cursor.fetchall()
    return cursor.fetchone() if fetch else cursor.rowcount
