"""Declarative base with named constraints (Alembic needs stable names;
docs/architecture.md, "Database"), and the checks every write passes.

Integers are 64-bit everywhere (PHP's ints are, so every ID, duration or sort a client can
send fits); on SQLite an INTEGER already is, and a primary key must stay ``INTEGER`` to be
the rowid. Before a flush, every new or changed row is checked against its columns: a string
longer than its column, or a number outside it, is refused with a clear 400 naming the
field — the same on SQLite (which would store it) and PostgreSQL (which would fail).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Numeric, String, event, inspect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from b24tel import errors

BigInt = BigInteger().with_variant(Integer(), "sqlite")
INT64 = 2**63

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigInt}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC so SQLite and
    PostgreSQL compare and sort them the same way."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


# --- the write check ------------------------------------------------------------------------


def column_problem(name: str, column: Any, value: Any) -> errors.ApiError | None:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl
    if isinstance(value, str):
        if "\x00" in value:
            return errors.nul_in_value()
        length = getattr(kind, "length", None)
        if isinstance(kind, String) and length is not None and len(value) > length:
            return errors.value_too_long(name, length)
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if not -INT64 <= value < INT64:
            return errors.value_out_of_range(name)
    elif (
        isinstance(value, Decimal | float)
        and isinstance(kind, Numeric)
        and not _fits(Decimal(value), kind)
    ):
        return errors.value_out_of_range(name)
    return None


def _fits(value: Decimal, kind: Numeric[Any]) -> bool:
    if not value.is_finite():
        return False
    if kind.precision is None:
        return True
    digits = kind.precision - (kind.scale or 0)
    return abs(value) < Decimal(10) ** digits


@event.listens_for(Session, "before_flush")
def _check_rows(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.new) + list(session.dirty):
        for prop in inspect(obj).mapper.column_attrs:
            value = obj.__dict__.get(prop.key)
            if value is None:
                continue
            problem = column_problem(prop.key.upper(), prop.columns[0], value)
            if problem is not None:
                raise problem
