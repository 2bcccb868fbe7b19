"""Reading the journal: filters for the command line and the admin API, one entry in full,
and a curl command that sends a request again (docs/integrators.md, "The request journal")."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.faults.rules import RuleError, seconds
from b24tel.journal.models import JournalRow
from b24tel.wire.numbers import ascii_int, is_ascii_digits

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Filter:
    method: str = ""  # a glob, any case
    caller: str = ""  # webhook:ID, app:ID, user:ID
    status: str = ""  # ok, error, an HTTP status or an error code
    since: str = ""  # 10m, 2h, 1d
    kind: str = ""
    after_id: int = 0
    limit: int = 50


def _glob(pattern: str) -> str:
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return escaped.replace("*", "%").replace("?", "_")


def statement(f: Filter, now: dt.datetime) -> Select[Any]:
    """The entries ``f`` picks, newest first (oldest first after ``after_id``)."""
    J = JournalRow
    stmt = select(J)
    if f.method:
        stmt = stmt.where(func.lower(J.method).like(_glob(f.method), escape="\\"))
    if f.caller:
        kind, _, ident = f.caller.partition(":")
        if kind == "user" and (user_id := ascii_int(ident)) is not None:
            stmt = stmt.where(J.user_id == user_id)
        else:
            stmt = stmt.where(J.caller == f.caller)
    if f.status == "ok":
        stmt = stmt.where(J.status < 400, J.error.is_(None))
    elif f.status == "error":
        stmt = stmt.where(or_(J.status >= 400, J.error.is_not(None)))
    elif (
        is_ascii_digits(f.status) and len(f.status) <= 3
    ):  # an HTTP status; longer digits match none
        stmt = stmt.where(J.status == int(f.status))
    elif f.status:
        stmt = stmt.where(J.error == f.status)
    if f.since:
        try:
            stmt = stmt.where(J.at >= now - dt.timedelta(seconds=seconds(f.since)))
        except RuleError as exc:
            raise ValueError(f"--since: {exc}") from exc
    if f.kind:
        stmt = stmt.where(J.kind == f.kind)
    limit = min(max(f.limit, 1), MAX_LIMIT)
    if f.after_id:
        return stmt.where(J.id > min(f.after_id, 2**62)).order_by(J.id.asc()).limit(limit)
    return stmt.order_by(J.id.desc()).limit(limit)


async def entries(session: AsyncSession, f: Filter, now: dt.datetime) -> list[JournalRow]:
    return list((await session.execute(statement(f, now))).scalars())


async def entry(session: AsyncSession, entry_id: int) -> JournalRow | None:
    return await session.get(JournalRow, entry_id)


def as_dict(row: JournalRow) -> dict[str, Any]:
    return {
        "id": row.id, "at": row.at.isoformat(), "request_id": row.request_id,
        "direction": row.direction, "kind": row.kind, "method": row.method,
        "caller": row.caller, "user_id": row.user_id, "http_method": row.http_method,
        "url": row.url, "encoding": row.encoding, "params": row.params, "status": row.status,
        "result": row.result, "error": row.error, "error_description": row.error_description,
        "duration_ms": row.duration_ms, "bytes_in": row.bytes_in, "bytes_out": row.bytes_out,
        "client": row.client, "user_agent": row.user_agent, "fault": row.fault,
    }  # fmt: skip


def line(row: JournalRow) -> str:
    """One entry in one line, for a terminal."""
    outcome = row.error or ""
    if row.fault:
        outcome = f"{outcome} [fault {row.fault}]".strip()
    arrow = "→" if row.direction == "out" else ""
    return (
        f"{row.id}\t{row.at.strftime('%H:%M:%S')}\t{row.status}\t{arrow}{row.method}\t"
        f"{row.kind}\t{row.caller or '-'}\t{row.duration_ms:.0f}\t{outcome}"
    )


HEADER = "ID\tTIME\tSTATUS\tMETHOD\tKIND\tCALLER\tMS\tERROR / FAULT"


def curl(row: JournalRow, base_url: str) -> str:
    """A curl command that sends the request again. Secrets were never kept: they stand as
    placeholders; values kept only as size and sha256 cannot be sent again."""
    url = base_url.rstrip("/") + row.url.replace("/***/", "/<WEBHOOK_CODE>/").replace(
        "=***", "=<ACCESS_TOKEN>"
    )
    params = row.params if isinstance(row.params, dict) else {}
    shown = {k: ("<ACCESS_TOKEN>" if v == "***" else v) for k, v in params.items()}
    if row.caller.startswith("app:") and "<ACCESS_TOKEN>" not in url:
        # the token was taken out of the parameters before they were kept: put its
        # placeholder back where a client sends it
        shown = {"auth": "<ACCESS_TOKEN>", **shown}
    body = json.dumps(shown, ensure_ascii=False)
    parts = ["curl", "-X", row.http_method, shlex.quote(url)]
    if row.kind in ("method", "batch") and shown:
        parts += ["-H", shlex.quote("Content-Type: application/json"), "-d", shlex.quote(body)]
    command = " ".join(parts)
    if '"elided": true' in body:
        command += "\n# elided values (size and sha256 only) must be filled in by hand"
    return command
