"""A browser asking for a page that does not exist gets a page saying so; clients keep
their JSON (on SQLite and PostgreSQL, through the real app)."""

from __future__ import annotations

from tests.conftest import Harness
from tests.helpers import err

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_unknown_pages_answer_html_to_browsers(harness: Harness, hook: str) -> None:
    answer = await harness.client.get("/no/such/page", headers=BROWSER)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "404 · No such page" in answer.text and "Back to the dashboard" in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    # clients that do not ask for HTML, and REST paths, keep the JSON error
    err(await harness.client.get("/no/such/page"), 404, "NOT_FOUND", "Not found")
    err(await harness.client.get("/no/such/page", headers={"accept": "application/json"}),
        404, "NOT_FOUND")  # fmt: skip
    err(await harness.client.get("/rest/", headers=BROWSER), 404, "ERROR_METHOD_NOT_FOUND")
    err(await harness.client.get("/oauth/nothing", headers=BROWSER), 404, "NOT_FOUND")
