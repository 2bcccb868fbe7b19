"""Every page on a phone (390 px) in headless chromium: nothing scrolls sideways — a wide
table scrolls inside its own box — and the dashboard's chart labels stay readable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import ServeProcess
from tests.web.browser import ENV, Portal, cli, need_browser, signed_in

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
# the widest element and its width, to say what overflows
WIDEST = """() => { let best = null, width = 0;
  for (const node of document.querySelectorAll('body *')) {
    const r = node.getBoundingClientRect();
    if (r.right > width) { width = r.right; best = node.outerHTML.slice(0, 120); }
  } return [width, best]; }"""


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    need_browser()
    data = tmp_path_factory.mktemp("phone") / "data"
    with ServeProcess(data, env=ENV) as server:
        cli(data, "users", "add", "--name", "Bob", "--last-name", "Operator-Longname",
            "--inner-number", "102")  # fmt: skip
        portal = Portal(server, data)
        contact = {"NAME": "Alexandra", "LAST_NAME": "Konstantinopolskaya",
                   "PHONE": [{"VALUE": "+79161234567"}]}  # fmt: skip
        portal.rest("crm.contact.add", fields=contact)
        portal.rest("crm.lead.add", fields={"TITLE": "A lead with a long title " * 3})
        portal.call(1, "+7 916 123-45-67")
        portal.call(2, "+7 916 765-43-21", status=304, record=False)
        yield portal


def _fits(page: Any, path: str) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    client = page.evaluate("document.documentElement.clientWidth")
    assert scroll <= client, (path, scroll, page.evaluate(WIDEST))


def test_no_page_scrolls_sideways_on_a_phone(browser: Any, portal: Portal) -> None:
    call_id = portal.rest("voximplant.statistic.get")[0]["CALL_ID"]
    page = signed_in(browser, portal, 1, viewport=PHONE)
    paths = ["/", "/calls", f"/calls/{call_id}", "/crm/contact", "/crm/contact/1", "/crm/lead",
             "/crm/lead/1", "/crm/company", "/crm/deal", "/crm/contact/new/edit",
             "/crm/contact/1/edit", "/admin/requests", "/admin/requests/1",
             "/admin/deliveries", "/admin/faults", "/admin/users", "/admin/users/2",
             "/no-such-page"]  # fmt: skip
    for path in paths:
        page.goto(portal.url + path)
        _fits(page, path)
    anonymous = browser.new_context(viewport=PHONE).new_page()
    anonymous.goto(portal.url + "/login")
    _fits(anonymous, "/login")


def test_dashboard_labels_stay_readable_on_a_phone(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 1, viewport=PHONE)
    page.goto(portal.url + "/")
    heights = page.evaluate(
        "[...document.querySelectorAll('svg text')].map((t) => t.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 9, heights  # was ~5 px: the chart shrank to the screen
    labels = page.evaluate(
        "[...document.querySelectorAll('svg.ranking text')].map((t) => t.textContent)"
    )
    assert any(
        label.startswith("current (") and label.endswith("files in all)") for label in labels
    )
    _fits(page, "/")
