"""The web interface in headless chromium on a real `b24tel serve` (SQLite): sign-in, the
journal and its filters, the player, the live card, click-to-call, the CSV export, access
rules, CSRF and escaping; the screenshots of docs/ui.md."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.events.handler import HandlerServer, Received
from tests.servers import ServeProcess
from tests.web.browser import ENV, SHOTS_ENV, Portal, cli, need_browser, signed_in, submit, until

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

XSS = "<img src=x onerror=alert(1)>"


class Connector:
    """Binds ONEXTERNALCALLSTART when installed, and records the clicks it receives."""

    def __init__(self, portal: Portal, handler: HandlerServer) -> None:
        self.portal, self.handler = portal, handler
        self.bound: dict[str, Any] = {}
        self.token = ""

    def rest(self, method: str, **params: Any) -> Any:
        """As the connector: with the application's own token."""
        answer = httpx.post(
            f"{self.portal.url}/rest/{method}", json={**params, "auth": self.token}
        ).json()
        assert "error" not in answer, answer
        return answer["result"]

    def __call__(self, got: Received) -> None:
        if got.event == "ONAPPINSTALL":
            self.token = got.auth["access_token"]
            self.bound = httpx.post(
                f"{self.portal.url}/rest/event.bind",
                json={
                    "event": "ONEXTERNALCALLSTART",
                    "handler": self.handler.url + "/click",
                    "auth": got.auth["access_token"],
                },
            ).json()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    need_browser()
    data = tmp_path_factory.mktemp("web") / "data"
    with HandlerServer() as handler, ServeProcess(data, env=ENV) as server:
        portal = Portal(server, data)
        cli(
            data,
            "users",
            "add",
            "--name",
            "Bob",
            "--last-name",
            "Operator",
            "--inner-number",
            "102",
        )
        cli(data, "users", "add", "--name", "Eve", "--inner-number", "103")
        connector = Connector(portal, handler)
        handler.on_event = connector
        created = cli(
            data,
            "apps",
            "create",
            "--name",
            "PBX connector",
            "--scope",
            "telephony,crm,user",
            "--handler-url",
            handler.url + "/install",
        )
        app_id = created.split("app_id: ", 1)[1].split()[0]
        cli(data, "apps", "install", app_id, "--user", "1")
        assert until(lambda: connector.bound.get("result") is True), connector.bound
        portal.connector = connector  # type: ignore[attr-defined]
        yield portal


def test_sign_in_with_a_link_then_a_password(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 1)
    assert page.locator("h1").inner_text() == "Dashboard"
    # the link worked once
    used = page.context.new_page()
    first = portal.login_link(1)
    used.goto(first)
    fresh = browser.new_context().new_page()
    answer = fresh.goto(first)
    assert answer is not None and answer.status == 401
    assert "invalid, used or expired" in fresh.locator(".error").inner_text()

    cli(portal.data, "users", "password", "--user", "2", "--password", "correct horse 2")
    page = browser.new_context().new_page()
    page.goto(portal.url + "/calls")
    assert "/login?next=%2Fcalls" in page.url
    page.fill("input[name=login]", "2")
    page.fill("input[name=password]", "wrong")
    submit(page, "button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong user or password."
    page.fill("input[name=login]", "2")
    page.fill("input[name=password]", "correct horse 2")
    submit(page, "button[type=submit]")
    assert page.url == portal.url + "/calls" and page.locator("h1").inner_text().startswith("Calls")
    submit(page, "text=Sign out")
    assert page.url.endswith("/login")
    page.goto(portal.url + "/calls")
    assert "/login" in page.url  # the session is gone


def test_password_attempts_are_limited(browser: Any, portal: Portal) -> None:
    cli(portal.data, "users", "password", "--user", "3", "--password", "eve's password")
    page = browser.new_context().new_page()
    page.goto(portal.url + "/login")
    for _ in range(5):
        page.fill("input[name=login]", "3")
        page.fill("input[name=password]", "guess")
        submit(page, "button[type=submit]")
        assert page.locator(".error").inner_text() == "Wrong user or password."
    page.fill("input[name=login]", "3")
    page.fill("input[name=password]", "eve's password")  # right, but too late
    submit(page, "button[type=submit]")
    assert "Too many failed attempts" in page.locator(".error").inner_text()


def test_a_call_lands_in_the_journal_and_plays(browser: Any, portal: Portal) -> None:
    call_id = portal.call(1, "+7 916 000-12-34")
    page = signed_in(browser, portal, 1)
    page.goto(portal.url + "/calls")
    row = page.locator(f'tr[data-call-id="{call_id}"]')
    assert row.count() == 1
    assert "+79160001234" in row.inner_text() and "answered" in row.inner_text()

    # another spelling of the number finds it; another number does not
    page.fill("input[name=phone]", "8 (916) 000 12 34")
    submit(page, "text=Filter")
    assert page.locator(f'tr[data-call-id="{call_id}"]').count() == 1
    page.fill("input[name=phone]", "+7 916 000-99-99")
    submit(page, "text=Filter")
    assert page.locator(f'tr[data-call-id="{call_id}"]').count() == 0

    ranges: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            ranges.append((r.status, r.request.headers.get("range", "")))
            if "download.json" in r.url
            else None
        ),
    )
    page.goto(f"{portal.url}/calls/{call_id}")
    assert page.locator(".meta").inner_text().count("pcm_s16le") == 1
    page.evaluate("document.getElementById('player').play()")
    assert until(lambda: page.evaluate("document.getElementById('player').currentTime") > 0.5)
    # the player asked for ranges, and the server answered them with 206 Partial Content
    assert any(status == 206 and header.startswith("bytes=") for status, header in ranges), ranges
    waveform = page.locator("img.waveform")
    assert waveform.evaluate("img => img.complete && img.naturalWidth > 0")


def test_the_card_appears_on_show_and_goes_on_hide(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 1)
    assert until(lambda: page.evaluate("document.documentElement.dataset.live") == "open")
    call_id = portal.call(1, "+7 495 111-22-33", finish=False)
    card = page.locator(f'#cards [data-call-id="{call_id}"]')
    assert card.count() == 0

    portal.rest("telephony.externalCall.show", CALL_ID=call_id, USER_ID=1)
    card.wait_for(state="visible", timeout=1000)  # within one second of the answer
    assert "+74951112233" in card.inner_text() or "74951112233" in card.inner_text()
    portal.rest("telephony.externalCall.hide", CALL_ID=call_id, USER_ID=1)
    card.wait_for(state="detached", timeout=1000)

    # register with SHOW=1 opens it too; finish closes it
    other = portal.call(1, "+7 495 111-22-44", finish=False, show=1)
    page.locator(f'#cards [data-call-id="{other}"]').wait_for(state="visible", timeout=1000)
    portal.rest("telephony.externalCall.finish", CALL_ID=other, USER_ID=1, DURATION=3)
    page.locator(f'#cards [data-call-id="{other}"]').wait_for(state="detached", timeout=1000)


def test_click_to_call_reaches_the_connector(browser: Any, portal: Portal) -> None:
    connector: Connector = portal.connector  # type: ignore[attr-defined]
    handler = connector.handler
    portal.call(1, "+7 903 555-00-11")
    page = signed_in(browser, portal, 1)
    page.goto(portal.url + "/calls?phone=79035550011")
    page.locator("button.dial").first.click()
    assert until(lambda: handler.events("ONEXTERNALCALLSTART"))
    [click] = handler.events("ONEXTERNALCALLSTART")
    assert click.path == "/click"
    assert (
        click.data["USER_ID"] == "1" and click.data["PHONE_NUMBER_INTERNATIONAL"] == "+79035550011"
    )
    # the call the portal registered shows its card, until the connector finishes it
    card = page.locator(f'#cards [data-call-id="{click.data["CALL_ID"]}"]')
    card.wait_for(state="visible")
    connector.rest(
        "telephony.externalCall.finish", CALL_ID=click.data["CALL_ID"], USER_ID=1, DURATION=40
    )
    card.wait_for(state="detached")


def test_people_see_only_their_own_calls(browser: Any, portal: Portal) -> None:
    bobs = portal.call(2, "+7 916 222-33-44")
    eve = signed_in(browser, portal, 3)
    answer = eve.goto(f"{portal.url}/calls/{bobs}")
    assert answer is not None and answer.status == 403
    eve.goto(portal.url + "/calls")
    assert eve.locator(f'tr[data-call-id="{bobs}"]').count() == 0
    assert eve.locator("nav >> text=Requests").count() == 0  # not an administrator
    answer = eve.goto(portal.url + "/admin/requests")
    assert answer is not None and answer.status == 403
    bob = signed_in(browser, portal, 2)
    answer = bob.goto(f"{portal.url}/calls/{bobs}")
    assert answer is not None and answer.status == 200


def test_changes_without_the_csrf_token_are_refused(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 1)
    request = page.context.request
    answer = request.post(portal.url + "/calls/start", form={"number": "+79035550011"})
    assert answer.status == 403 and "CSRF_TOKEN_INVALID" in answer.text()
    answer = request.post(
        portal.url + "/calls/start",
        form={"number": "+79035550011"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert answer.status == 403 and answer.json()["error"] == "CSRF_TOKEN_INVALID"
    answer = request.post(portal.url + "/logout", form={"csrf": "forged"})
    assert answer.status == 403
    page.goto(portal.url + "/calls")
    assert page.locator("h1").inner_text().startswith("Calls")  # still signed in


def test_a_contact_named_like_html_is_shown_as_text(browser: Any, portal: Portal) -> None:
    contact = portal.rest(
        "crm.contact.add",
        fields={"NAME": XSS, "PHONE": [{"VALUE": "+7 916 777-66-55", "VALUE_TYPE": "WORK"}]},
    )
    call_id = portal.call(1, "+7 916 777-66-55", record=False)
    page = signed_in(browser, portal, 1)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(portal.url + "/calls")
    link = page.locator(f'tr[data-call-id="{call_id}"] a[href="/crm/contact/{contact}"]')
    assert link.inner_text() == XSS
    page.goto(f"{portal.url}/crm/contact/{contact}")
    assert page.locator("h1").inner_text() == XSS
    page.goto(portal.url + "/crm/contact?q=" + "916 777 66 55")
    assert page.locator(f'a[href="/crm/contact/{contact}"]').inner_text() == XSS
    assert page.locator('img[src="x"]').count() == 0 and dialogs == []


def test_integrator_pages_add_and_remove_a_fault_and_resend_an_event(
    browser: Any, portal: Portal
) -> None:
    page = signed_in(browser, portal, 1)
    page.goto(portal.url + "/admin/faults")
    page.fill("input[name=method]", "crm.contact.list")
    page.select_option("select[name=effect]", "proxy")
    page.fill("input[name=value]", "418")  # not a proxy status: the form says why
    submit(page, 'form[action="/admin/faults"] button[type=submit]')
    assert "proxy must be 502, 503 or 504" in page.locator(".error").inner_text()
    page.fill("input[name=method]", "crm.contact.list")
    page.select_option("select[name=effect]", "error")
    page.fill("input[name=value]", "QUERY_LIMIT_EXCEEDED")
    page.fill("input[name=times]", "1")
    submit(page, 'form[action="/admin/faults"] button[type=submit]')
    assert "QUERY_LIMIT_EXCEEDED" in page.locator("table").inner_text()
    refused = httpx.post(portal.hook + "crm.contact.list").json()
    assert refused["error"] == "QUERY_LIMIT_EXCEEDED"
    submit(page, "text=Remove")
    assert "No rules" in page.locator("table").inner_text()

    page.goto(portal.url + "/admin/deliveries")
    rows = page.locator("table tbody tr")
    assert "ONAPPINSTALL" in page.locator("table").inner_text()
    before = rows.count()
    submit(page, page.locator("text=Send again").first)
    assert page.url.endswith("/admin/deliveries") and rows.count() == before
    page.goto(portal.url + "/admin/requests")
    assert "crm.contact.list" in page.locator("#requests").inner_text()


def _insert_calls(db: Path, count: int) -> None:
    """Finished calls written straight into the server's database (as an import would)."""
    start = dt.datetime(2026, 1, 1)
    rows = [
        (
            f"bulk.{n}",
            0,
            1,
            f"+7916{n:07d}",
            f"7916{n:07d}",
            "2",
            "external",
            30,
            start + dt.timedelta(minutes=n),
            1,
            0,
            "",
            "200",
            "",
            "N",
        )
        for n in range(count)
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO tel_statistics (call_id, owner, portal_user_id, phone_number, "
            "phone_normalized, incoming, call_category, call_duration, call_start_date, "
            "call_status, cost, cost_currency, call_failed_code, call_failed_reason, "
            "transcript_pending) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def test_the_csv_export_streams_10000_calls_in_flat_memory(browser: Any, portal: Portal) -> None:
    _insert_calls(portal.data / "b24tel.db", 10_000)
    page = signed_in(browser, portal, 1)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    server = psutil.Process(portal.server.proc.pid)
    before = server.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.memory_info().rss)
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True).start()
    lines, chunks = 0, 0
    with httpx.stream("GET", portal.url + "/calls.csv", cookies=cookies, timeout=60) as answer:
        assert answer.status_code == 200
        assert answer.headers["transfer-encoding"] == "chunked"  # no length: streamed
        for chunk in answer.iter_bytes():
            chunks += 1
            lines += chunk.count(b"\n")
    done.set()
    assert lines > 10_000  # the header, the 10 000 and the calls of the other tests
    growth = (peak[0] - before) / 2**20
    print(f"CSV export: {lines} lines in {chunks} chunks, server RSS growth {growth:.1f} MB")
    # one chunk of 1 000 rows in memory at a time: a few MB, whatever the total
    assert growth < 16, f"server RSS grew {growth:.1f} MB"


def test_screenshots_for_the_docs(browser: Any, portal: Portal, tmp_path: Path) -> None:
    """The pages docs/ui.md shows, photographed: into a temporary directory, or into
    docs/ui when remade on purpose (``python bench/screenshots.py``)."""
    shots = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    for hours_ago, status in ((1, 200), (2, 304), (3, 200), (5, 200), (26, 304), (50, 200)):
        when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).isoformat()
        portal.call(
            1 if hours_ago % 2 else 2,
            f"+7 916 100-20-{hours_ago:02d}",
            status=status,
            CALL_START_DATE=when,
        )
    transcript_call = portal.call(1, "+7 916 777-66-55")
    portal.rest(
        "telephony.call.attachTranscription",
        CALL_ID=transcript_call,
        MESSAGES=[
            {"SIDE": "User", "START_TIME": 0, "STOP_TIME": 3, "MESSAGE": "Good morning, b24tel."},
            {
                "SIDE": "Client",
                "START_TIME": 3,
                "STOP_TIME": 7,
                "MESSAGE": "Hello, about my order.",
            },
        ],
    )
    page = signed_in(browser, portal, 1, viewport={"width": 1280, "height": 900})
    page.goto(portal.url + "/")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.goto(portal.url + "/calls?date_from=2026-02-01")
    page.screenshot(path=str(shots / "calls.png"))
    ringing = portal.call(1, "+7 916 777-66-55", finish=False, show=1)
    page.goto(f"{portal.url}/calls/{transcript_call}")
    page.locator(f'#cards [data-call-id="{ringing}"]').wait_for(state="visible")
    page.locator("button.seek").nth(1).click()
    assert until(lambda: page.evaluate("document.getElementById('player').currentTime") >= 3)
    page.screenshot(path=str(shots / "call.png"), full_page=True)
    page.goto(portal.url + "/admin/requests")
    page.screenshot(path=str(shots / "requests.png"))
    page.goto(portal.url + "/admin/users")
    page.screenshot(path=str(shots / "users.png"))
    phone = signed_in(browser, portal, 1, viewport={"width": 390, "height": 844})
    phone.goto(portal.url + "/calls?date_from=2026-02-01")
    phone.screenshot(path=str(shots / "calls-phone.png"))
    portal.rest("telephony.externalCall.finish", CALL_ID=ringing, USER_ID=1, DURATION=1)
