"""Delivery: the payload the reference sends, a signature and an idempotency key, the
transactional outbox (no event for a change that rolled back), retries until delivered,
order per entity, and the events telephony and CRM raise (docs/reference/events.md)."""

from __future__ import annotations

from sqlalchemy import func, select

from b24tel.events import outgoing, payload
from b24tel.events.models import Delivery
from tests.conftest import WEBHOOK_CODE, Harness
from tests.events.conftest import App, until
from tests.events.handler import HandlerServer

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def outgoing_hook(h: Harness, url: str, *events: str) -> str:
    async with h.db.transaction() as s:
        _, token = await outgoing.create(
            s, h.services.clock.now(), h.services.secret, user_id=1, events=list(events),
            handler=url,
        )  # fmt: skip
    return token


async def deliveries(h: Harness) -> list[Delivery]:
    async with h.db.transaction(readonly=True) as s:
        return list((await s.execute(select(Delivery).order_by(Delivery.id))).scalars())


async def all_delivered(h: Harness) -> bool:
    """The worker records an outcome just after the handler answered."""
    return all(d.status == "delivered" for d in await deliveries(h))


async def test_app_handler_gets_the_reference_payload_with_a_working_token(
    ev: Harness, admin_app: App, handler: HandlerServer
) -> None:
    bound = await admin_app.call(
        "event.bind", {"event": "ONCRMCONTACTADD", "handler": handler.url + "/crm"}
    )
    assert bound.json()["result"] is True
    r = await ev.call(HOOK, "crm.contact.add", {"fields": {"NAME": "Ann"}})
    contact_id = r.json()["result"]
    await until(lambda: len(handler.events("ONCRMCONTACTADD")) == 1)
    got = handler.events()[0]
    assert got.path == "/crm"
    assert got.data == {"FIELDS": {"ID": str(contact_id)}}
    assert got.fields["event_handler_id"] == "1"
    assert got.fields["ts"].isdigit()
    assert set(got.auth) == {
        "access_token", "expires", "expires_in", "scope", "domain", "server_endpoint",
        "status", "client_endpoint", "member_id", "user_id", "refresh_token",
        "application_token",
    }  # fmt: skip
    assert got.auth["user_id"] == "1" and got.auth["status"] == "L"
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert got.signed_by(got.auth["application_token"])
    assert len(got.key) == 32
    # the token in the event works against the API, as the acting user
    r = await ev.client.post(
        "/rest/crm.contact.get", json={"id": contact_id, "auth": got.auth["access_token"]}
    )
    assert r.json()["result"]["NAME"] == "Ann"


async def test_outgoing_webhook_gets_no_tokens(ev: Harness, handler: HandlerServer) -> None:
    token = await outgoing_hook(ev, handler.url + "/out", "ONCRMLEADADD", "ONCRMLEADDELETE")
    r = await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": "x"}})
    lead_id = r.json()["result"]
    await ev.call(HOOK, "crm.lead.delete", {"id": lead_id})
    await until(lambda: len(handler.events()) == 2)
    add, delete = handler.events()
    assert (add.event, delete.event) == ("ONCRMLEADADD", "ONCRMLEADDELETE")
    assert set(add.auth) == {
        "domain", "client_endpoint", "server_endpoint", "member_id", "application_token",
    }  # fmt: skip
    assert add.auth["application_token"] == token and add.signed_by(token)
    assert add.auth["client_endpoint"].endswith("/rest/")


async def test_no_event_for_a_change_that_did_not_happen(
    ev: Harness, handler: HandlerServer
) -> None:
    await outgoing_hook(ev, handler.url, "ONCRMCONTACTADD", "ONCRMCONTACTUPDATE")
    refused = await ev.call(HOOK, "crm.contact.add", {"fields": {"POST": "no name"}})
    assert refused.status_code == 400
    missing = await ev.call(HOOK, "crm.contact.update", {"id": 999, "fields": {"NAME": "x"}})
    assert missing.status_code == 400
    assert await deliveries(ev) == []


async def test_failed_deliveries_are_retried_until_delivered(
    ev: Harness, handler: HandlerServer
) -> None:
    handler.statuses = [500, 503, 404]
    await outgoing_hook(ev, handler.url, "ONCRMCOMPANYADD")
    await ev.call(HOOK, "crm.company.add", {"fields": {"TITLE": "Acme"}})
    await until(lambda: len(handler.events()) == 1)
    attempts = handler.events(ok=False)
    assert [a.status for a in attempts] == [500, 503, 404, 200]
    assert len({a.key for a in attempts}) == 1  # one idempotency key for every attempt
    await until(lambda: all_delivered(ev))
    [d] = await deliveries(ev)
    assert (d.status, d.attempts, d.status_codes) == ("delivered", 4, "500,503,404,200")


async def test_a_handler_that_is_down_gets_its_events_when_it_comes_back(
    ev: Harness, handler: HandlerServer
) -> None:
    port = handler.port
    handler.stop()  # nothing listens
    await outgoing_hook(ev, f"http://127.0.0.1:{port}/", "ONCRMDEALADD")
    for n in range(3):
        await ev.call(HOOK, "crm.deal.add", {"fields": {"TITLE": f"deal {n}"}})

    async def failed_twice() -> bool:
        found = await deliveries(ev)
        return len(found) == 3 and all(d.attempts >= 2 for d in found)

    await until(failed_twice)
    back = HandlerServer(port=port).start()
    try:
        await until(lambda: len(back.events()) == 3)
        assert sorted(r.data["FIELDS"]["ID"] for r in back.events()) == ["1", "2", "3"]
        await until(lambda: all_delivered(ev))
    finally:
        back.stop()


async def test_one_entity_is_delivered_in_order(ev: Harness, handler: HandlerServer) -> None:
    handler.statuses = [500]  # the ADD fails once: the UPDATE must wait for it
    await outgoing_hook(ev, handler.url, "ONCRMCONTACTADD", "ONCRMCONTACTUPDATE")
    r = await ev.call(HOOK, "crm.contact.add", {"fields": {"NAME": "A"}})
    await ev.call(HOOK, "crm.contact.update", {"id": r.json()["result"], "fields": {"NAME": "B"}})
    await until(lambda: len(handler.events()) == 2)
    assert [e.event for e in handler.events()] == ["ONCRMCONTACTADD", "ONCRMCONTACTUPDATE"]


async def test_given_up_after_the_horizon(ev: Harness, handler: HandlerServer) -> None:
    handler.statuses = [500] * 1000
    services = ev.services
    worker = ev.app.state.event_worker
    worker.policy = type(worker.policy)(**{**worker.policy.__dict__, "horizon": 0.3})
    await outgoing_hook(ev, handler.url, "ONCRMLEADADD")
    await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": "x"}})

    async def dead() -> bool:
        return [d.status for d in await deliveries(ev)] == ["dead"]

    await until(dead)
    assert services.settings.event_retry_horizon == 86400.0  # the setting itself is untouched


async def test_telephony_raises_call_events(ev: Harness, handler: HandlerServer) -> None:
    await outgoing_hook(
        ev, handler.url, "ONVOXIMPLANTCALLINIT", "ONVOXIMPLANTCALLSTART", "ONVOXIMPLANTCALLEND",
        "ONCRMLEADADD", "ONCRMACTIVITYADD",
    )  # fmt: skip
    reg = {"USER_ID": 1, "PHONE_NUMBER": "+79161234567", "TYPE": 2, "CRM_CREATE": 1}
    call_id = (await ev.call(HOOK, "telephony.externalCall.register", reg)).json()["result"][
        "CALL_ID"
    ]
    again = await ev.call(HOOK, "telephony.externalCall.register", reg)
    assert again.json()["result"]["CALL_ID"] == call_id  # a dedup hit raises nothing
    fin = await ev.call(
        HOOK,
        "telephony.externalCall.finish",
        {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 42, "COST": 1.5, "COST_CURRENCY": "RUB"},
    )
    activity = fin.json()["result"]["CRM_ACTIVITY_ID"]
    await until(lambda: len(handler.events()) == 5)
    events = {e.event: e.data for e in handler.events()}
    assert events["ONVOXIMPLANTCALLINIT"] == {
        "CALL_ID": call_id, "CALL_TYPE": "2", "CALLER_ID": "+79161234567",
    }  # fmt: skip
    assert events["ONVOXIMPLANTCALLSTART"] == {"CALL_ID": call_id, "USER_ID": "1"}
    end = events["ONVOXIMPLANTCALLEND"]
    assert {k: end[k] for k in ("CALL_ID", "CALL_TYPE", "PORTAL_USER_ID", "CALL_DURATION",
                                "COST", "COST_CURRENCY", "CALL_FAILED_CODE")} == {
        "CALL_ID": call_id, "CALL_TYPE": "2", "PORTAL_USER_ID": "1", "CALL_DURATION": "42",
        "COST": "1.5", "COST_CURRENCY": "RUB", "CALL_FAILED_CODE": "200",
    }  # fmt: skip
    assert end["CRM_ACTIVITY_ID"] == str(activity) and "T" in end["CALL_START_DATE"]
    assert events["ONCRMACTIVITYADD"] == {"FIELDS": {"ID": str(activity)}}
    # the call's events arrive in the order they happened
    order = [e.event for e in handler.events() if e.event.startswith("ONVOX")]
    assert order == ["ONVOXIMPLANTCALLINIT", "ONVOXIMPLANTCALLSTART", "ONVOXIMPLANTCALLEND"]


async def test_signature_covers_the_body(handler: HandlerServer) -> None:
    body = payload.form_encode({"event": "X", "data": {"A": [1, True, None]}, "ts": "5"})
    assert body == b"event=X&data%5BA%5D%5B0%5D=1&data%5BA%5D%5B1%5D=1&ts=5"
    sig = payload.signature("tok", "5", body)
    assert payload.verify("tok", "5", body, sig)
    assert not payload.verify("tok", "5", body + b"&x=1", sig)
    assert not payload.verify("other", "5", body, sig)


async def test_nothing_is_written_without_subscribers(ev: Harness) -> None:
    await ev.call(HOOK, "crm.contact.add", {"fields": {"NAME": "A"}})
    async with ev.db.transaction(readonly=True) as s:
        assert (await s.execute(select(func.count(Delivery.id)))).scalar_one() == 0


async def test_deliveries_are_journaled_and_meet_event_faults(
    ev: Harness, handler: HandlerServer
) -> None:
    from b24tel.faults import service as fault_rules
    from b24tel.journal import queries

    await outgoing_hook(ev, handler.url, "ONCRMLEADADD")
    async with ev.db.transaction() as s:
        await fault_rules.add(s, {"method": "ONCRMLEADADD", "duplicate_event": True, "times": 1},
                              ev.services.clock.now(), "test")  # fmt: skip
        await fault_rules.add(s, {"method": "ONCRM*", "delay_event": "10ms"},
                              ev.services.clock.now(), "test")  # fmt: skip
    ev.services.faults.invalidate()
    await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": "a"}})
    await ev.call(HOOK, "crm.lead.add", {"fields": {"TITLE": "b"}})
    await until(lambda: len(handler.events()) == 3)
    keys = [r.key for r in handler.events()]
    assert keys[0] == keys[1] != keys[2]  # the first delivery came twice, as asked
    await until(lambda: all_delivered(ev))
    await ev.services.journal.flush()
    async with ev.db.transaction(readonly=True) as s:
        out = await queries.entries(s, queries.Filter(kind="event"), ev.services.clock.now())
    assert [(e.direction, e.method, e.status) for e in out] == [("out", "ONCRMLEADADD", 200)] * 2
    assert out[1].fault == "rule 1: event_duplicate"
    assert out[0].fault == "rule 2: event_delay" and out[0].params == {"FIELDS": {"ID": 2}}
    assert out[0].caller.startswith("outgoing:") and out[0].url == handler.url
