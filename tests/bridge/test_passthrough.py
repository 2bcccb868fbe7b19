"""Bridge mode, pass-through: a connector's flow sent through the bridge leaves the portal
with the same calls, activities and recordings as the same flow sent to it directly; the
portal's answers come back as they came; both legs are in the journal; the upstream
webhook's code is nowhere. The portal is a second b24tel, a real process (it speaks the
same protocol)."""

from __future__ import annotations

import base64
import io
import re
import threading
import wave
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.journal import queries
from b24tel.recordings.models import RecordingFile
from b24tel.telephony.models import Call, Statistic, TranscriptLine
from tests.conftest import ISSUED_SECRETS, Harness, make_harness
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audio"
LOCAL = "http://testserver/"  # the bridge under test, in this process
PORTAL_ENV = {"B24TEL_RECORD_URL_ALLOWLIST": "127.0.0.1/32"}


def long_wav(seconds: int = 200) -> bytes:
    """A valid recording of a few MB: its FILE_CONTENT stays on disk in the bridge."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 8000 * seconds)
    return out.getvalue()


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The PBX's own web server, where RECORD_URL points."""
    root = tmp_path_factory.mktemp("pbx")
    (root / "call.mp3").write_bytes((FIXTURES / "call-32k-mono.mp3").read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def portal(tmp_path: Path, name: str) -> ServeProcess:
    server = ServeProcess(tmp_path / name, env=PORTAL_ENV)
    ISSUED_SECRETS.add(server.hook.rstrip("/").rsplit("/", 1)[1])
    return server


@pytest.fixture
async def bridged(
    settings: Settings, clock: Clock, tmp_path: Path
) -> AsyncIterator[tuple[Harness, ServeProcess]]:
    with portal(tmp_path, "upstream") as upstream:
        tuned = settings.replace(
            upstream_url=upstream.hook,
            upstream_allow_http=True,
            record_url_allowlist="127.0.0.1/32",
        )
        async with make_harness(tuned, clock) as h:
            yield h, upstream


class Connector:
    """What a connector does, against any portal address; links the portal hands out
    (upload, download) are followed over real HTTP (``web``), wherever they point."""

    def __init__(self, client: httpx.AsyncClient, base: str, web: httpx.AsyncClient) -> None:
        self.client, self.base, self.web = client, base, web

    async def follow(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST to a link handed out: the bridge's own (in this process) or elsewhere."""
        client = self.client if url.startswith(LOCAL) else self.web
        return await client.post(url, **kwargs)

    async def raw(self, method: str, params: Any = None) -> httpx.Response:
        return await self.client.post(self.base + method, json=params or {})

    async def call(self, method: str, params: Any = None) -> Any:
        answer = await self.raw(method, params)
        assert answer.status_code == 200, (method, answer.text)
        return answer.json()["result"]


async def flow(c: Connector, pbx: str) -> dict[str, Any]:
    """register, show, a CRM lookup, finish, attachRecord three ways (each recording
    fetched back), hide, a batch."""
    contact = {"NAME": "Vera", "PHONE": [{"VALUE": "+79160001234"}]}
    await c.call("crm.contact.add", {"fields": contact})
    found = await c.call("telephony.externalCall.searchCrmEntities",
                         {"PHONE_NUMBER": "+79160001234"})  # fmt: skip
    reg = await c.call("telephony.externalCall.register", {
        "USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2, "CRM_CREATE": 1, "SHOW": 0,
    })  # fmt: skip
    call_id = reg["CALL_ID"]
    await c.call("telephony.externalCall.show", {"CALL_ID": call_id, "USER_ID": 1})
    finish = {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 42, "STATUS_CODE": "200"}
    await c.call("telephony.externalCall.finish", finish)
    files = []
    attached = await c.call("telephony.externalCall.attachRecord", {
        "CALL_ID": call_id, "FILENAME": "long.wav",
        "FILE_CONTENT": base64.b64encode(long_wav()).decode(),
    })  # fmt: skip
    files.append(await fetched(c, attached["FILE_ID"]))
    link = await c.call("telephony.externalCall.attachRecord",
                        {"CALL_ID": call_id, "FILENAME": "upload.wav"})  # fmt: skip
    uploaded = await c.follow(link["uploadUrl"], files={
        link["fieldName"]: ("upload.wav", (FIXTURES / "call-8k-mono.wav").read_bytes()),
    })  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    files.append(await fetched(c, uploaded.json()["result"]["FILE_ID"]))
    attached = await c.call("telephony.externalCall.attachRecord",
                            {"CALL_ID": call_id, "RECORD_URL": f"{pbx}/call.mp3"})  # fmt: skip
    files.append(await fetched(c, attached["FILE_ID"]))
    await c.call("telephony.externalCall.hide", {"CALL_ID": call_id, "USER_ID": 1})
    await c.call("telephony.call.attachTranscription", {"CALL_ID": call_id, "MESSAGES": [
        {"SIDE": "Client", "START_TIME": 0, "STOP_TIME": 2, "MESSAGE": "hello"},
        {"SIDE": "User", "START_TIME": 2, "STOP_TIME": 5, "MESSAGE": "good day"},
    ]})  # fmt: skip
    batch = await c.call("batch", {"halt": 0, "cmd": {
        "me": "user.current", "stat": "voximplant.statistic.get?FILTER[CALL_ID]=" + call_id,
    }})  # fmt: skip
    return {
        "call_id": call_id,
        "found": found,
        "files": files,
        "batch": batch["result"],
        "errors": batch["result_error"],
    }


async def fetched(c: Connector, file_id: Any) -> bytes:
    info = await c.call("disk.file.get", {"id": file_id})
    got = await c.web.get(info["DOWNLOAD_URL"])
    assert got.status_code == 200
    return got.content


VOLATILE = {"ID", "CREATED", "LAST_UPDATED", "DEADLINE", "SETTINGS", "TIMESTAMP_X"}


def _volatile(key: str) -> bool:
    """Ids, times and links: what differs between two portals for the same flow."""
    return (key in VOLATILE or key.endswith(("_ID", "_TIME")) or "DATE" in key
            or "URL" in key or key.startswith("date_"))  # fmt: skip


def _stable(value: Any) -> Any:
    """The value with what differs between two portals taken out: ids, times, links."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not _volatile(str(k))}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two answers differ, leaf by leaf (a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]  # fmt: skip
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]  # fmt: skip
    return [] if a == b else [f"{path}: {a!r:.80} != {b!r:.80}"]


async def what_the_portal_has(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        c = Connector(client, base, client)
        return {
            "stats": await c.call("voximplant.statistic.get", {"ORDER": {"ID": "ASC"}}),
            "activities": await c.call(
                "crm.activity.list", {"order": {"ID": "ASC"}, "select": ["*", "COMMUNICATIONS"]}
            ),
            "leads": await c.call("crm.lead.list", {"select": ["*"]}),
            "contacts": await c.call("crm.contact.list", {"select": ["*"]}),
        }


async def test_a_flow_through_the_bridge_leaves_the_portal_as_a_direct_one(
    bridged: tuple[Harness, ServeProcess], pbx: str, tmp_path: Path
) -> None:
    h, upstream = bridged
    await h.add_webhook(await h.add_user(name="Admin", admin=True, inner_number="101"),
                        code="secretcode")  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as web:
        answers = await flow(Connector(h.client, "/rest/1/secretcode/", web), pbx)
        with portal(tmp_path, "direct") as direct:
            answers_direct = await flow(Connector(web, direct.hook, web), pbx)
            here = await what_the_portal_has(direct.hook)
        there = await what_the_portal_has(upstream.hook)
    call_ids = answers.pop("call_id"), answers_direct.pop("call_id")
    assert differences(_stable(answers), _stable(answers_direct)) == []
    assert answers["files"] == answers_direct["files"]  # each recording byte for byte
    assert answers["files"][0] == long_wav()
    assert len(there["stats"]) == 1 and there["stats"][0]["CALL_DURATION"] == "42"
    assert len(there["activities"]) == len(here["activities"]) >= 1
    for key in ("stats", "activities", "leads", "contacts"):
        assert differences(_stable(there[key]), _stable(here[key])) == [], key
    await the_bridge_keeps_a_copy(h, call_ids[0], answers["files"], there)


async def the_bridge_keeps_a_copy(
    h: Harness, call_id: str, recordings: list[bytes], there: dict[str, Any]
) -> None:
    """The call under the portal's CALL_ID, its finish with the portal's CRM binding and
    activity, every recording version byte for byte (the portal kept only the last), the
    transcript."""
    stat_there, activity_there = there["stats"][0], there["activities"][0]
    async with h.db.transaction(readonly=True) as s:
        calls = (await s.scalars(select(Call))).all()
        stat = (await s.scalars(select(Statistic))).one()
        files = (await s.scalars(select(RecordingFile).order_by(RecordingFile.id))).all()
        lines = (await s.scalars(select(TranscriptLine).order_by(TranscriptLine.id))).all()
    assert [c.call_id for c in calls] == [call_id] and stat.call_id == call_id
    assert (stat.call_duration, stat.call_failed_code, stat.phone_number) == (
        42, "200", "+79160001234")  # fmt: skip
    assert (stat.crm_entity_type, str(stat.crm_entity_id)) == (
        stat_there["CRM_ENTITY_TYPE"], stat_there["CRM_ENTITY_ID"])  # fmt: skip
    assert str(stat.crm_activity_id) == activity_there["ID"]
    assert [f.source for f in files] == ["content", "upload", "url"]
    assert [f.name for f in files] == ["long.wav", "upload.wav", "call.mp3"]
    kept = [b"".join([c async for c in h.services.recordings.storage.open(f.storage_key)])
            for f in files]  # fmt: skip
    assert kept == recordings
    assert [f.replaced_by for f in files] == [files[1].id, files[2].id, None]
    assert stat.record_file_id == files[2].id and stat.call_record_url == files[2].source_url
    assert [(ln.side, ln.message) for ln in lines] == [("Client", "hello"), ("User", "good day")]


async def test_answers_come_back_as_they_came(bridged: tuple[Harness, ServeProcess]) -> None:
    """Errors, unknown methods, lists with total and next: status and body as the portal
    sent them."""
    h, upstream = bridged
    await h.add_webhook(await h.add_user(name="Admin", admin=True, inner_number="101"),
                        code="secretcode")  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as client:
        through = Connector(h.client, "/rest/1/secretcode/", client)
        direct = Connector(client, upstream.hook, client)
        for n in range(55):
            await direct.call("crm.lead.add", {"fields": {"TITLE": f"Lead {n}"}})
        for method, params in [
            ("telephony.externalCall.finish", {"CALL_ID": "externalCall.nope", "USER_ID": 1}),
            ("im.notify.system.add", {"USER_ID": 1, "MESSAGE": "hi"}),
            ("crm.lead.list", {"select": ["ID", "TITLE"]}),
            ("crm.lead.list", {"select": ["ID"], "start": 50}),
            ("telephony.externalCall.register", {"USER_ID": 1}),
        ]:
            mine, theirs = await through.raw(method, params), await direct.raw(method, params)
            assert mine.status_code == theirs.status_code, (method, mine.text)
            mine_body, their_body = mine.json(), theirs.json()
            mine_body.pop("time", None), their_body.pop("time", None)
            assert mine_body == their_body, method
    listed = (await through.raw("crm.lead.list", {"select": ["ID"]})).json()
    assert listed["total"] == 55 and listed["next"] == 50


async def test_both_legs_are_journaled_without_the_upstream_code(
    bridged: tuple[Harness, ServeProcess],
) -> None:
    h, upstream = bridged
    await h.add_webhook(await h.add_user(name="Admin", admin=True, inner_number="101"),
                        code="secretcode")  # fmt: skip
    through = Connector(h.client, "/rest/1/secretcode/", h.client)
    await through.call("server.time")
    assert (await through.raw("no.such.method")).status_code == 404
    await h.services.journal.flush()
    async with h.db.transaction(readonly=True) as s:
        rows = await queries.entries(s, queries.Filter(limit=100), h.services.clock.now())
    legs = sorted((r.direction, r.kind, r.method, r.status) for r in rows)
    assert legs == [
        ("in", "method", "no.such.method", 404), ("in", "method", "server.time", 200),
        ("out", "upstream", "no.such.method", 404), ("out", "upstream", "server.time", 200),
    ]  # fmt: skip
    code = upstream.hook.rstrip("/").rsplit("/", 1)[1]
    out = [r for r in rows if r.direction == "out"]
    assert all(r.url.endswith(("/rest/1/***/server.time.json", "/rest/1/***/no.such.method.json"))
               for r in out)  # fmt: skip
    assert all(code not in str(vars(r)) for r in rows)


async def test_a_portal_that_cannot_be_reached_is_a_retryable_503(
    settings: Settings, clock: Clock
) -> None:
    from tests.conftest import free_port

    gone = f"http://127.0.0.1:{free_port()}/rest/1/abcdef0123456789/"
    ISSUED_SECRETS.add("abcdef0123456789")
    tuned = settings.replace(upstream_url=gone, upstream_allow_http=True)
    async with make_harness(tuned, clock) as h:
        await h.add_webhook(await h.add_user(name="Admin", admin=True), code="secretcode")
        answer = await h.client.post("/rest/1/secretcode/server.time")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json()["error"] == "UPSTREAM_UNAVAILABLE"
    assert "cannot be reached" in answer.json()["error_description"]
    assert "abcdef0123456789" not in answer.text


@pytest.mark.parametrize(
    ("url", "allow", "message"),
    [
        ("http://portal.example/rest/1/code/", True, "must use https"),
        ("http://127.0.0.1:8080/rest/1/code/", False, "must use https"),
        ("https://portal.example/rest/code/", False, "incoming webhook URL"),
        ("https://portal.example/oauth/token/", False, "incoming webhook URL"),
    ],
)
def test_the_upstream_must_be_a_webhook_over_tls(url: str, allow: bool, message: str) -> None:
    from b24tel.config import SettingsError

    with pytest.raises(SettingsError, match=message) as refused:
        Settings.load(env={}, upstream_url=url, upstream_allow_http=allow)
    assert "code" not in str(refused.value).replace("code>", "")


OAUTH = {"upstream_client_id": "local.1", "upstream_client_secret": "s",
         "upstream_refresh_token": "r"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bridge_record_mode": "url"}, "needs public_url"),
        ({"bridge_record_mode": "link"}, "content or url"),
        ({"upstream_client_id": "local.1"}, "needs upstream_client_secret"),
        (OAUTH, "upstream_url is https://<portal>/rest/"),
    ],
)
def test_bridge_settings_that_cannot_work_are_refused(
    changes: dict[str, str], message: str
) -> None:
    from b24tel.config import SettingsError

    hook = "https://portal.example/rest/1/abcdef/"
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.load(env={}, upstream_url=hook, **changes)
    if "upstream_client_id" in changes and "upstream_refresh_token" in changes:
        Settings.load(env={}, upstream_url="https://portal.example/rest/", **changes)


async def test_a_batchs_telephony_writes_are_copied_and_its_upload_links_made_ours(
    bridged: tuple[Harness, ServeProcess],
) -> None:
    """As a connector batching every call sends them (fast_bitrix24): references between
    commands resolved from the portal's answer, a recording inside a command copied."""
    h, upstream = bridged
    await h.add_webhook(await h.add_user(name="Admin", admin=True), code="secretcode")
    wav = (FIXTURES / "call-8k-mono.wav").read_bytes()
    content = base64.b64encode(wav).decode()
    async with httpx.AsyncClient(timeout=30) as web:
        c = Connector(h.client, "/rest/1/secretcode/", web)
        got = await c.call("batch", {"halt": 1, "cmd": {
            "reg": "telephony.externalCall.register?USER_ID=1&PHONE_NUMBER=%2B79160001234&TYPE=2",
            "fin": "telephony.externalCall.finish?CALL_ID=$result[reg][CALL_ID]&USER_ID=1"
                   "&DURATION=12",
            "rec": "telephony.externalCall.attachRecord?CALL_ID=$result[reg][CALL_ID]"
                   "&FILENAME=a.wav&FILE_CONTENT=" + quote(content, safe=""),
            "link": "telephony.externalCall.attachRecord?CALL_ID=$result[reg][CALL_ID]"
                    "&FILENAME=b.wav",
        }})  # fmt: skip
        assert got["result_error"] == [] or got["result_error"] == {}
        call_id = got["result"]["reg"]["CALL_ID"]
        link = got["result"]["link"]["uploadUrl"]
        assert link.startswith(LOCAL) and upstream.hook.rsplit("/", 2)[1] not in link
        sent = await c.follow(link, files={"file": ("b.wav", wav)})
        assert sent.status_code == 200, sent.text
    async with h.db.transaction(readonly=True) as s:
        stat = (await s.scalars(select(Statistic))).one()
        files = (await s.scalars(select(RecordingFile).order_by(RecordingFile.id))).all()
    assert (stat.call_id, stat.call_duration) == (call_id, 12)
    assert [(f.name, f.source) for f in files] == [("a.wav", "content"), ("b.wav", "upload")]
    assert stat.record_file_id == files[1].id
