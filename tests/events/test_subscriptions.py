"""event.bind / unbind / get / events: the reference's parameters, permissions and error
texts, and the refusals that happen here instead of at delivery (docs/reference/events.md,
"event.bind")."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import WEBHOOK_CODE, Harness
from tests.events.conftest import App, installed_app
from tests.events.handler import HandlerServer

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def bind(app: App, **params: Any) -> Any:
    return await app.call("event.bind", params)


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body.get("error"), body.get("error_description")


async def test_bind_get_unbind(admin_app: App, handler: HandlerServer) -> None:
    r = await bind(admin_app, event="onCrmContactAdd", handler=handler.url + "/h")
    assert r.status_code == 200 and r.json()["result"] is True
    r = await bind(admin_app, EVENT="ONVOXIMPLANTCALLEND", HANDLER=handler.url + "/h", auth_type=2)
    assert r.json()["result"] is True
    got = (await admin_app.call("event.get")).json()["result"]
    assert got == [
        {"event": "ONCRMCONTACTADD", "handler": handler.url + "/h", "auth_type": "0", "offline": 0},
        {"event": "ONVOXIMPLANTCALLEND", "handler": handler.url + "/h", "auth_type": "2",
         "offline": 0},
    ]  # fmt: skip
    r = await admin_app.call(
        "event.unbind", {"event": "ONCRMCONTACTADD", "handler": handler.url + "/h"}
    )
    assert r.json()["result"] == {"count": 1}
    r = await admin_app.call(
        "event.unbind", {"event": "ONCRMCONTACTADD", "handler": handler.url + "/h"}
    )
    assert r.json()["result"] == {"count": 0}
    assert len((await admin_app.call("event.get")).json()["result"]) == 1


async def test_bind_errors(admin_app: App, user_app: App, handler: HandlerServer) -> None:
    url = handler.url + "/h"
    assert error(await bind(admin_app, event="ONNOSUCHEVENT", handler=url)) == (
        400, "ERROR_EVENT_NOT_FOUND", "Event not found",
    )  # fmt: skip
    assert error(await bind(admin_app, event="ONCRMLEADADD")) == (
        400, "ERROR_ARGUMENT", "Argument 'HANDLER' is null or empty",
    )  # fmt: skip
    assert error(await bind(admin_app, handler=url)) == (
        400, "ERROR_ARGUMENT", "Argument 'EVENT' is null or empty",
    )  # fmt: skip
    assert (await bind(admin_app, event="ONCRMLEADADD", handler=url)).status_code == 200
    assert error(await bind(admin_app, event="ONCRMLEADADD", handler=url)) == (
        400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!",
    )  # fmt: skip
    # a user who is not an administrator
    assert error(await bind(user_app, event="ONCRMLEADADD", event_type="offline")) == (
        403, "ACCESS_DENIED",
        "Access denied! Offline events binding requires administrator access rights",
    )  # fmt: skip
    assert error(await bind(user_app, event="ONCRMLEADADD", handler=url, auth_type=1)) == (
        403, "ACCESS_DENIED",
        "Access denied! Event binding with AUTH_TYPE requires administrator access rights",
    )  # fmt: skip
    assert (await bind(user_app, event="ONCRMLEADADD", handler=url, auth_type=2)).json()[
        "result"
    ] is True


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://10.1.2.3/h", "10.1.2.3 is a private address"),
        ("http://127.0.0.2:9/h", "127.0.0.2 is a loopback address"),
        ("http://[::1]/h", "::1 is a loopback address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a private address"),
        ("ftp://example.com/h", "an absolute http(s) URL is needed"),
        ("/relative/handler", "an absolute http(s) URL is needed"),
        ("http://127.0.0.1:99999/h", "not a valid URL"),
    ],
)
async def test_handlers_we_may_not_call_are_refused_at_bind(
    admin_app: App, url: str, reason: str
) -> None:
    """Refused now, with the reason and the setting that allows it, not dropped later."""
    status, code, description = error(await bind(admin_app, event="ONCRMLEADADD", handler=url))
    assert (status, code) == (400, "ERROR_WRONG_HANDLER_URL")
    assert description.startswith("Wrong handler URL: ") and reason in description


async def test_events_outside_the_apps_scopes_are_not_found(ev: Harness) -> None:
    crm_only = await installed_app(ev, 1, scopes="crm")
    r = await bind(crm_only, event="ONEXTERNALCALLSTART", handler="http://127.0.0.1:9/h")
    assert error(r) == (400, "ERROR_EVENT_NOT_FOUND", "Event not found")
    names = (await crm_only.call("events")).json()["result"]
    assert "ONCRMLEADADD" in names and "ONEXTERNALCALLSTART" not in names
    assert "ONAPPINSTALL" in names
    full = (await crm_only.call("events", {"FULL": True})).json()["result"]
    assert "ONEXTERNALCALLSTART" in full
    telephony = (await crm_only.call("events", {"SCOPE": "telephony"})).json()["result"]
    assert set(telephony) == {
        "ONEXTERNALCALLSTART", "ONEXTERNALCALLBACKSTART", "ONVOXIMPLANTCALLINIT",
        "ONVOXIMPLANTCALLSTART", "ONVOXIMPLANTCALLEND",
    }  # fmt: skip


async def test_event_methods_need_an_application(ev: Harness) -> None:
    for method in ("event.bind", "event.unbind", "event.get", "event.offline.get"):
        r = await ev.call(HOOK, method, {"event": "ONCRMLEADADD", "handler": "http://1.1.1.1"})
        assert error(r) == (
            403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method",
        ), method  # fmt: skip


async def test_a_user_sees_and_unbinds_only_their_bindings(
    admin_app: App, user_app: App, handler: HandlerServer
) -> None:
    await bind(admin_app, event="ONCRMLEADADD", handler=handler.url + "/a")
    await bind(user_app, event="ONCRMLEADADD", handler=handler.url + "/b")
    mine = (await user_app.call("event.get")).json()["result"]
    assert [b["handler"] for b in mine] == [handler.url + "/b"]
    r = await user_app.call(
        "event.unbind", {"event": "ONCRMLEADADD", "handler": handler.url + "/a"}
    )
    assert r.json()["result"] == {"count": 0}
    everything = (await admin_app.call("event.get")).json()["result"]
    assert len(everything) == 2


async def test_binds_sent_at_once_make_one_binding(admin_app: App, handler: HandlerServer) -> None:
    """Thirty identical binds at the same moment (concurrent transactions on PostgreSQL)
    used to make several bindings, and every event then went out as many times."""
    url = handler.url + "/h"
    answers = await asyncio.gather(
        *(bind(admin_app, event="ONCRMLEADADD", handler=url) for _ in range(30))
    )
    assert sum(a.status_code == 200 for a in answers) == 1
    assert {error(a)[1] for a in answers if a.status_code != 200} == {"ERROR_HANDLER_ALREADY_EXIST"}
    got = (await admin_app.call("event.get")).json()["result"]
    assert [b["event"] for b in got] == ["ONCRMLEADADD"]
    # the same event to another handler, or offline, is another binding
    assert (await bind(admin_app, event="ONCRMLEADADD", handler=url + "2")).status_code == 200
