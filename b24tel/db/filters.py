"""Bitrix list filters, orders and pages on SQLAlchemy queries.

One implementation for every list method: ``filter`` keys carry an operator prefix
(`>=ID`, `!STATUS_ID`, `%TITLE`, `@ID`, …; docs/reference/crm.md, "Filters"), values
may be lists (IN). ``order`` maps field → ASC/DESC. Pages are 50 rows at offset ``start``;
``start=-1`` skips counting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Integer,
    Select,
    String,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from b24tel import errors
from b24tel.paging import PAGE_SIZE, ListResult
from b24tel.wire.php import loose_bool, opt_float, opt_int

Kind = Literal["int", "str", "bool", "yn", "datetime", "float"]

# longest prefixes first, so `!=%` is not read as `!` + `=%…`
OPERATORS = (
    "!><",
    "!=%",
    "!%=",
    "><",
    ">=",
    "<=",
    "=%",
    "%=",
    "!%",
    "!@",
    "!=",
    ">",
    "<",
    "@",
    "%",
    "=",
    "!",
    "?",
)


@dataclass(frozen=True)
class FieldDef:
    column: Any  # a column or SQL expression
    kind: Kind = "str"
    # a custom condition builder for fields that are not a plain column (multifields,
    # bindings): (operator, raw value) → condition
    custom: Callable[[str, Any], ColumnElement[bool]] | None = None


def split_key(key: str) -> tuple[str, str]:
    for op in OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :]
    return "", key


def parse_datetime(value: Any, tz: ZoneInfo) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    try:
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # unreadable, or beyond year 1 … 9999 in UTC
        return None


def _coerce(kind: Kind, value: Any, tz: ZoneInfo) -> Any:
    if kind == "int":
        return opt_int(value)
    if kind == "float":
        return opt_float(value)
    if kind in ("bool", "yn"):
        return loose_bool(value)
    if kind == "datetime":
        return parse_datetime(value, tz)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


MAX_PATTERN = 10_000  # SQLite refuses LIKE patterns over 50 000 bytes


class Contains(FunctionElement[bool]):
    """``needle`` occurs in ``haystack`` (both already lower-cased): ``instr`` on SQLite,
    ``strpos`` on PostgreSQL — a substring test that, unlike LIKE, has no pattern limits."""

    type = Boolean()
    inherit_cache = True
    name = "contains"

    def __init__(self, haystack: Any, needle: str) -> None:
        super().__init__(haystack, literal(needle, String()))


@compiles(Contains)
def _contains_sqlite(element: Contains, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)}) > 0"


@compiles(Contains, "postgresql")
def _contains_postgresql(element: Contains, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"strpos({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)}) > 0"


def condition(field: FieldDef, op: str, raw: Any, tz: ZoneInfo) -> ColumnElement[bool]:
    if field.custom is not None:
        return field.custom(op, raw)
    col: ColumnElement[Any] = field.column
    if isinstance(raw, dict):
        raw = list(raw.values())
    if op in ("><", "!><"):
        bounds = [_coerce(field.kind, v, tz) for v in (raw if isinstance(raw, list) else [])]
        if len(bounds) != 2 or None in bounds:
            return false()
        between: ColumnElement[bool] = col.between(bounds[0], bounds[1])
        return not_(between) if op == "!><" else between
    if op in ("@", "!@") and not isinstance(raw, list):
        raw = [raw]  # IN over one value
    if isinstance(raw, list):
        values = [v for v in (_coerce(field.kind, x, tz) for x in raw) if v is not None]
        if op in ("", "=", "@"):
            return col.in_(values) if values else false()
        if op in ("!", "!=", "!@"):
            return or_(col.is_(None), col.not_in(values)) if values else true()
        if op in ("%", "!%", "?", "=%", "%=", "!=%", "!%="):
            parts = [condition(field, op, v, tz) for v in raw]
            return (and_ if op.startswith("!") else or_)(*parts) if parts else true()
        raw = raw[0] if raw else None
    if op in ("%", "!%", "?", "=%", "%=", "!=%", "!%="):
        text = "" if raw is None else str(raw)
        if field.kind != "str":
            col = cast(col, String())  # text search on a number or date: on its text
        if op in ("%", "!%", "?"):
            # a substring search, not a LIKE pattern: no length limit, nothing to escape
            cond: ColumnElement[bool] = Contains(func.lower(col), text.lower())
        else:  # the value is a LIKE pattern of its own
            if len(text) > MAX_PATTERN:
                raise errors.invalid_request(
                    f"A filter pattern may not be longer than {MAX_PATTERN} characters"
                )
            cond = func.lower(col).like(text.lower())
        return not_(cond) if op.startswith("!") else cond
    value = _coerce(field.kind, raw, tz)
    if raw is None or (isinstance(raw, str) and raw == "" and field.kind != "str"):
        # an empty value matches unset fields
        empty = col.is_(None)
        return not_(empty) if op in ("!", "!=") else empty
    if value is None:
        return false() if op not in ("!", "!=") else true()
    if op in ("", "="):
        equal: ColumnElement[bool] = col == value
        return equal
    if op in ("!", "!="):
        return or_(col.is_(None), col != value)
    if isinstance(value, bool):  # an order on a flag: false < true, as 0 < 1
        col, value = cast(col, Integer()), int(value)
    compare = {">": col.__gt__, ">=": col.__ge__, "<": col.__lt__, "<=": col.__le__}.get(op)
    return compare(value) if compare is not None else false()


def build_where(
    filters: dict[str, Any] | None,
    fields: dict[str, FieldDef],
    tz: ZoneInfo,
    *,
    aliases: dict[str, str] | None = None,
) -> list[ColumnElement[bool]]:
    """Conditions for a Bitrix filter; unknown fields are ignored, as the reference
    does."""
    conditions: list[ColumnElement[bool]] = []
    for key, raw in (filters or {}).items():
        op, name = split_key(str(key))
        name = name.upper()
        if aliases:
            name = aliases.get(name, name)
        field = fields.get(name)
        if field is None:
            continue
        conditions.append(condition(field, op, raw, tz))
    return conditions


def build_order(
    order: dict[str, Any] | None, fields: dict[str, FieldDef]
) -> list[ColumnElement[Any]]:
    clauses = []
    for key, direction in (order or {}).items():
        field = fields.get(str(key).upper())
        if field is None or field.custom is not None:
            continue
        desc = str(direction).strip().upper() == "DESC"
        clauses.append(field.column.desc() if desc else field.column.asc())
    return clauses


async def page(
    session: AsyncSession,
    stmt: Select[Any],
    start: int,
    *,
    key_column: Any,
    convert: Callable[[Any], Any],
    page_size: int = PAGE_SIZE,
) -> ListResult:
    """One page of ``stmt`` (which must already be ordered); ``start < 0`` skips the
    count."""
    total: int | None = None
    if start >= 0:
        count_stmt = select(func.count()).select_from(
            stmt.order_by(None).with_only_columns(key_column).distinct().subquery()
        )
        total = int((await session.execute(count_stmt)).scalar_one())
        if total == 0 or start >= total:
            return ListResult([], total, None)
    rows = (await session.execute(stmt.offset(max(start, 0)).limit(page_size))).all()
    items = [convert(row) for row in rows]
    return ListResult.page(items, total, max(start, 0))


def ids_in_order(values: Sequence[Any]) -> list[int]:
    out = []
    for v in values:
        i = opt_int(v)
        if i is not None:
            out.append(i)
    return out
