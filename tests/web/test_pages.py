"""Pages through the real app on SQLite and PostgreSQL (no browser): sessions, the
journal's filters and full-text search, the export, the waveform, the integrator's forms;
and the live card crossing two server instances on one PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import json
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from b24tel.clock import FakeClock
from b24tel.config import Settings
from b24tel.web.calls import _cell
from b24tel.web.sessions import Sessions
from tests.conftest import FIXTURES, WEBHOOK_CODE, Harness, make_harness
from tests.servers import ServeProcess
from tests.web.browser import cli

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

HOOK = f"/rest/1/{WEBHOOK_CODE}/"
WAV = base64.b64encode((FIXTURES / "call-8k-mono.wav").read_bytes()).decode()
MP3 = base64.b64encode((FIXTURES / "call-32k-mono.mp3").read_bytes()).decode()


async def rest(h: Harness, method: str, **params: Any) -> Any:
    answer = (await h.client.post(HOOK + method, json=params)).json()
    assert "error" not in answer, answer
    return answer["result"]


async def sign_in(h: Harness, user_id: int) -> str:
    """Sign the harness's client in as the user; the session's CSRF token."""
    sessions = h.services.sessions
    assert isinstance(sessions, Sessions)
    token = await sessions.login_link(user_id)
    answer = await h.client.get(f"/login/link?token={token}")
    assert answer.status_code == 303, answer.text
    page = await h.client.get("/")
    return re.search(r'name="csrf" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


async def call(
    h: Harness,
    user_id: int,
    number: str,
    *,
    status: int = 200,
    file: str | None = WAV,
    direction: int = 2,
    **extra: Any,
) -> str:
    call_id = (
        await rest(
            h,
            "telephony.externalCall.register",
            USER_ID=user_id,
            PHONE_NUMBER=number,
            TYPE=direction,
            **extra,
        )
    )["CALL_ID"]
    await rest(
        h,
        "telephony.externalCall.finish",
        CALL_ID=call_id,
        USER_ID=user_id,
        DURATION=30,
        STATUS_CODE=status,
    )
    if file:
        await rest(
            h,
            "telephony.externalCall.attachRecord",
            CALL_ID=call_id,
            FILENAME="x.wav" if file == WAV else "x.mp3",
            FILE_CONTENT=file,
        )
    return call_id


def listed(page: httpx.Response) -> set[str]:
    return set(re.findall(r'data-call-id="([^"]+)"', page.text))


async def test_pages_ask_for_a_session(harness: Harness, hook: str) -> None:
    answer = await harness.client.get("/calls?status=missed")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fcalls%3Fstatus%3Dmissed"
    answer = await harness.client.get("/live")
    assert answer.status_code == 401 and answer.json()["error"] == "NOT_SIGNED_IN"
    answer = await harness.client.post("/calls/start", data={"number": "1"})
    assert answer.status_code == 401
    harness.client.cookies.set("b24tel_session", "abc.def")  # forged
    answer = await harness.client.get("/calls")
    assert answer.status_code == 303
    harness.client.cookies.clear()
    page = await harness.client.get("/login")
    assert page.status_code == 200 and "content-security-policy" in page.headers
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_link_works_once_and_for_15_minutes(settings: Settings) -> None:
    clock = FakeClock()
    async with make_harness(settings, clock) as h:
        uid = await h.add_user(name="Ann")
        sessions = h.services.sessions
        assert isinstance(sessions, Sessions)
        late = await sessions.login_link(uid)
        clock.advance(16 * 60)
        answer = await h.client.get(f"/login/link?token={late}")
        assert answer.status_code == 401 and "expired" in answer.text
        token = await sessions.login_link(uid)
        assert (await h.client.get(f"/login/link?token={token}")).status_code == 303
        h.client.cookies.clear()
        assert (await h.client.get(f"/login/link?token={token}")).status_code == 401


async def test_a_new_password_signs_every_browser_out(harness: Harness, hook: str) -> None:
    await sign_in(harness, 1)
    assert (await harness.client.get("/calls")).status_code == 200
    sessions = harness.services.sessions
    assert isinstance(sessions, Sessions)
    await sessions.set_password(1, "a new password")
    assert (await harness.client.get("/calls")).status_code == 303
    answer = await harness.client.get("/login")
    form = re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
    answer = await harness.client.post(
        "/login",
        data={"csrf": form, "login": "1", "password": "a new password", "next": "//evil.example/"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    with pytest.raises(ValueError, match="at least 8"):
        await sessions.set_password(1, "short")


async def test_journal_filters(harness: Harness, hook: str) -> None:
    bob = await harness.add_user(name="Bob")
    answered = await call(harness, 1, "+7 916 000-12-34")
    missed = await call(harness, 1, "+7 916 000-55-55", status=304, file=None)
    failed = await call(harness, bob, "+7 916 000-66-66", status=486, file=None, direction=1)
    await sign_in(harness, 1)

    async def found(query: str) -> set[str]:
        page = await harness.client.get("/calls?" + query)
        assert page.status_code == 200, page.text
        return listed(page)

    assert await found("") == {answered, missed, failed}
    assert await found("phone=8+916+000+12+34") == {answered}
    assert await found("phone=0079160005555") == {missed}
    # any part of at least four digits, in any spelling
    assert await found("phone=000-12") == {answered}
    assert await found("phone=%28916%29+000") == {answered, missed, failed}
    assert await found("phone=5555") == {missed}
    assert await found("phone=555") == set()  # three digits: a whole number only
    assert await found("phone=%D9%A5%D9%A5%D9%A5%D9%A5") == set()  # Arabic digits: no number
    assert await found("status=answered") == {answered}
    assert await found("status=missed") == {missed}
    assert await found("status=failed") == {failed}
    assert await found("direction=1") == {failed}
    assert await found(f"user={bob}") == {failed}
    assert await found("recording=yes") == {answered}
    assert await found("recording=no") == {missed, failed}
    today = dt.datetime.now(dt.UTC).date()
    assert await found(f"date_from={today + dt.timedelta(days=1)}") == set()
    assert await found(f"date_from={today - dt.timedelta(days=1)}&date_to={today}") == {
        answered,
        missed,
        failed,
    }
    for odd in (
        "page=-1",
        "page=99999999999",
        "page=%C2%B2",  # "²" is a digit to str.isdigit() and not a number to int()
        "sort=evil&order=drop",
        "date_from=2026-13-45",
        "user=1e9",
        "phone=%00",
        "entity=CONTACT:x",
    ):
        assert (await harness.client.get("/calls?" + odd)).status_code == 200, odd
    sorted_page = await harness.client.get("/calls?sort=number&order=asc")
    order = re.findall(r'data-call-id="([^"]+)"', sorted_page.text)
    assert order == [answered, missed, failed]


async def test_transcript_words_find_their_calls(harness: Harness, hook: str) -> None:
    first = await call(harness, 1, "+7 916 000-12-34")
    second = await call(harness, 1, "+7 916 000-12-35")
    await rest(
        harness,
        "telephony.call.attachTranscription",
        CALL_ID=first,
        MESSAGES=[
            {"SIDE": "Client", "START_TIME": 0, "STOP_TIME": 2, "MESSAGE": "Where is my order?"}
        ],
    )
    await rest(
        harness,
        "telephony.call.attachTranscription",
        CALL_ID=second,
        MESSAGES=[
            {"SIDE": "User", "START_TIME": 0, "STOP_TIME": 2, "MESSAGE": "Your invoice is ready"}
        ],
    )
    await sign_in(harness, 1)
    assert listed(await harness.client.get("/calls?q=order")) == {first}
    assert listed(await harness.client.get("/calls?q=invoice+ready")) == {second}
    # the start of a word finds it; every word must be there
    assert listed(await harness.client.get("/calls?q=ord")) == {first}
    assert listed(await harness.client.get("/calls?q=Inv+rea")) == {second}
    assert listed(await harness.client.get("/calls?q=ord+rea")) == set()
    assert listed(await harness.client.get("/calls?q=%21%21")) == set()
    assert listed(await harness.client.get("/calls?transcript=yes")) == {first, second}
    for hostile in ('"', "NEAR(", "order OR", "*", "'; drop", "\\", "a:* | b", "!x & (y"):
        page = await harness.client.get("/calls", params={"q": hostile})
        assert page.status_code == 200, (hostile, page.text)


async def test_the_export_follows_the_filter(harness: Harness, hook: str) -> None:
    kept = await call(harness, 1, "+7 916 000-12-34")
    await call(harness, 1, "+7 916 000-55-55", status=304, file=None)
    await sign_in(harness, 1)
    answer = await harness.client.get("/calls.csv?status=answered")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = answer.text.strip().splitlines()
    assert rows[0].startswith("CALL_ID,CALL_START_DATE") and len(rows) == 2
    assert rows[1].startswith(kept + ",") and ",answered," in rows[1]
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("@SUM") == "'@SUM"
    assert _cell("+7 916 000-12-34") == "+7 916 000-12-34"


async def test_the_export_names_people_lines_and_records(harness: Harness, hook: str) -> None:
    """Names beside IDs, E.164 numbers, ISO 8601 times with the portal's offset."""
    harness.services.tz = ZoneInfo("Europe/Moscow")
    bob = await harness.add_user(name="Bob", last_name="Stone", inner_number="102")
    await rest(harness, "telephony.externalLine.add", NUMBER="74951234567", NAME="Main line")
    contact = await rest(harness, "crm.contact.add",
                         fields={"NAME": "Ivan", "LAST_NAME": "Petrov",
                                 "PHONE": [{"VALUE": "+79160001234"}]})  # fmt: skip
    await call(harness, bob, "8 (916) 000-12-34", LINE_NUMBER="74951234567",
               CALL_START_DATE="2026-03-10T08:19:38+00:00")  # fmt: skip
    await sign_in(harness, 1)
    rows = list(csv.DictReader(io.StringIO((await harness.client.get("/calls.csv")).text)))
    [row] = rows
    assert row["CALL_START_DATE"] == "2026-03-10T11:19:38+03:00"
    assert (row["PHONE_NUMBER_E164"], row["DIRECTION"]) == ("+79160001234", "incoming")
    assert (row["PORTAL_USER_ID"], row["USER_NAME"]) == (str(bob), "Bob Stone")
    assert (row["PORTAL_NUMBER"], row["LINE_NAME"]) == ("74951234567", "Main line")
    assert (row["CRM_ENTITY_TYPE"], row["CRM_ENTITY_ID"]) == ("CONTACT", str(contact))
    assert row["CRM_ENTITY_NAME"] == "Ivan Petrov"


async def test_people_see_their_own_calls_and_pages(harness: Harness, hook: str) -> None:
    bob = await harness.add_user(name="Bob")
    eve = await harness.add_user(name="Eve")
    bobs = await call(harness, bob, "+7 916 000-12-34")
    await sign_in(harness, eve)
    assert listed(await harness.client.get("/calls")) == set()
    answer = await harness.client.get(f"/calls/{bobs}")
    assert answer.status_code == 403 and "another user" in answer.text
    assert (await harness.client.get(f"/calls/{bobs}/waveform.svg")).status_code == 403
    assert (await harness.client.get("/admin/faults")).status_code == 403
    csv_rows = (await harness.client.get("/calls.csv")).text.strip().splitlines()
    assert len(csv_rows) == 1  # the header only
    await sign_in(harness, bob)
    assert listed(await harness.client.get("/calls")) == {bobs}
    assert (await harness.client.get(f"/calls/{bobs}")).status_code == 200
    assert (await harness.client.get("/calls/nope")).status_code == 404


async def test_waveform_pictures(harness: Harness, hook: str) -> None:
    wav_call = await call(harness, 1, "+7 916 000-12-34")
    mp3_call = await call(harness, 1, "+7 916 000-12-35", file=MP3)
    bare = await call(harness, 1, "+7 916 000-12-36", file=None)
    await sign_in(harness, 1)
    picture = await harness.client.get(f"/calls/{wav_call}/waveform.svg")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/svg+xml"
    assert "<path" in picture.text and picture.text.count("M") > 500
    again = await harness.client.get(
        f"/calls/{wav_call}/waveform.svg", headers={"if-none-match": picture.headers["etag"]}
    )
    assert again.status_code == 304
    mp3 = await harness.client.get(f"/calls/{mp3_call}/waveform.svg")
    assert "no picture for mp3" in mp3.text and "<path" not in mp3.text
    assert "no recording" in (await harness.client.get(f"/calls/{bare}/waveform.svg")).text


async def test_the_call_page_shows_versions_transcript_and_events(
    harness: Harness, hook: str
) -> None:
    call_id = await call(harness, 1, "+7 916 000-12-34")
    await rest(
        harness,
        "telephony.externalCall.attachRecord",
        CALL_ID=call_id,
        FILENAME="second.mp3",
        FILE_CONTENT=MP3,
    )
    await rest(
        harness,
        "telephony.call.attachTranscription",
        CALL_ID=call_id,
        MESSAGES=[{"SIDE": "Client", "START_TIME": 4, "STOP_TIME": 6, "MESSAGE": "<b>hi</b>"}],
    )
    await sign_in(harness, 1)
    page = (await harness.client.get(f"/calls/{call_id}")).text
    assert "second.mp3" in page and "Earlier versions" in page and "x.wav" in page
    assert 'data-start="4"' in page and "&lt;b&gt;hi&lt;/b&gt;" in page
    assert "RECORD_FILE_ID" in page and "/rest/download.json?token=" in page


async def test_fault_rules_and_redelivery_from_the_pages(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    answer = await harness.client.post(
        "/admin/faults",
        data={
            "csrf": csrf,
            "method": "crm.*",
            "effect": "error",
            "value": "QUERY_LIMIT_EXCEEDED",
            "times": "1",
        },
    )
    assert answer.status_code == 303
    refused = await harness.client.post(HOOK + "crm.contact.list")
    assert refused.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    bad = await harness.client.post(
        "/admin/faults", data={"csrf": csrf, "effect": "proxy", "value": "418"}
    )
    assert bad.status_code == 200 and "proxy must be 502, 503 or 504" in bad.text
    page = (await harness.client.get("/admin/faults")).text
    rule_id = re.search(r"/admin/faults/(\d+)/remove", page).group(1)  # type: ignore[union-attr]
    answer = await harness.client.post(f"/admin/faults/{rule_id}/remove", data={"csrf": csrf})
    assert answer.status_code == 303
    assert "No rules" in (await harness.client.get("/admin/faults")).text
    for _ in range(100):  # the journal is written a moment after the answer
        feed = (await harness.client.get("/admin/requests.json?after=0&method=crm.*")).json()
        if feed["requests"]:
            break
        await asyncio.sleep(0.05)
    assert [r["error"] for r in feed["requests"]] == ["QUERY_LIMIT_EXCEEDED"]
    missing = await harness.client.post("/admin/deliveries/999/redeliver", data={"csrf": csrf})
    assert missing.status_code == 404


async def test_the_dashboard_draws_a_users_own_calls(harness: Harness, hook: str) -> None:
    bob = await harness.add_user(name="Bob")
    await call(harness, 1, "+7 916 000-12-34", file=None)
    await call(harness, bob, "+7 916 000-12-35", status=304, file=None)
    await sign_in(harness, bob)
    page = (await harness.client.get("/")).text
    assert "1 calls in 30 days, 0 answered" in page and "<svg" in page
    await sign_in(harness, 1)
    page = (await harness.client.get("/")).text
    assert "2 calls in 30 days, 1 answered" in page


def _events(stream: httpx.Response, deadline: float) -> Any:
    name = ""
    for line in stream.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])
        if time.monotonic() > deadline:
            return


def test_the_card_crosses_instances_on_postgresql(shared_postgres: str, tmp_path: Any) -> None:
    """A page on one instance shows the card a connector opened through the other."""
    env = {"B24TEL_DATABASE_URL": shared_postgres, "B24TEL_AUTH_CACHE_TTL": "0"}
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    with ServeProcess(first_dir, env=env) as first, ServeProcess(second_dir, env=env) as second:
        hook = first.hook or cli(first_dir, "webhooks", "create", "--user", "1", env=env)
        hook = hook.replace(first.url, second.url)  # the connector talks to the second
        link = cli(first_dir, "users", "login-link", "--user", "1", "--url", first.url, env=env)
        with httpx.Client(base_url=first.url) as browser:
            assert browser.get(link).status_code == 303
            with browser.stream("GET", "/live", timeout=10) as stream:
                events = _events(stream, time.monotonic() + 10)
                call_id = httpx.post(
                    hook + "telephony.externalCall.register",
                    json={
                        "USER_ID": 1,
                        "PHONE_NUMBER": "+74951112233",
                        "TYPE": 2,
                        "SHOW": 0,
                    },
                ).json()["result"]["CALL_ID"]
                shown = httpx.post(
                    hook + "telephony.externalCall.show", json={"CALL_ID": call_id, "USER_ID": 1}
                )
                assert shown.json()["result"] is True
                got = next(e for e in events if e[1].get("call_id") == call_id)
                assert got[0] == "card" and got[1]["number"] == "+74951112233"
                httpx.post(
                    hook + "telephony.externalCall.hide", json={"CALL_ID": call_id, "USER_ID": 1}
                )
                got = next(e for e in events if e[1].get("call_id") == call_id)
                assert got[0] == "gone"


@pytest.mark.parametrize("user", [1])
async def test_click_to_call_without_a_connector_says_why(
    harness: Harness, hook: str, user: int
) -> None:
    csrf = await sign_in(harness, user)
    answer = await harness.client.post(
        "/calls/start", data={"number": "+79160001234"}, headers={"x-csrf-token": csrf}
    )
    assert answer.status_code == 409
    assert (
        "no installed application has bound ONEXTERNALCALLSTART"
        in answer.json()["error_description"]
    )
    empty = await harness.client.post(
        "/calls/start", data={"number": " "}, headers={"x-csrf-token": csrf}
    )
    assert empty.status_code == 400 and empty.json()["error"] == "INVALID_REQUEST"


async def test_forms_with_files_or_without_length_are_refused_in_our_words(
    harness: Harness, hook: str
) -> None:
    csrf = await sign_in(harness, 1)
    cookie = "; ".join(f"{k}={v}" for k, v in harness.client.cookies.items())
    body = (b"--b\r\nContent-Disposition: form-data; name=\"number\"; filename=\"x.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n+79160001234\r\n--b--\r\n")  # fmt: skip
    headers = {"cookie": cookie, "x-csrf-token": csrf,
               "content-type": "multipart/form-data; boundary=b"}  # fmt: skip
    answer, _ = await harness.asgi("POST", "/calls/start", body=body, headers=headers)
    assert answer.status_code == 400 and answer.json()["error"] == "INVALID_REQUEST"
    # a form sent in chunks (no length) cannot say how big it is: refused unread
    headers = {"cookie": cookie, "content-type": "application/x-www-form-urlencoded",
               "transfer-encoding": "chunked"}  # fmt: skip
    answer, read = await harness.asgi("POST", "/logout", body=b"", headers=headers)
    assert answer.status_code == 413 and read == 0
