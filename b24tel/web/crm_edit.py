"""Adding and editing contacts, companies and leads from the pages (administrators): the same
rules as `crm.<kind>.add` / `.update` — phones normalised, so the next register finds a
number added here — and the same ONCRM… events (docs/ui.md, "CRM")."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from b24tel import errors
from b24tel.crm import entities
from b24tel.crm.fields import ENTITIES, EntityDef
from b24tel.crm.models import Multifield
from b24tel.crm.repository import multifields
from b24tel.events.sink import crm_changed
from b24tel.rest.endpoint import page_form
from b24tel.services import EndpointCtx
from b24tel.web.render import HEADERS, Viewer, page, viewer
from b24tel.wire.numbers import ascii_int

# the form of each kind: its text fields (wire name, label), then PHONE and EMAIL
FORMS: dict[str, tuple[tuple[str, str], ...]] = {
    "contact": (("NAME", "First name"), ("LAST_NAME", "Last name")),
    "company": (("TITLE", "Name"),),
    "lead": (("TITLE", "Title"), ("NAME", "First name"), ("LAST_NAME", "Last name")),
}
MULTI = (("PHONE", "Phone"), ("EMAIL", "E-mail"))


async def _admin(ctx: EndpointCtx) -> Viewer:
    me = await viewer(ctx)
    if not me.admin:
        raise errors.access_denied("Only administrators change the CRM from these pages")
    return me


def _kind(ctx: EndpointCtx) -> tuple[str, EntityDef]:
    kind = str(ctx.request.path_params.get("kind"))
    if kind not in FORMS:
        raise errors.ApiError("NOT_FOUND", "Not found", 404)
    return kind, ENTITIES[kind.upper()]


def _first(rows: list[Multifield], mtype: str) -> Multifield | None:
    return next((m for m in rows if m.type_id == mtype), None)


def _fields(kind: str, form: FormData, existing: list[Multifield]) -> dict[str, Any]:
    """The entity's fields from the form; the first phone and e-mail are edited in place
    (emptied: removed), as `crm.<kind>.update` does with an item's ID."""
    fields: dict[str, Any] = {w: str(form.get(w) or "")[:255] for w, _ in FORMS[kind]}
    for mtype, _ in MULTI:
        value = str(form.get(mtype) or "").strip()[:255]
        current = _first(existing, mtype)
        if current is not None:
            fields[mtype] = [{"ID": current.id, "VALUE": value}]
        elif value:
            fields[mtype] = [{"VALUE": value, "VALUE_TYPE": "WORK"}]
    return fields


async def edit(ctx: EndpointCtx) -> Response:
    """``/crm/{kind}/new/edit`` adds, ``/crm/{kind}/{id}/edit`` changes; GET shows the form."""
    me = await _admin(ctx)
    kind, entity = _kind(ctx)
    raw = str(ctx.request.path_params.get("entity_id", ""))
    entity_id = None if raw == "new" else ascii_int(raw, 17)
    if raw != "new" and entity_id is None:
        raise errors.ApiError("NOT_FOUND", "Not found", 404)
    services = ctx.services
    async with services.db.transaction(readonly=True) as s:
        row: Any = await s.get(entity.model, entity_id) if entity_id else None
        existing = (await multifields(s, entity.name, [row.id]))[row.id] if row else []
    if entity_id is not None and row is None:
        raise errors.ApiError("NOT_FOUND", f"{entity.title} {entity_id} does not exist", 404)
    values = {w: str(getattr(row, entity.by_wire[w].attr, "") or "") for w, _ in FORMS[kind]}
    for mtype, _ in MULTI:
        found = _first(existing, mtype)
        values[mtype] = found.value if found else ""
    message = ""
    if ctx.request.method == "POST":
        form = await page_form(ctx.request)
        values = {w: str(form.get(w) or "")[:255] for w in values}
        env = entities.Env(me.user_id, services.clock.now(), services.tz,
                           services.settings.phone_region)  # fmt: skip
        try:
            async with services.db.transaction() as s:
                fields = _fields(kind, form, existing)
                if entity_id is None:
                    entity_id = await entities.add(s, entity, fields, {}, env)
                    action = "ADD"
                else:
                    await entities.update(s, entity, entity_id, fields, {}, env)
                    action = "UPDATE"
                await crm_changed(services, s, entity.name, action, entity_id, me.user_id)
            return RedirectResponse(f"/crm/{kind}/{entity_id}", 303, headers=HEADERS)
        except errors.ApiError as exc:
            message = exc.description
    title = f"New {entity.title.lower()}" if entity_id is None else f"Edit {entity.title.lower()}"
    return page(ctx, me, "crm_edit.html", kind=kind, title=title, values=values,
                fields=FORMS[kind] + MULTI, message=message,
                action=f"/crm/{kind}/{raw}/edit")  # fmt: skip
