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

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from survivorship.models import User

# Fields whose Python value the driver writes as Django would: no conversion needed
# (DateField covers DateTimeField: with USE_TZ the values are aware, which psycopg keeps).
_PLAIN_SQLITE = (
    models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey,
    models.AutoField, models.BigAutoField,
)  # fmt: skip
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
    db = connections[router.db_for_write(model)]
    if db.vendor not in _WRITERS:
        bulk_create_with_history(objs, model, batch_size=500, default_user=user)
        return
    reserve_ids, write = _WRITERS[db.vendor]
    now = timezone.now()
    fields = list(model._meta.concrete_fields)
    if reserve_ids:
        _reserve_ids(db, objs, model)
    else:  # SQLite: each row's id comes back from its INSERT
        fields = [field for field in fields if not field.primary_key]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                if field.auto_now or not getattr(obj, field.attname):  # type: ignore[attr-defined]
                    setattr(obj, field.attname, now)
    write(db, model, _rows(db, objs, fields, ()), fields, objs)
    history = model.history.model  # type: ignore[attr-defined]
    tracked = list(history.tracked_fields)
    extra = {"history_date": now, "history_change_reason": None, "history_type": "+",
             "history_user": user.pk if user else None}  # fmt: skip
    extra_fields = [history._meta.get_field(name) for name in extra]
    suffix = tuple(
        _prepare(db, field)(value) for field, value in zip(extra_fields, extra.values(), strict=True)
    )
    write(db, history, _rows(db, objs, tracked, suffix), [*tracked, *extra_fields], None)


def _reserve_ids(db: BaseDatabaseWrapper, objs: Sequence[models.Model], model: type[models.Model]) -> None:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = db.alias


def _prepare(db: BaseDatabaseWrapper, field: models.Field) -> Callable[[Any], Any]:
    """How one field's Python value becomes the database's: Django's get_db_prep_save,
    skipped where the driver writes the value just as Django would (psycopg: text, numbers,
    booleans, dates and aware datetimes; sqlite3: text, numbers and booleans)."""
    if isinstance(field, _PLAIN if db.vendor == "postgresql" else _PLAIN_SQLITE):
        return _same
    return lambda value: None if value is None else field.get_db_prep_save(value, db)


def _same(value: Any) -> Any:
    return value


def _rows(
    db: BaseDatabaseWrapper,
    objs: Sequence[models.Model],
    fields: Sequence[models.Field],
    suffix: tuple[Any, ...],
) -> list[tuple[Any, ...]]:
    columns = [(field.attname, _prepare(db, field)) for field in fields]
    return [(*(prepare(getattr(obj, name)) for name, prepare in columns), *suffix) for obj in objs]


def _copy(
    db: BaseDatabaseWrapper,
    model: type[models.Model],
    rows: list[tuple[Any, ...]],
    fields: Sequence[models.Field],
    objs: object,
) -> None:
    quote: Callable[[str], str] = db.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with db.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_each(
    db: BaseDatabaseWrapper,
    model: type[models.Model],
    rows: list[tuple[Any, ...]],
    fields: Sequence[models.Field],
    objs: Sequence[models.Model] | None,
) -> None:
    """SQLite: one prepared INSERT, run in C for every row (sqlite3 caches the statement)."""
    quote: Callable[[str], str] = db.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join("?" * len(fields))
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    db.ensure_connection()
    cursor = db.connection.cursor()
    try:
        if objs is None:
            cursor.executemany(statement, rows)
            return
        returning = f"{statement} RETURNING {quote(model._meta.pk.column)}"
        for obj, row in zip(objs, rows, strict=True):
            obj.pk = cursor.execute(returning, row).fetchone()[0]
            obj._state.adding = False
            obj._state.db = db.alias
    finally:
        cursor.close()


# vendor -> (ids reserved before writing, writer)
_WRITERS = {"postgresql": (True, _copy), "sqlite": (False, _insert_each)}
