"""Sending a journaled request again: the curl line has placeholders where secrets were
(an application's token too), and a replay runs as the same caller with its current
credentials — from the page and from the command line."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest

from b24tel.journal import queries
from b24tel.journal.models import JournalRow
from b24tel.users import repository
from tests.conftest import FIXTURES, ISSUED_SECRETS, WEBHOOK_CODE, Harness
from tests.events.test_real_server import cli
from tests.servers import ServeProcess, wait_for
from tests.toolkit.test_journal import entries
from tests.web.test_pages import sign_in

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def _one(h: Harness, method: str) -> JournalRow:
    [row] = [r for r in await entries(h) if r.method == method]
    return row


async def test_an_apps_request_replays_with_its_current_token(harness: Harness, hook: str) -> None:
    app, _ = await harness.add_app("telephony,crm,user")
    first = await harness.token(app, 1)
    answer = await harness.client.post(
        "/rest/crm.contact.add",
        json={"auth": first.access_token, "fields": {"NAME": "Ann"}},
    )
    assert "result" in answer.json(), answer.text
    row = await _one(harness, "crm.contact.add")
    assert row.caller == f"app:{app.id}"
    curl = queries.curl(row, "https://pbx.example.com")
    assert '"auth": "<ACCESS_TOKEN>"' in curl and first.access_token not in curl
    assert curl.startswith("curl -X POST https://pbx.example.com/rest/crm.contact.add")

    # the first token is gone (refreshed): the replay uses the application's newest one
    await harness.token(app, 1)
    csrf = await sign_in(harness, 1)
    page = await harness.client.get(f"/admin/requests/{row.id}")
    assert f"Send again as app:{app.id}" in page.text
    done = await harness.client.post(f"/admin/requests/{row.id}", data={"csrf": csrf})
    assert done.status_code == 200
    assert f"Sent again: HTTP 200 as app:{app.id}" in done.text
    contacts = (await harness.client.post(HOOK + "crm.contact.list")).json()["result"]
    assert [c["NAME"] for c in contacts] == ["Ann", "Ann"]
    again = [r for r in await entries(harness) if r.method == "crm.contact.add"]
    assert len(again) == 2 and again[1].user_agent == f"b24tel requests replay {row.id}"
    assert again[1].caller == f"app:{app.id}" and again[1].status == 200
    # without the CSRF token nothing is sent
    refused = await harness.client.post(f"/admin/requests/{row.id}", data={})
    assert refused.status_code == 403
    assert len([r for r in await entries(harness) if r.method == "crm.contact.add"]) == 2


async def test_what_cannot_be_replayed_says_why(harness: Harness, hook: str) -> None:
    content = (FIXTURES / "call-8k-mono.wav").read_bytes()
    call = (await harness.client.post(HOOK + "telephony.externalCall.register", json={
        "USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2,
    })).json()["result"]  # fmt: skip
    await harness.client.post(HOOK + "telephony.externalCall.attachRecord", json={
        "CALL_ID": call["CALL_ID"], "FILENAME": "a.wav",
        "FILE_CONTENT": base64.b64encode(content).decode(),
    })  # fmt: skip
    csrf = await sign_in(harness, 1)
    attach = await _one(harness, "telephony.externalCall.attachRecord")
    shown = await harness.client.post(f"/admin/requests/{attach.id}", data={"csrf": csrf})
    assert "has values kept only as size and sha256" in shown.text
    # a webhook revoked since: its requests are not sent again
    other = await harness.add_webhook(1, code="anothercode123")
    await harness.client.post(other + "server.time")
    row = await _one(harness, "server.time")
    async with harness.db.transaction() as s:
        await repository.revoke_webhook(
            s, int(row.caller.split(":")[1]), harness.services.clock.now()
        )
    shown = await harness.client.post(f"/admin/requests/{row.id}", data={"csrf": csrf})
    assert re.search(r"webhook \d+ is revoked or expired", shown.text), shown.text


def test_requests_replay_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServeProcess(data) as server:
        added = httpx.post(server.hook + "crm.lead.add", json={"fields": {"TITLE": "<b>x</b>"}})
        assert "result" in added.json()
        code = server.hook.rstrip("/").rsplit("/", 1)[1]
        ISSUED_SECRETS.add(code)

        def journaled() -> list[dict[str, object]]:
            out = cli(data, {}, "requests", "list", "--method", "crm.lead.add", "--json")
            return [json.loads(line) for line in out.splitlines()]

        assert wait_for(lambda: len(journaled()) == 1)
        [row] = journaled()
        out = cli(data, {}, "requests", "replay", str(row["id"]))
        answer = json.loads(out)
        assert answer["result"] == added.json()["result"] + 1 and "time" in answer
        assert code not in out
        leads = httpx.post(server.hook + "crm.lead.list").json()["result"]
        assert [lead["TITLE"] for lead in leads] == ["<b>x</b>", "<b>x</b>"]
        assert wait_for(lambda: len(journaled()) == 2)
        curl = cli(data, {}, "requests", "show", str(row["id"]), "--curl")
        assert f"{server.url}/rest/1/<WEBHOOK_CODE>/crm.lead.add" in curl and code not in curl
