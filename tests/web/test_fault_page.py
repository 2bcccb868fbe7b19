"""The faults page takes every option of `b24tel faults add`, and says what is missing in
words (through the real app, on SQLite and PostgreSQL)."""

from __future__ import annotations

from b24tel.faults import service as fault_rules
from tests.conftest import Harness
from tests.web.test_pages import sign_in


async def _rules(h: Harness) -> list:
    async with h.db.transaction(readonly=True) as s:
        return await fault_rules.rules(s)


async def test_every_option_of_the_command(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    form = {"csrf": csrf, "method": "telephony.*", "effect": "error",
            "value": "QUERY_LIMIT_EXCEEDED", "status": "429", "description": "Slow down",
            "times": "3", "after": "2", "probability": "0.5", "seed": "7",
            "for": "10m"}  # fmt: skip
    answer = await harness.client.post("/admin/faults", data=form)
    assert answer.status_code == 303, answer.text
    [rule] = await _rules(harness)
    assert (rule.code, rule.status, rule.description) == ("QUERY_LIMIT_EXCEEDED", 429, "Slow down")
    assert (rule.times, rule.after, rule.probability, rule.seed) == (3, 2, 0.5, 7)
    assert rule.ends_at is not None and rule.starts_at is not None
    assert (rule.ends_at - rule.starts_at).total_seconds() == 600
    page = await harness.client.get("/admin/faults")
    assert "“Slow down”" in page.text and "p=0.5 seed=7" in page.text


async def test_a_missing_or_wrong_value_is_said_in_words(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    cases = [
        ({"effect": "latency", "value": ""},
         "Give a value for latency: milliseconds, 300 or 200-800"),
        ({"effect": "error", "value": "  "},
         "Give a value for error: an error code, QUERY_LIMIT_EXCEEDED"),
        ({"effect": "drop", "times": "many"}, "times is a whole number, not &#39;many&#39;"),
        ({"effect": "drop", "for": "forever"}, "not a duration: &#39;forever&#39;"),
    ]  # fmt: skip
    for fields, message in cases:
        answer = await harness.client.post("/admin/faults", data={"csrf": csrf, **fields})
        assert answer.status_code == 200 and message in answer.text, (fields, answer.text[-800:])
        assert "None" not in answer.text.split("<h1>", 1)[1].split("</form>", 1)[0]
    assert await _rules(harness) == []
