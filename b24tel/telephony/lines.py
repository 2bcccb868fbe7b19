"""telephony.externalLine.add/update/get/delete (docs/reference/telephony.md, "Lines").
Lines belong to the calling application; every webhook shares one owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.models import ExternalLine
from b24tel.telephony.rules import Env
from b24tel.telephony.schemas import LineParams


async def add(session: AsyncSession, env: Env, p: LineParams) -> dict[str, int]:
    if not p.number:
        raise errors.number_empty()
    if await repo.line(session, env.owner, p.number) is not None:
        raise errors.line_exists()
    line = ExternalLine(
        owner=env.owner,
        number=p.number,
        name=p.name or "",
        crm_auto_create=p.crm_auto_create or "Y",
        normalized_number=phones.normalize(p.number, env.region) or p.number,
        created_at=env.now,
    )
    try:
        async with session.begin_nested():
            await repo.add(session, line)
    except IntegrityError as exc:
        raise errors.line_exists() from exc
    return {"ID": line.id}


async def _existing(session: AsyncSession, env: Env, number: str) -> ExternalLine:
    if not number:
        raise errors.number_empty()
    line = await repo.line(session, env.owner, number)
    if line is None:
        raise errors.line_not_found(number)
    return line


async def update(session: AsyncSession, env: Env, p: LineParams) -> dict[str, str]:
    changes: dict[str, Any] = {}
    if p.name is not None:
        changes["name"] = p.name
    if p.crm_auto_create is not None:
        changes["crm_auto_create"] = p.crm_auto_create
    if not changes:  # checked before NUMBER, as the reference does
        raise errors.no_fields()
    line = await _existing(session, env, p.number)
    for key, value in changes.items():
        setattr(line, key, value)
    await session.flush()
    return {"ID": str(line.id)}  # a string here, an int from add (docs and reference agree)


async def delete(session: AsyncSession, env: Env, p: LineParams) -> list[Any]:
    line = await _existing(session, env, p.number)
    await session.delete(line)
    return []


async def get(session: AsyncSession, env: Env) -> list[dict[str, Any]]:
    return [
        {"NUMBER": line.number, "NAME": line.name, "CRM_AUTO_CREATE": line.crm_auto_create}
        for line in await repo.lines(session, env.owner)
    ]
