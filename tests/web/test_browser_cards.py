"""The live card in headless chromium on a real `b24tel serve`: its link opens the call in
progress, cards never lie over the journal's buttons (1400 px and 390 px), and × is
remembered across pages until the connector shows the card again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import ServeProcess
from tests.web.browser import ENV, Portal, cli, need_browser, signed_in, submit, until

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

# every control of the journal, and whether the element at its centre is the control itself
COVERED = """() => [...document.querySelectorAll('main button, main a, main .status')]
  .filter((node) => { const r = node.getBoundingClientRect(); return r.width && r.height; })
  .filter((node) => {
    node.scrollIntoView({block: 'center'});
    const r = node.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !(top && (node === top || node.contains(top)));
  }).map((node) => node.outerHTML.slice(0, 80))"""


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    need_browser()
    data = tmp_path_factory.mktemp("cards") / "data"
    with ServeProcess(data, env=ENV) as server:
        cli(data, "users", "add", "--name", "Bob", "--inner-number", "102")
        portal = Portal(server, data)
        for i in range(12):
            portal.call(1, f"+7 916 300-00-{i:02d}")
        yield portal


def test_the_cards_link_opens_the_call_in_progress(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 2)
    assert until(lambda: page.evaluate("document.documentElement.dataset.live") == "open")
    ringing = portal.call(2, "+7 916 555-44-33", finish=False, show=1)
    card = page.locator(f'#cards [data-call-id="{ringing}"]')
    card.wait_for(state="visible")
    submit(page, card.locator("text=Call page"))
    assert page.url.endswith(f"/calls/{ringing}")
    assert page.locator(".status-progress").inner_text() == "in progress"
    assert "Bob" in page.locator("dl.meta").inner_text()
    portal.rest("telephony.externalCall.finish", CALL_ID=ringing, USER_ID=2, DURATION=5)
    card.wait_for(state="detached")  # it leaves when the call finishes
    page.reload()
    assert page.locator(".status-progress").count() == 0
    assert page.locator(".status-answered").inner_text() == "answered"


@pytest.mark.parametrize("width", [1400, 390])
def test_cards_never_cover_the_journal(browser: Any, portal: Portal, width: int) -> None:
    page = signed_in(browser, portal, 1, viewport={"width": width, "height": 700})
    page.goto(portal.url + "/calls")
    assert until(lambda: page.evaluate("document.documentElement.dataset.live") == "open")
    ringing = [portal.call(1, f"+7 916 400-00-{i:02d}", finish=False, show=1) for i in range(3)]
    for call_id in ringing:
        page.locator(f'#cards [data-call-id="{call_id}"]').wait_for(state="visible")
    assert page.evaluate(COVERED) == []
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= page.evaluate("document.documentElement.clientWidth")
    for call_id in ringing:
        portal.rest("telephony.externalCall.finish", CALL_ID=call_id, USER_ID=1, DURATION=1)


def test_a_dismissed_card_stays_dismissed(browser: Any, portal: Portal) -> None:
    page = signed_in(browser, portal, 1)
    assert until(lambda: page.evaluate("document.documentElement.dataset.live") == "open")
    ringing = portal.call(1, "+7 916 600-00-01", finish=False, show=1)
    card = page.locator(f'#cards [data-call-id="{ringing}"]')
    card.wait_for(state="visible")
    other_tab = page.context.new_page()
    other_tab.goto(portal.url + "/calls")
    other_card = other_tab.locator(f'#cards [data-call-id="{ringing}"]')
    other_card.wait_for(state="visible")
    card.locator("button.card-close").click()
    card.wait_for(state="detached")
    other_card.wait_for(state="detached")  # every tab
    page.goto(portal.url + "/")
    assert until(lambda: page.evaluate("document.documentElement.dataset.live") == "open")
    page.wait_for_timeout(500)
    assert card.count() == 0  # a new page does not bring it back
    portal.rest("telephony.externalCall.show", CALL_ID=ringing, USER_ID=1)
    card.wait_for(state="visible")  # the connector shows it again
    portal.rest("telephony.externalCall.finish", CALL_ID=ringing, USER_ID=1, DURATION=1)


def test_the_journal_plays_a_row_and_seeks(browser: Any, portal: Portal) -> None:
    """The row's ▶ shows a player in the row: pause, progress, seeking."""
    page = signed_in(browser, portal, 1)
    page.goto(portal.url + "/calls")
    header = page.locator("table.calls thead").inner_text()
    assert "Operator" in header and "Line" in header and "Recording" in header
    assert "Times in UTC (UTC+00:00)" in page.locator("footer").inner_text()
    play = page.locator("table.calls button.play").first
    play.click()
    mini = page.locator("#miniplayer")
    mini.wait_for(state="visible")
    player = "document.getElementById('quickplayer')"
    assert until(lambda: page.evaluate(f"{player}.currentTime") > 0.2)
    assert until(lambda: play.get_attribute("aria-label") == "Pause the recording")
    play.click()  # pause
    assert until(lambda: page.evaluate(f"{player}.paused"))
    assert until(lambda: play.get_attribute("aria-label") == "Play the recording")
    paused_at = page.evaluate(f"{player}.currentTime")
    page.wait_for_timeout(300)
    assert page.evaluate(f"{player}.currentTime") == paused_at  # it stays paused
    # seek with the progress bar
    duration = page.evaluate(f"{player}.duration")
    target = duration * 0.75
    page.locator("#miniplayer input[type=range]").evaluate(
        "(range, value) => { range.value = value; range.dispatchEvent(new Event('input')); }",
        str(target),
    )
    assert abs(page.evaluate(f"{player}.currentTime") - target) < 0.5
    assert "/" in page.locator("#miniplayer .mini-time").inner_text()
    # another row's ▶ moves the player there
    second = page.locator("table.calls button.play").nth(1)
    second.click()
    assert until(
        lambda: second.locator("xpath=following-sibling::*[@id='miniplayer']").count() == 1
    )
