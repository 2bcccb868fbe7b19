"""The Users pages through the real app on SQLite and PostgreSQL (no browser): adding,
editing and dismissing through the forms, CSRF, and who may."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.helpers import err, ok
from tests.web.test_pages import sign_in


async def test_forms_add_edit_and_dismiss(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    post = harness.client.post
    added = await post("/admin/users", data={"csrf": csrf, "name": "Ann", "inner_number": "105",
                                             "email": "ann@example.com"})  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/admin/users/2?done=added"
    ann_hook = await harness.add_webhook(2)
    ok(await harness.call(ann_hook, "profile"))
    form = {"csrf": csrf, "action": "save", "name": "Ann", "last_name": "Lee",
            "inner_number": "105", "email": "ann@example.com", "admin": "on"}  # fmt: skip
    saved = await post("/admin/users/2", data=form)
    assert saved.headers["location"] == "/admin/users/2?done=saved"
    row = ok(await harness.call(hook, "user.get", {"ID": 2}))["result"][0]
    assert (row["LAST_NAME"], row["UF_PHONE_INNER"]) == ("Lee", "105")
    assert ok(await harness.call(ann_hook, "user.admin"))["result"] is True
    gone = await post("/admin/users/2", data={"csrf": csrf, "action": "deactivate"})
    assert gone.headers["location"] == "/admin/users/2?done=deactivated"
    err(await harness.call(ann_hook, "profile"), 401, "INVALID_CREDENTIALS")
    page = await harness.client.get("/admin/users/2?done=deactivated")
    assert "Deactivated: their webhooks, tokens and sign-in stopped." in page.text
    # a refusal is shown on the page, in the rules' words
    again = await post(
        "/admin/users", data={"csrf": csrf, "name": "Bo", "email": "ANN@example.com"}
    )
    assert again.status_code == 200
    assert "user 2 already has the e-mail address ANN@example.com" in again.text
    assert "already has" in again.text and 'value="Bo"' in again.text
    odd = await post("/admin/users/2", data={"csrf": csrf, "action": "explode"})
    assert odd.status_code == 200 and "Choose what to do." in odd.text
    missing = await harness.client.get("/admin/users/99")
    assert missing.status_code == 404


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/1"])
async def test_operators_and_forged_forms_are_refused(
    harness: Harness, hook: str, path: str
) -> None:
    await harness.add_user(name="Op", inner_number="102")
    csrf = await sign_in(harness, 2)
    assert (await harness.client.get(path)).status_code == 403
    refused = await harness.client.post(
        path, data={"csrf": csrf, "action": "deactivate", "name": "X"}
    )
    assert refused.status_code == 403
    await sign_in(harness, 1)
    forged = await harness.client.post(path, data={"csrf": "forged", "action": "deactivate"})
    assert forged.status_code == 403
    assert ok(await harness.call(hook, "user.get", {}))["total"] == 2
    assert all(u["ACTIVE"] for u in ok(await harness.call(hook, "user.get", {}))["result"])
