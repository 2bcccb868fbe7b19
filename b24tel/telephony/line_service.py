"""telephony.externalLine.add/update/get/delete (behavior.md §3.8). Lines belong to the
calling application; every webhook shares one owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import phones
from b24tel.rest.params import opt_str
from b24tel.telephony import errors as texts
from b24tel.telephony import repository as repo
from b24tel.telephony.models import ExternalLine
from b24tel.telephony.service import Env


def _flag(raw: Any) -> str:
    # exactly "Y" (or absent) is Y; `y`, `true`, JSON true … are N
    return "Y" if raw is None or raw == "Y" else "N"


async def add(session: AsyncSession, env: Env, p: Any) -> dict[str, int]:
    name = opt_str(p.NAME) or ""
    number = (opt_str(p.NUMBER) or "").strip()
    if not number:
        raise env.errors(texts.NUMBER_EMPTY)
    if await repo.line(session, env.owner, number) is not None:
        raise env.errors(texts.LINE_EXISTS)
    line = ExternalLine(
        owner=env.owner,
        number=number,
        name=name,
        crm_auto_create=_flag(p.CRM_AUTO_CREATE),
        normalized_number=phones.normalize(number, env.region) or number,
        created_at=env.now,
    )
    try:
        async with session.begin_nested():
            await repo.add(session, line)
    except IntegrityError as exc:
        raise env.errors(texts.LINE_EXISTS) from exc
    return {"ID": line.id}


async def _existing(session: AsyncSession, env: Env, raw_number: Any) -> ExternalLine:
    number = (opt_str(raw_number) or "").strip()
    if not number:
        raise env.errors(texts.NUMBER_EMPTY)
    line = await repo.line(session, env.owner, number)
    if line is None:
        raise env.errors(texts.line_not_found(number))
    return line


async def update(session: AsyncSession, env: Env, p: Any) -> dict[str, str]:
    changes: dict[str, Any] = {}
    if p.NAME is not None:
        changes["name"] = opt_str(p.NAME) or ""
    if p.CRM_AUTO_CREATE is not None:
        changes["crm_auto_create"] = _flag(p.CRM_AUTO_CREATE)
    if not changes:  # checked before NUMBER, as the reference does
        raise env.errors(texts.NO_FIELDS)
    line = await _existing(session, env, p.NUMBER)
    for key, value in changes.items():
        setattr(line, key, value)
    await session.flush()
    return {"ID": str(line.id)}  # a string here, an int from add (docs and reference agree)


async def delete(session: AsyncSession, env: Env, p: Any) -> list[Any]:
    line = await _existing(session, env, p.NUMBER)
    await session.delete(line)
    return []


async def get(session: AsyncSession, env: Env) -> list[dict[str, Any]]:
    return [
        {"NUMBER": line.number, "NAME": line.name, "CRM_AUTO_CREATE": line.crm_auto_create}
        for line in await repo.lines(session, env.owner)
    ]
