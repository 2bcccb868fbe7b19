"""Signing in with a password: the attempt limit holds however the login is spelled and from
wherever it comes, odd logins get the page's answer (never a 500). (What a sign-in costs
the event loop is measured by bench/hostile.py.)"""

from __future__ import annotations

import asyncio
import re

import httpx

from b24tel.web.sessions import MAX_ADDRESS_FAILURES, MAX_FAILURES, Sessions
from tests.conftest import Harness

PASSWORD = "the right password"


async def _attempt(h: Harness, login: str, password: str, client: str = "") -> httpx.Response:
    client_host = client or "127.0.0.1"
    form_page = await h.client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form_page.text).group(1)  # type: ignore[union-attr]
    transport = httpx.ASGITransport(app=h.app, client=(client_host, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.cookies.set("b24tel_login_csrf", h.client.cookies["b24tel_login_csrf"])
        return await c.post("/login", data={"csrf": csrf, "login": login, "password": password})


async def _with_password(h: Harness) -> int:
    uid = await h.add_user(name="Vera")
    sessions = h.services.sessions
    assert isinstance(sessions, Sessions)
    await sessions.set_password(uid, PASSWORD)
    return uid


async def test_other_spellings_of_a_locked_login_do_not_sign_in(
    harness: Harness, hook: str
) -> None:
    uid = await _with_password(harness)
    assert uid == 2
    for _ in range(MAX_FAILURES):
        answer = await _attempt(harness, "2", "guess")
        assert answer.status_code == 401 and "Wrong user or password." in answer.text
    # the right password under every other spelling of "2": refused, never signed in
    for spelling in ("02", "002", "٢", "٠٢", "２", " 2 "):
        answer = await _attempt(harness, spelling, PASSWORD)
        assert answer.status_code == 401, spelling
        assert "b24tel_session" not in answer.headers.get("set-cookie", ""), spelling
    answer = await _attempt(harness, "2", PASSWORD)
    assert answer.status_code == 401 and "Too many failed attempts" in answer.text


async def test_leading_zeros_are_the_same_user_and_unicode_digits_no_user(
    harness: Harness, hook: str
) -> None:
    await _with_password(harness)
    for spelling in ("٢", "２", "²", "①", "1²", "2²", "9" * 400, "٠" * 5000):
        answer = await _attempt(harness, spelling, PASSWORD)
        assert answer.status_code == 401, spelling
        assert "Wrong user or password." in answer.text
    answer = await _attempt(harness, "02", PASSWORD)
    assert answer.status_code == 303 and "b24tel_session" in answer.headers["set-cookie"]


async def test_failures_from_one_address_are_limited(harness: Harness, hook: str) -> None:
    await _with_password(harness)
    for n in range(MAX_ADDRESS_FAILURES):
        answer = await _attempt(harness, f"someone{n}@example.com", "guess", "10.0.0.7")
        assert "Wrong user or password." in answer.text
    answer = await _attempt(harness, "2", PASSWORD, "10.0.0.7")
    assert answer.status_code == 401 and "Too many failed attempts" in answer.text
    answer = await _attempt(harness, "2", PASSWORD, "10.0.0.8")
    assert answer.status_code == 303


async def test_attempts_sent_at_once_count_against_each_other(harness: Harness, hook: str) -> None:
    await _with_password(harness)
    answers = await asyncio.gather(*(_attempt(harness, "2", "guess") for _ in range(12)))
    assert all(a.status_code == 401 for a in answers)
    answer = await _attempt(harness, "2", PASSWORD)
    assert "Too many failed attempts" in answer.text


async def test_a_success_clears_the_users_failures(harness: Harness, hook: str) -> None:
    await _with_password(harness)
    for _ in range(MAX_FAILURES - 1):
        await _attempt(harness, "2", "guess")
    assert (await _attempt(harness, "2", PASSWORD)).status_code == 303
    for _ in range(MAX_FAILURES - 1):
        await _attempt(harness, "2", "guess")
    assert (await _attempt(harness, "2", PASSWORD)).status_code == 303


async def test_every_cookie_set_over_tls_is_secure(harness: Harness, hook: str) -> None:
    """The form's cookie, the session, and the cookies that clear them after sign-in and
    sign-out: all ``Secure`` when the page is served over TLS."""
    await _with_password(harness)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        pages = [await c.get("/login")]
        csrf = re.search(r'name="csrf" value="([^"]+)"', pages[0].text).group(1)  # type: ignore[union-attr]
        pages.append(
            await c.post("/login", data={"csrf": csrf, "login": "2", "password": PASSWORD})
        )
        assert pages[-1].status_code == 303
        page = await c.get("/")
        token = re.search(r'name="csrf" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        pages.append(await c.post("/logout", data={"csrf": token}))
        assert pages[-1].status_code == 303
    cookies = [value for p in pages for value in p.headers.get_list("set-cookie")]
    names = {value.split("=", 1)[0] for value in cookies}
    assert names == {"b24tel_login_csrf", "b24tel_session"} and len(cookies) == 4
    for value in cookies:
        assert "; secure" in value.lower(), value
