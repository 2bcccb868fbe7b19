"""Contacts, companies, leads and deals: a list with search by name or phone, and a page
per record with its phones and its calls."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, or_, select
from starlette.responses import Response

from b24tel import errors, phones
from b24tel.crm.fields import ENTITIES, EntityDef
from b24tel.crm.models import Multifield
from b24tel.crm.statuses import status_items
from b24tel.services import EndpointCtx
from b24tel.telephony.outcomes import DIRECTIONS
from b24tel.web import repository as repo
from b24tel.web.calls import _query, _row
from b24tel.web.render import local_time, page, viewer
from b24tel.web.repository import CallFilter
from b24tel.wire.numbers import ascii_int

PAGE = 50
SHOWN_KINDS = ("str", "text", "int", "id", "datetime", "money", "status", "user", "currency")
KINDS = {"contact": "Contacts", "company": "Companies", "lead": "Leads", "deal": "Deals"}
EDITABLE = ("contact", "company", "lead")


def _entity(kind: object) -> EntityDef:
    if not isinstance(kind, str) or kind not in KINDS:
        raise errors.ApiError("NOT_FOUND", "Not found", 404)
    return ENTITIES[kind.upper()]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def entity_list(ctx: EndpointCtx) -> Response:
    me = await viewer(ctx)
    kind = str(ctx.request.path_params.get("kind"))
    entity = _entity(kind)
    model: Any = entity.model
    raw = ctx.query.get("q")
    q = raw.strip()[:100] if isinstance(raw, str) else ""
    stmt = select(model)
    if q:
        names = [c for c in ("name", "last_name", "title") if hasattr(model, c)]
        matches = [getattr(model, c).ilike(_like(q), escape="\\") for c in names]
        key = (
            phones.normalize(q, ctx.services.settings.phone_region)
            if any(ch.isdigit() for ch in q)
            else None
        )
        if key:
            owners = select(Multifield.entity_id).where(
                Multifield.type_id == "PHONE",
                Multifield.normalized == key,
                Multifield.entity_type == entity.name,
            )
            matches.append(model.id.in_(owners))
        stmt = stmt.where(or_(*matches))
    page_no = ctx.query.get("page")
    number = ascii_int(page_no, 6) or 1
    async with ctx.services.db.transaction(readonly=True) as s:
        total = await s.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = (
            (
                await s.execute(
                    stmt.order_by(model.id.desc()).offset((max(1, number) - 1) * PAGE).limit(PAGE)
                )
            )
            .scalars()
            .all()
        )
        phone_map = await _phones(s, entity, [r.id for r in rows])
    items = [
        {"id": r.id, "name": repo.display_name(entity.name, r), "phones": phone_map.get(r.id, [])}
        for r in rows
    ]
    return page(
        ctx,
        me,
        "crm_list.html",
        kind=kind,
        title=KINDS[kind],
        items=items,
        q=q,
        total=int(total or 0),
        page_no=max(1, number),
        pages=max(1, -(-int(total or 0) // PAGE)),
        link=lambda n: f"/crm/{kind}?" + urlencode({"q": q, "page": n}),
        addable=me.admin and kind in EDITABLE,
    )


async def _phones(s: Any, entity: EntityDef, ids: list[int]) -> dict[int, list[str]]:
    if not entity.multifields or not ids:
        return {}
    stmt = (
        select(Multifield)
        .where(
            Multifield.entity_type == entity.name,
            Multifield.type_id == "PHONE",
            Multifield.entity_id.in_(ids),
        )
        .order_by(Multifield.id)
    )
    out: dict[int, list[str]] = {}
    for row in (await s.execute(stmt)).scalars():
        out.setdefault(row.entity_id, []).append(row.value)
    return out


async def entity_page(ctx: EndpointCtx) -> Response:
    me = await viewer(ctx)
    kind = str(ctx.request.path_params.get("kind"))
    entity = _entity(kind)
    raw_id = str(ctx.request.path_params.get("entity_id", ""))
    if ascii_int(raw_id, 17) is None:
        raise errors.ApiError("NOT_FOUND", "Not found", 404)
    f = CallFilter.parse({**ctx.query, "entity": f"{entity.name}:{raw_id}"})
    async with ctx.services.db.transaction(readonly=True) as s:
        row: Any = await s.get(entity.model, int(raw_id))
        if row is None:
            raise errors.ApiError("NOT_FOUND", f"{entity.title} {raw_id} does not exist", 404)
        phone_list = (await _phones(s, entity, [row.id])).get(row.id, [])
        calls, total = await _query(ctx, me, f).page(s)
        names = await repo.entity_names(s, [(c.crm_entity_type, c.crm_entity_id) for c in calls])
        people = await repo.user_names(s, [c.portal_user_id for c in calls])
        line_names = await repo.line_names(s)
        fields = await _named_fields(s, entity, row, ctx.services.tz)

    return page(
        ctx,
        me,
        "crm_item.html",
        kind=kind,
        entity=entity,
        name=repo.display_name(entity.name, row),
        row=row,
        fields=fields,
        phones=phone_list,
        directions=DIRECTIONS,
        total=total,
        calls=[_row(ctx.services, me, c, names, people, line_names) for c in calls],
        all_calls="/calls?" + urlencode({"entity": f"{entity.name}:{raw_id}"}),
        editable=me.admin and kind in EDITABLE,
    )


async def _named_fields(s: Any, entity: EntityDef, row: Any, tz: Any) -> list[tuple[str, str, str]]:
    """(title, text, link) of each filled field: people, linked records and statuses by
    name, not by ID."""
    kinds = (*SHOWN_KINDS, "link")
    shown = [fd for fd in entity.fields
             if fd.kind in kinds and getattr(row, fd.attr, None) not in (None, "")]  # fmt: skip
    people = await repo.user_names(s, [getattr(row, fd.attr) for fd in shown if fd.kind == "user"])
    links = [(fd.wire.removesuffix("_ID"), getattr(row, fd.attr)) for fd in shown
             if fd.kind == "link"]  # fmt: skip
    records = await repo.entity_names(s, links)
    out = []
    for fd in shown:
        value = getattr(row, fd.attr)
        text, url = _shown(value, tz), ""
        if fd.kind == "user":
            text = people.get(value, f"User {value}")
        elif fd.kind == "link":
            kind = fd.wire.removesuffix("_ID")
            text = records.get((kind, value), f"{ENTITIES[kind].title} #{value}")
            url = f"/crm/{kind.lower()}/{value}"
        elif fd.kind == "status" and fd.status_type:
            names = {i["STATUS_ID"]: i["NAME"] for i in await status_items(s, fd.status_type)}
            text = names.get(value, text)
        out.append((fd.title, text, url))
    return out


def _shown(value: Any, tz: Any) -> str:
    return local_time(value, tz) if isinstance(value, dt.datetime) else str(value)
