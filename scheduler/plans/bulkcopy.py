"""Many new rows and their history at once (bulk enrolment): COPY on PostgreSQL.

``create_with_history(objs, model, user=...)`` saves what django-simple-history's
``bulk_create_with_history(objs, model, default_user=user)`` saves (the rows, their ids set
on the objects, and one "+" history row each naming ``user``), and falls back to it on
other databases. A 10,000-patient import writes about 180,000 rows, and Django's INSERT
compiler spent most of an import's time preparing their values (bench/bench_interop.py):
on PostgreSQL the ids are reserved from the table's sequence and the rows streamed with
psycopg's COPY; on SQLite one prepared INSERT runs for every row inside sqlite3.
``tests/scheduler/plans/test_bulk_enrolment.py`` checks, on both databases, that a batch
saves exactly what enrolling one by one saves. Table and column names come from the
models; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from survivorship.models import User

# Fields whose Python value psycopg writes as Django would: no conversion needed.
_PLAIN = (
    models.CharField, models.TextField, models.DateField, models.IntegerField, models.BooleanField,
    models.ForeignKey, models.AutoField, models.BigAutoField,
)  # fmt: skip


def create_with_history(
    objs: Sequence[models.Model], model: type[models.Model], *, user: User | None
) -> None:
    """Insert ``objs`` (new, unsaved) and their "+" history rows; sets each object's pk."""
    if not objs:
        return
    if connection.vendor not in _WRITERS:
        bulk_create_with_history(objs, model, batch_size=500, default_user=user)
        return
    reserve_ids, write = _WRITERS[connection.vendor]
    now = timezone.now()
    fields = model._meta.concrete_fields
    if reserve_ids:
        _reserve_ids(objs, model)
    else:  # SQLite: each row's id comes back from its INSERT
        fields = [field for field in fields if not field.primary_key]
    write(model, [[_value(field, obj, now) for field in fields] for obj in objs], fields, objs)
    history = model.history.model  # type: ignore[attr-defined]
    tracked = history.tracked_fields
    extra = {"history_date": now, "history_change_reason": None, "history_type": "+",
             "history_user": user.pk if user else None}  # fmt: skip
    history_extra = [_prepared(history._meta.get_field(name), value) for name, value in extra.items()]
    write(
        history,
        [
            [*(_prepared(field, getattr(obj, field.attname)) for field in tracked), *history_extra]
            for obj in objs
        ],
        [*tracked, *(history._meta.get_field(name) for name in extra)],
        None,
    )


def _reserve_ids(objs: Sequence[models.Model], model: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias


def _value(field: models.Field, obj: models.Model, now: Any) -> Any:
    if getattr(field, "auto_now", False) or (
        getattr(field, "auto_now_add", False) and not getattr(obj, field.attname)
    ):
        setattr(obj, field.attname, now)
    return _prepared(field, getattr(obj, field.attname))


def _prepared(field: models.Field, value: Any) -> Any:
    if value is None or (connection.vendor == "postgresql" and isinstance(field, _PLAIN)):
        return value
    return field.get_db_prep_save(value, connection)


def _copy(
    model: type[models.Model], rows: list[list[Any]], fields: Sequence[models.Field], objs: object
) -> None:
    quote: Callable[[str], str] = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_each(
    model: type[models.Model],
    rows: list[list[Any]],
    fields: Sequence[models.Field],
    objs: Sequence[models.Model] | None,
) -> None:
    """SQLite: one prepared INSERT, run in C for every row (sqlite3 caches the statement)."""
    quote: Callable[[str], str] = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join("?" * len(fields))
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    cursor = connection.connection.cursor()
    try:
        if objs is None:
            cursor.executemany(statement, rows)
            return
        returning = f"{statement} RETURNING {quote(model._meta.pk.column)}"
        for obj, row in zip(objs, rows, strict=True):
            obj.pk = cursor.execute(returning, row).fetchone()[0]
            obj._state.adding = False
            obj._state.db = connection.alias
    finally:
        cursor.close()


# vendor -> (ids reserved before writing, writer)
_WRITERS = {"postgresql": (True, _copy), "sqlite": (False, _insert_each)}
