"""Adding, listing and removing fault rules; rules from a TOML file given to ``serve``."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.faults.models import FaultRule
from b24tel.faults.rules import RuleError, parse


async def add(
    session: AsyncSession, data: dict[str, Any], now: dt.datetime, source: str
) -> FaultRule:
    rule = parse(data, now, source)
    session.add(rule)
    await session.flush()
    return rule


async def rules(session: AsyncSession) -> list[FaultRule]:
    return list((await session.execute(select(FaultRule).order_by(FaultRule.id))).scalars())


async def remove(session: AsyncSession, rule_id: int | None) -> int:
    """One rule, or every rule (None); the number removed."""
    stmt = delete(FaultRule)
    if rule_id is not None:
        stmt = stmt.where(FaultRule.id == rule_id)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def read_file(path: str) -> list[dict[str, Any]]:
    """``[[fault]]`` tables of a TOML file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}: {exc}") from exc
    found = data.get("fault", [])
    if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
        raise RuleError(f"{path}: rules are [[fault]] tables")
    return found


async def load_file(session: AsyncSession, path: str, now: dt.datetime) -> list[FaultRule]:
    """The file's rules replace the ones an earlier start loaded from it."""
    source = f"file:{Path(path).resolve()}"
    specs = read_file(path)
    rows = []
    for number, spec in enumerate(specs, 1):
        try:
            rows.append(parse(spec, now, source))
        except RuleError as exc:
            raise RuleError(f"{path}, rule {number}: {exc}") from exc
    await session.execute(delete(FaultRule).where(FaultRule.source == source))
    session.add_all(rows)
    await session.flush()
    return rows
