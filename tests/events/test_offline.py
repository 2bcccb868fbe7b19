"""Offline events as a MikoPBX-style connector polls them: bind offline, changes happen,
event.offline.get with clear=0 and a process id, then event.offline.clear — each change
seen once (docs/reference/events.md, "Offline events")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from b24tel.events.models import Delivery
from tests.conftest import WEBHOOK_CODE, Harness
from tests.events.conftest import App, until
from tests.events.handler import HandlerServer

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def result(app: App, method: str, params: dict[str, Any] | None = None) -> Any:
    r = await app.call(method, params)
    assert r.status_code == 200, r.text
    return r.json()["result"]


async def contact(h: Harness, name: str) -> int:
    return int((await h.call(HOOK, "crm.contact.add", {"fields": {"NAME": name}})).json()["result"])


async def test_each_change_is_seen_once(ev: Harness, admin_app: App) -> None:
    for event in ("ONCRMCONTACTADD", "ONCRMCONTACTUPDATE"):
        assert await result(admin_app, "event.bind", {"event": event, "event_type": "offline"})
    first = await contact(ev, "A")
    second = await contact(ev, "B")
    # one row per object: the later change replaces the queued one
    await ev.call(HOOK, "crm.contact.update", {"id": first, "fields": {"NAME": "A2"}})

    got = await result(admin_app, "event.offline.get", {"clear": 0, "limit": 10})
    process = got["process_id"]
    assert process and len(got["events"]) == 2
    assert [(e["EVENT_NAME"], e["EVENT_DATA"]) for e in got["events"]] == [
        ("ONCRMCONTACTADD", {"FIELDS": {"ID": second}}),
        ("ONCRMCONTACTUPDATE", {"FIELDS": {"ID": first}}),
    ]
    row = got["events"][0]
    assert set(row) == {
        "ID", "TIMESTAMP_X", "EVENT_NAME", "EVENT_DATA", "EVENT_ADDITIONAL", "MESSAGE_ID",
    }  # fmt: skip
    # reserved rows are not handed to another reader
    assert (await result(admin_app, "event.offline.get", {"clear": 0}))["events"] == []
    # a change while the first batch is processed is queued anew
    await ev.call(HOOK, "crm.contact.update", {"id": second, "fields": {"NAME": "B2"}})
    listed = await admin_app.call("event.offline.list")
    assert listed.json()["total"] == 3
    assert {r["PROCESS_ID"] for r in listed.json()["result"]} == {process, ""}
    assert await result(admin_app, "event.offline.clear", {"process_id": process})

    rest = await result(admin_app, "event.offline.get", {})  # clear=1 by default
    assert rest["process_id"] is None
    assert [(e["EVENT_NAME"], e["EVENT_DATA"]) for e in rest["events"]] == [
        ("ONCRMCONTACTUPDATE", {"FIELDS": {"ID": second}})
    ]
    assert (await result(admin_app, "event.offline.get", {}))["events"] == []


async def test_errors_and_partial_clears(ev: Harness, admin_app: App) -> None:
    await result(admin_app, "event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    for n in range(3):
        await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": f"L{n}"}})
    got = await result(admin_app, "event.offline.get", {"clear": 0, "process_id": "p1"})
    assert got["process_id"] == "p1"
    ids = [e["MESSAGE_ID"] for e in got["events"]]
    # one failed, one handled; the third stays reserved for p1
    assert await result(
        admin_app, "event.offline.error", {"process_id": "p1", "message_id": [ids[0]]}
    )
    assert await result(
        admin_app, "event.offline.clear", {"process_id": "p1", "id": [got["events"][1]["ID"]]}
    )
    again = await result(admin_app, "event.offline.get", {"clear": 0, "process_id": "p1"})
    assert [e["MESSAGE_ID"] for e in again["events"]] == [ids[2]]
    errors = await result(admin_app, "event.offline.get", {"error": 1})
    assert [e["MESSAGE_ID"] for e in errors["events"]] == [ids[0]]
    r = await admin_app.call("event.offline.clear", {})
    assert r.status_code == 400 and r.json()["error"] == "ERROR_ARGUMENT"


async def test_clear_ignores_what_is_not_a_row_id(ev: Harness, admin_app: App) -> None:
    """Found by the fuzz run: an ID past 64 bits was a 500 on PostgreSQL."""
    await result(admin_app, "event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    for n in range(2):
        await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": f"L{n}"}})
    got = await result(admin_app, "event.offline.get", {"clear": 0, "process_id": "p1"})
    first, second = got["events"]
    odd = ["9223372036854775808", "99999999999999999999999", "²", "x", first["ID"]]
    assert await result(admin_app, "event.offline.clear", {"process_id": "p1", "id": odd})
    again = await result(admin_app, "event.offline.get", {"clear": 0, "process_id": "p1"})
    assert [e["ID"] for e in again["events"]] == [second["ID"]]


async def test_filters_order_and_limit(ev: Harness, admin_app: App) -> None:
    await result(admin_app, "event.bind", {"event": "ONCRMDEALADD", "event_type": "offline"})
    await result(admin_app, "event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    for n in range(3):
        await ev.call(HOOK, "crm.deal.add", {"fields": {"TITLE": f"D{n}"}})
        await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": f"L{n}"}})
    got = await result(
        admin_app, "event.offline.get",
        {"clear": 0, "filter": {"EVENT_NAME": "ONCRMDEALADD"}, "order": {"ID": "DESC"},
         "limit": 2},
    )  # fmt: skip
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in got["events"]] == [3, 2]


async def test_offline_methods_are_for_administrators(ev: Harness, user_app: App) -> None:
    for method in ("event.offline.get", "event.offline.list", "event.offline.clear"):
        r = await user_app.call(method, {"process_id": "x"})
        assert (r.status_code, r.json()["error"], r.json()["error_description"]) == (
            403, "ACCESS_DENIED", "Access denied!",
        ), method  # fmt: skip


async def test_queue_changes_are_announced_online(
    ev: Harness, admin_app: App, handler: HandlerServer
) -> None:
    """ONOFFLINEEVENT tells an online handler the queue has something, at most once per
    its minTimeout."""
    await result(admin_app, "event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    await result(
        admin_app, "event.bind",
        {"event": "ONOFFLINEEVENT", "handler": handler.url, "options": {"minTimeout": 3600}},
    )  # fmt: skip
    for n in range(3):
        await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": f"L{n}"}})
    await until(lambda: len(handler.events("ONOFFLINEEVENT")) == 1)
    async with ev.db.transaction(readonly=True) as s:
        count = select(func.count(Delivery.id)).where(Delivery.event == "ONOFFLINEEVENT")
        assert (await s.execute(count)).scalar_one() == 1
    assert "data" not in handler.events()[0].fields  # `data: []` disappears from a form
