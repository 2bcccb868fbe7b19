"""The Users page in headless chromium on a real `b24tel serve`: an administrator adds,
edits and dismisses people, sets a password and issues a sign-in link; a dismissed user
cannot sign in and their extension goes to someone else; operators cannot reach the page;
names with HTML stay text; a phone's 390 px screen does not scroll sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import ServeProcess
from tests.web.browser import ENV, Portal, cli, need_browser, signed_in, submit, until

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

XSS = "<b>Dora</b><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    need_browser()
    data = tmp_path_factory.mktemp("people") / "data"
    with ServeProcess(data, env=ENV) as server:
        cli(data, "users", "add", "--name", "Olga", "--inner-number", "102")
        yield Portal(server, data)


def _sign_in_with_password(browser: Any, portal: Portal, login: str, password: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(portal.url + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    submit(page, "button[type=submit]")
    return page


def test_an_administrator_manages_people(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 1)
    submit(page, "nav >> text=Users")
    assert page.url == portal.url + "/admin/users"

    # Olga has 102: a second person cannot take it while she is active
    form = page.locator("form[aria-labelledby=add]")
    form.locator("input[name=name]").fill("Dora")
    form.locator("input[name=inner_number]").fill("102")
    submit(page, form.locator("button[type=submit]"))
    assert page.locator(".error").inner_text() == (
        "inner number 102 already belongs to active user 2 (Olga)"
    )
    assert form.locator("input[name=name]").input_value() == "Dora"  # what was typed stays

    form.locator("input[name=name]").fill(XSS)
    form.locator("input[name=inner_number]").fill("104")
    form.locator("input[name=email]").fill("dora@example.com")
    submit(page, form.locator("button[type=submit]"))
    assert page.locator(".notice").inner_text() == "User added."
    dora = page.url.rsplit("/", 1)[1].split("?")[0]
    assert page.locator("h1").inner_text().startswith(XSS)  # text, not markup
    assert page.locator("h1 img").count() == 0

    # a password, then a one-time link, both for Dora
    page.fill("input[name=password]", "dora's password")
    submit(page, "button[value=password]")
    assert "Password set" in page.locator(".notice").inner_text()
    submit(page, "button[value=link]")
    link = page.locator("input.copy").input_value()
    assert link.startswith(portal.url + "/login/link?token=")
    dora_browser = browser.new_context().new_page()
    dora_browser.goto(link)
    assert dora_browser.locator(".who").inner_text() == XSS

    # Dora leaves: her browser and her password stop working; 104 goes to Finn
    submit(page, "button[value=deactivate]")
    assert "Deactivated" in page.locator(".notice").inner_text()
    assert "deactivated" in page.locator("h1 .muted").inner_text()
    dora_browser.goto(portal.url + "/calls")
    assert "/login" in dora_browser.url
    refused = _sign_in_with_password(browser, portal, dora, "dora's password")
    assert refused.locator(".error").inner_text() == "Wrong user or password."

    page.goto(portal.url + "/admin/users")
    form = page.locator("form[aria-labelledby=add]")
    form.locator("input[name=name]").fill("Finn")
    form.locator("input[name=inner_number]").fill("104")
    submit(page, form.locator("button[type=submit]"))
    assert page.locator(".notice").inner_text() == "User added."
    finn = page.url.rsplit("/", 1)[1].split("?")[0]
    found = portal.rest("user.get", FILTER={"UF_PHONE_INNER": "104", "ACTIVE": True})
    assert [u["ID"] for u in found] == [finn]

    # edit Finn: a last name and an e-mail Dora has — refused, nothing changed
    page.fill("input[name=last_name]", "Berg")
    page.fill("input[name=email]", "DORA@example.com")
    submit(page, "button[value=save]")
    assert page.locator(".error").inner_text() == (
        f"user {dora} already has the e-mail address DORA@example.com"
    )
    page.goto(f"{portal.url}/admin/users/{finn}")
    assert page.locator("input[name=last_name]").input_value() == ""
    page.fill("input[name=last_name]", "Berg")
    submit(page, "button[value=save]")
    assert page.locator(".notice").inner_text() == "Saved."
    assert page.locator("h1").inner_text().startswith("Finn Berg")

    # Dora cannot come back while Finn has her extension
    page.goto(f"{portal.url}/admin/users/{dora}")
    submit(page, "button[value=activate]")
    assert page.locator(".error").inner_text() == (
        f"inner number 104 already belongs to active user {finn} (Finn Berg)"
    )
    # the only administrator cannot dismiss themselves
    page.goto(f"{portal.url}/admin/users/1")
    submit(page, "button[value=deactivate]")
    assert page.locator(".error").inner_text() == "user 1 is the only active administrator"


def test_operators_cannot_manage_people(browser: Any, portal: Portal) -> None:
    olga = signed_in(browser, portal, 2)
    assert olga.locator("nav >> text=Users").count() == 0
    for path in ("/admin/users", "/admin/users/1"):
        answer = olga.goto(portal.url + path)
        assert answer is not None and answer.status == 403
    olga.goto(portal.url + "/")
    csrf = olga.locator("meta[name=csrf]").get_attribute("content")
    form = {"csrf": csrf, "name": "X"}
    answer = olga.context.request.post(portal.url + "/admin/users", form=form)
    assert answer.status == 403
    assert "X" not in [u["NAME"] for u in portal.rest("user.get")]


def test_the_users_pages_fit_a_phone(browser: Any, portal: Portal) -> None:
    phone = signed_in(browser, portal, 1, viewport={"width": 390, "height": 844})
    for path in ("/admin/users", "/admin/users/2"):
        phone.goto(portal.url + path)
        wide = phone.evaluate("document.documentElement.scrollWidth")
        assert wide <= phone.evaluate("document.documentElement.clientWidth"), (path, wide)


def test_an_operator_sees_nothing_of_another_operators_call(browser: Any, portal: Portal) -> None:
    """Page, waveform, journal, CSV and live card: Olga (operator) and a call of Ivan's."""
    ivan = int(cli(portal.data, "users", "add", "--name", "Ivan", "--inner-number", "107"))
    theirs = portal.call(ivan, "+7 916 808-08-08")
    olga = signed_in(browser, portal, 2)
    assert until(lambda: olga.evaluate("document.documentElement.dataset.live") == "open")
    for path in (f"/calls/{theirs}", f"/calls/{theirs}/waveform.svg"):
        answer = olga.goto(portal.url + path)
        assert answer is not None and answer.status == 403, path
    olga.goto(portal.url + "/calls")
    assert olga.locator(f'tr[data-call-id="{theirs}"]').count() == 0
    assert olga.locator("button.play").count() == 0  # no recording link of theirs
    csv_text = olga.context.request.get(portal.url + "/calls.csv").text()
    assert theirs not in csv_text and "79168080808" not in csv_text
    ringing = portal.call(ivan, "+7 916 808-08-09", finish=False, show=1)
    ivan_page = signed_in(browser, portal, ivan)
    ivan_page.locator(f'#cards [data-call-id="{ringing}"]').wait_for(state="visible")
    olga.wait_for_timeout(500)
    assert olga.locator("#cards .card").count() == 0  # Ivan's card is Ivan's
    answer = olga.goto(f"{portal.url}/calls/{ringing}")
    assert answer is not None and answer.status == 403
    portal.rest("telephony.externalCall.finish", CALL_ID=ringing, USER_ID=ivan, DURATION=1)
