"""telephony.externalCall.finish: errors, result types, defaults, the call activity,
missed calls, validation before any write, RECORD_URL in the background (docs/reference/
telephony.md, "finish" and "The call activity")."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import FIXTURES, Harness
from tests.helpers import err, ok

FINISH = "telephony.externalCall.finish"


async def register(h: Harness, hook: str, **params: object) -> str:
    params = {
        "USER_ID": 1,
        "PHONE_NUMBER": "+7 916 000-12-34",
        "TYPE": 2,
        "CALL_START_DATE": "2026-03-07T10:20:30+03:00",
        **params,
    }
    return ok(await h.call(hook, "telephony.externalCall.register", params))["result"]["CALL_ID"]


async def contact(h: Harness, hook: str) -> int:
    return ok(
        await h.call(
            hook,
            "crm.contact.add",
            {
                "fields": {
                    "NAME": "Ivan",
                    "LAST_NAME": "Petrov",
                    "PHONE": [{"VALUE": "+79160001234"}],
                }
            },
        )
    )["result"]


async def test_result_fields_and_types(harness: Harness, hook: str) -> None:
    cid_contact = await contact(harness, hook)
    call_id = await register(harness, hook, LINE_NUMBER="3", EXTERNAL_CALL_ID="pbx-9")
    r = ok(
        await harness.call(
            hook,
            FINISH,
            {
                "CALL_ID": call_id,
                "USER_ID": 1,
                "DURATION": 95,
                "VOTE": 5,
                "COST": "1.5",
                "COST_CURRENCY": "EUR",
            },
        )
    )
    r = r["result"]
    assert list(r) == [
        "CALL_ID",
        "EXTERNAL_CALL_ID",
        "PORTAL_USER_ID",
        "PHONE_NUMBER",
        "PORTAL_NUMBER",
        "INCOMING",
        "CALL_DURATION",
        "CALL_START_DATE",
        "CALL_STATUS",
        "CALL_VOTE",
        "COST",
        "COST_CURRENCY",
        "CALL_FAILED_CODE",
        "CALL_FAILED_REASON",
        "REST_APP_ID",
        "REST_APP_NAME",
        "CRM_ACTIVITY_ID",
        "COMMENT",
        "CRM_ENTITY_TYPE",
        "CRM_ENTITY_ID",
        "ID",
    ]
    assert r["CALL_ID"] == call_id and r["EXTERNAL_CALL_ID"] == "pbx-9"
    assert r["PORTAL_USER_ID"] == 1 and r["PHONE_NUMBER"] == "+79160001234"
    assert r["PORTAL_NUMBER"] == "3" and r["INCOMING"] == "2" and r["CALL_DURATION"] == 95
    assert r["CALL_START_DATE"] == "2026-03-07T07:20:30+00:00"  # ISO, not the reference's {}
    assert (r["CALL_STATUS"], r["CALL_VOTE"], r["COST"], r["COST_CURRENCY"]) == (1, 5, 1.5, "EUR")
    assert (r["CALL_FAILED_CODE"], r["CALL_FAILED_REASON"]) == ("200", "")
    assert r["REST_APP_ID"] is None and r["REST_APP_NAME"] is False  # a webhook call
    assert isinstance(r["CRM_ACTIVITY_ID"], int) and r["COMMENT"] is None
    assert (r["CRM_ENTITY_TYPE"], r["CRM_ENTITY_ID"]) == ("CONTACT", cid_contact)
    assert isinstance(r["ID"], int)


async def test_defaults(harness: Harness, hook: str) -> None:
    r = ok(
        await harness.call(hook, FINISH, {"CALL_ID": await register(harness, hook), "USER_ID": 1})
    )["result"]
    assert (r["CALL_DURATION"], r["CALL_STATUS"], r["CALL_FAILED_CODE"], r["COST"]) == (
        0,
        0,
        "304",
        0,
    )
    assert r["CALL_VOTE"] == 0 and r["CRM_ACTIVITY_ID"] is False and "CRM_ENTITY_TYPE" not in r
    assert r["ERRORS"] == {
        "ACTIVITY_CREATION": "Could not find associated crm entity for the current call"
    }
    r = ok(
        await harness.call(
            hook,
            FINISH,
            {
                "CALL_ID": await register(harness, hook, TYPE=1),
                "USER_ID": 1,
                "DURATION": "12",
                "STATUS_CODE": 486,
            },
        )
    )["result"]
    assert (r["CALL_STATUS"], r["CALL_FAILED_CODE"]) == (1, "486")
    r = ok(
        await harness.call(
            hook,
            FINISH,
            {
                "CALL_ID": await register(harness, hook, TYPE=1),
                "USER_ID": 1,
                "DURATION": 3,
                "STATUS_CODE": "0",
            },
        )
    )["result"]
    assert r["CALL_FAILED_CODE"] == "200"  # "0" is falsy, so the default applies


async def test_errors_and_their_order(harness: Harness, hook: str) -> None:
    call_id = await register(harness, hook)
    err(
        await harness.call(hook, FINISH, {"CALL_ID": call_id}),
        400,
        "ERROR_CORE",
        "USER_ID or USER_PHONE_INNER should be set",
    )
    # the user check comes before the CALL_ID type check
    err(
        await harness.call(hook, FINISH, {"CALL_ID": 12345}),
        400,
        "ERROR_CORE",
        "USER_ID or USER_PHONE_INNER should be set",
    )
    for bad in (12345, ["x"], None):
        err(
            await harness.call(hook, FINISH, {"CALL_ID": bad, "USER_ID": 1}),
            400,
            "INVALID_ARGUMENT",
            "CALL_ID must be a string",
        )
    err(
        await harness.call(hook, FINISH, {"CALL_ID": "externalCall.nope.1", "USER_ID": 1}),
        400,
        "ERROR_CORE",
        "Call is not found (call should be registered prior to finishing",
    )
    err(
        await harness.call(hook, FINISH, {"CALL_ID": call_id, "USER_ID": 999}),
        400,
        "ERROR_CORE",
        "User is not found or is not active",
    )
    ok(await harness.call(hook, FINISH, {"CALL_ID": call_id, "USER_PHONE_INNER": "101"}))
    # a second finish: the call is gone
    err(
        await harness.call(hook, FINISH, {"CALL_ID": call_id, "USER_ID": 1}),
        400,
        "ERROR_CORE",
        "Call is not found (call should be registered prior to finishing",
    )


async def test_another_application_cannot_finish(harness: Harness, hook: str) -> None:
    call_id = await register(harness, hook)
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    err(
        await harness.client.post(
            "/rest/" + FINISH, json={"auth": pair.access_token, "CALL_ID": call_id, "USER_ID": 1}
        ),
        400,
        "ERROR_CORE",
        "Call is not found (call should be registered prior to finishing",
    )


async def test_app_name_for_applications(harness: Harness) -> None:
    await harness.add_user(name="A")
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    reg = ok(
        await harness.client.post(
            "/rest/telephony.externalCall.register",
            json={"auth": pair.access_token, "USER_ID": 1, "PHONE_NUMBER": "123", "TYPE": 1},
        )
    )["result"]
    r = ok(
        await harness.client.post(
            "/rest/" + FINISH,
            json={"auth": pair.access_token, "CALL_ID": reg["CALL_ID"], "USER_ID": 1},
        )
    )["result"]
    assert r["REST_APP_ID"] == str(app.id) and r["REST_APP_NAME"] == "Test app"
    assert r["PORTAL_NUMBER"] == f"REST_APP:{app.id}"


async def test_values_too_long_fail_before_any_write(harness: Harness, hook: str) -> None:
    await contact(harness, hook)
    call_id = await register(harness, hook)
    body = err(
        await harness.call(
            hook,
            FINISH,
            {
                "CALL_ID": call_id,
                "USER_ID": 1,
                "DURATION": 5,
                "FAILED_REASON": "r" * 256,
                "COST_CURRENCY": "c" * 51,
            },
        ),
        400,
        "ERROR_CORE",
    )
    assert body["error_description"] == (
        'Unexpected database error; The length of "Code description" should not exceed 255 '
        'characters.; The length of "Currency" should not exceed 50 characters.'
    )
    listed = ok(await harness.call(hook, "crm.activity.list"))
    assert listed["total"] == 0  # nothing was written
    # the call is still open: a corrected retry works and files exactly one activity
    ok(await harness.call(hook, FINISH, {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 5}))
    assert ok(await harness.call(hook, "crm.activity.list"))["total"] == 1


async def test_long_phone_finishes(harness: Harness, hook: str) -> None:
    """The reference caps the statistic phone at 20 characters and fails after filing the
    activity; here the number is kept whole."""
    number = "+7 916 000-12-34,,,,1234567890#"
    call_id = await register(harness, hook, PHONE_NUMBER=number)
    r = ok(await harness.call(hook, FINISH, {"CALL_ID": call_id, "USER_ID": 1}))["result"]
    assert r["PHONE_NUMBER"] == "+79160001234,,,,1234567890#"


@pytest.mark.parametrize(
    ("call_type", "code", "subject", "direction", "completed", "stream", "missed"),
    [
        (2, "200", "Incoming from +7 916 000-12-34", "1", "Y", "1", False),
        (2, "304", "Incoming from +7 916 000-12-34", "1", "N", "4", True),
        (3, "304", "Incoming from +7 916 000-12-34", "1", "Y", "4", False),
        (1, "200", "Outgoing to +7 916 000-12-34", "2", "Y", "2", False),
        (4, "200", "Callback to +7 916 000-12-34", "2", "Y", "3", False),
        (4, "304", "Callback to +7 916 000-12-34", "2", "N", "4", True),
        (5, "200", "Phone call", "2", "Y", "0", False),
    ],
)
async def test_call_activity(
    harness: Harness,
    hook: str,
    call_type: int,
    code: str,
    subject: str,
    direction: str,
    completed: str,
    stream: str,
    missed: bool,
) -> None:
    cid = await contact(harness, hook)
    deal = ok(
        await harness.call(hook, "crm.deal.add", {"fields": {"TITLE": "open", "CONTACT_ID": cid}})
    )["result"]
    uid = await harness.add_user(name="Agent")
    call_id = await register(harness, hook, TYPE=call_type, LINE_NUMBER="74950001122")
    r = ok(
        await harness.call(
            hook,
            FINISH,
            {
                "CALL_ID": call_id,
                "USER_ID": uid,
                "DURATION": 95 if code == "200" else 0,
                "STATUS_CODE": code,
                "VOTE": 4,
            },
        )
    )["result"]
    a = ok(await harness.call(hook, "crm.activity.get", {"id": r["CRM_ACTIVITY_ID"]}))["result"]
    assert (a["TYPE_ID"], a["PROVIDER_ID"], a["ORIGIN_ID"]) == (
        "2",
        "VOXIMPLANT_CALL",
        f"VI_{call_id}",
    )
    assert a["PROVIDER_TYPE_ID"] == ("CALLBACK" if call_type == 4 else "CALL")
    assert (a["SUBJECT"], a["DIRECTION"], a["COMPLETED"]) == (subject, direction, completed)
    assert a["RESULT_STREAM"] == stream and a["RESULT_MARK"] == "2"
    assert a["RESPONSIBLE_ID"] == str(uid) and a["OWNER_ID"] == str(cid)
    assert a["START_TIME"] == "2026-03-07T07:20:30+00:00"
    end = dt.datetime(2026, 3, 7, 7, 20, 30, tzinfo=dt.UTC) + dt.timedelta(
        seconds=95 if code == "200" else 0
    )
    assert a["END_TIME"] == end.isoformat() and a["DEADLINE"] == a["END_TIME"]
    assert a["SETTINGS"] == ({"MISSED_CALL": True} if missed else [])
    assert a["COMMUNICATIONS"][0]["VALUE"] == "+79160001234"
    if code == "200" and call_type == 2:
        assert a["DESCRIPTION"] == "Call length: 1 min 35 sec\nCall routed to: 74950001122."
    bindings = ok(
        await harness.call(hook, "crm.activity.binding.list", {"activityId": r["CRM_ACTIVITY_ID"]})
    )["result"]
    assert {"entityTypeId": 3, "entityId": cid} in bindings
    assert {"entityTypeId": 2, "entityId": deal} in bindings


async def test_created_lead_reassigned_to_finishing_user(harness: Harness, hook: str) -> None:
    call_id = await register(harness, hook, CRM_CREATE=1, PHONE_NUMBER="5550001")
    uid = await harness.add_user(name="Closer")
    r = ok(await harness.call(hook, FINISH, {"CALL_ID": call_id, "USER_ID": uid, "DURATION": 10}))[
        "result"
    ]
    lead = ok(await harness.call(hook, "crm.lead.get", {"id": r["CRM_ENTITY_ID"]}))["result"]
    assert lead["ASSIGNED_BY_ID"] == str(uid) and r["CRM_ENTITY_TYPE"] == "LEAD"


async def test_missed_calls_and_callbacks(harness: Harness, hook: str) -> None:
    from sqlalchemy import select

    from b24tel.telephony.models import MissedCall

    missed = ok(
        await harness.call(
            hook, FINISH, {"CALL_ID": await register(harness, hook, TYPE=2), "USER_ID": 1}
        )
    )["result"]
    ok(
        await harness.call(
            hook, FINISH, {"CALL_ID": await register(harness, hook, TYPE=3), "USER_ID": 1}
        )
    )
    back = ok(
        await harness.call(
            hook,
            FINISH,
            {
                "CALL_ID": await register(harness, hook, TYPE=1),
                "USER_ID": 1,
                "DURATION": 30,
                "STATUS_CODE": "200",
            },
        )
    )["result"]
    async with harness.db.transaction(readonly=True) as s:
        rows = (await s.execute(select(MissedCall))).scalars().all()
    assert [(m.id, m.callback_id) for m in rows] == [
        (missed["ID"], back["ID"]),
        (missed["ID"] + 1, back["ID"]),
    ]


AUDIO = (FIXTURES / "call-32k-mono.mp3").read_bytes()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body, status = (AUDIO, 200) if self.path == "/rec.mp3" else (b"", 404)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pbx() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


async def test_record_url_fetched_in_background(harness: Harness, hook: str, pbx: str) -> None:
    from b24tel.app import build_fetcher

    settings = harness.services.settings.replace(record_url_allowlist="127.0.0.1/32")
    harness.services.fetcher = build_fetcher(settings)
    good = await register(harness, hook)
    r = ok(
        await harness.call(
            hook,
            FINISH,
            {"CALL_ID": good, "USER_ID": 1, "DURATION": 5, "RECORD_URL": f"{pbx}/rec.mp3"},
        )
    )["result"]
    assert r["CALL_RECORD_URL"] == f"{pbx}/rec.mp3"
    bad = await register(harness, hook, PHONE_NUMBER="+79160009999")
    ok(
        await harness.call(
            hook,
            FINISH,
            {"CALL_ID": bad, "USER_ID": 1, "DURATION": 5, "RECORD_URL": f"{pbx}/missing.mp3"},
        )
    )
    relative = await register(harness, hook, PHONE_NUMBER="+79160008888")
    ok(
        await harness.call(
            hook, FINISH, {"CALL_ID": relative, "USER_ID": 1, "RECORD_URL": "/recording/x.mp3"}
        )
    )
    await harness.services.background.join(10)
    rows = {
        row["CALL_ID"]: row
        for row in ok(await harness.call(hook, "voximplant.statistic.get"))["result"]
    }
    assert rows[good]["RECORD_FETCH_STATUS"] == "done"
    assert isinstance(rows[good]["RECORD_FILE_ID"], int)
    assert rows[good]["CALL_RECORD_URL"] == f"{pbx}/rec.mp3"
    assert rows[bad]["RECORD_FETCH_STATUS"] == "failed"
    assert rows[bad]["RECORD_FETCH_ERROR"] == "Server returns HTTP error code 404"
    assert rows[bad]["RECORD_FILE_ID"] is None
    assert rows[relative]["RECORD_FETCH_ERROR"].startswith("URL: ")
