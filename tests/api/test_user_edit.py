"""user.add and user.update: an administrator invites, edits and dismisses people; a
dismissed user's webhooks and sign-in stop at once, their extension passes to someone else,
their calls stay theirs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.helpers import err, ok
from tests.web.test_sign_in import PASSWORD, _attempt


async def _get(h: Harness, hook: str, user_id: int) -> dict[str, Any]:
    rows = ok(await h.call(hook, "user.get", {"ID": user_id}))["result"]
    assert len(rows) == 1
    return rows[0]


async def test_add_invites_by_email_and_answers_an_int(harness: Harness, hook: str) -> None:
    body = ok(
        await harness.call(
            hook,
            "user.add",
            {"EMAIL": "Olga@Example.com", "NAME": "Olga", "LAST_NAME": "Ivanova",
             "UF_PHONE_INNER": "1-0-5", "WORK_POSITION": "Sales", "UF_DEPARTMENT": [1]},
        )
    )  # fmt: skip
    assert isinstance(body["result"], int)
    row = await _get(harness, hook, body["result"])
    assert row["ID"] == str(body["result"]) and row["ACTIVE"] is True
    assert (row["NAME"], row["LAST_NAME"], row["EMAIL"]) == ("Olga", "Ivanova", "Olga@Example.com")
    assert row["UF_PHONE_INNER"] == "105" and row["WORK_POSITION"] == "Sales"
    # the same address in another case is the same address
    err(
        await harness.call(hook, "user.add", {"EMAIL": "olga@example.COM"}),
        400,
        "",
        f"user {body['result']} already has the e-mail address olga@example.COM",
    )


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({}, "EMAIL is required"),
        ({"EMAIL": "  "}, "EMAIL is required"),
        ({"EMAIL": "not-an-address"}, "not a valid e-mail address: 'not-an-address'"),
        ({"EMAIL": "a@b.co", "UF_PHONE_INNER": "101"},
         "inner number 101 already belongs to active user 1 (Admin)"),
        ({"EMAIL": "a@b.co", "UF_PHONE_INNER": "١٠٢"}, "an inner number needs digits: '١٠٢'"),
        ({"EMAIL": "a@b.co", "NAME": "N" * 101}, "NAME is longer than 100 characters"),
        ({"EMAIL": "a@b.co", "PERSONAL_GENDER": "X"}, "PERSONAL_GENDER is M, F or empty"),
        ({"EMAIL": "a@b.co", "ACTIVE": "maybe"}, "ACTIVE is Y or N, not 'maybe'"),
    ],
)  # fmt: skip
async def test_add_refuses_in_words(
    harness: Harness, hook: str, params: dict[str, Any], description: str
) -> None:
    err(await harness.call(hook, "user.add", params), 400, "", description)
    assert ok(await harness.call(hook, "user.get", {}))["total"] == 1  # nothing half-written


async def test_only_an_administrator_adds_and_updates(harness: Harness, hook: str) -> None:
    clerk = await harness.add_user(name="Clerk", inner_number="102")
    clerk_hook = await harness.add_webhook(clerk)
    err(await harness.call(clerk_hook, "user.add", {"EMAIL": "x@y.io"}), 403, "ACCESS_DENIED",
        "Access denied!")  # fmt: skip
    err(await harness.call(clerk_hook, "user.update", {"ID": clerk, "NAME": "Boss"}), 403,
        "ACCESS_DENIED", "Access denied!")  # fmt: skip
    assert (await _get(harness, hook, clerk))["NAME"] == "Clerk"
    narrow = await harness.add_webhook(1, scopes="telephony")
    err(await harness.call(narrow, "user.add", {"EMAIL": "x@y.io"}), 403, "insufficient_scope")


async def test_update_changes_only_what_is_given(harness: Harness, hook: str) -> None:
    uid = await harness.add_user(name="Petr", last_name="Sidorov", email="p@x.io",
                                 inner_number="102", work_phone="+7 495 000-00-02")  # fmt: skip
    # any case of the names, ACTIVE as the cloud's "Y"
    assert ok(await harness.call(hook, "user.update",
                                 {"id": str(uid), "last_name": "Petrov", "ACTIVE": "Y"}))[
        "result"] is True  # fmt: skip
    row = await _get(harness, hook, uid)
    assert (row["NAME"], row["LAST_NAME"], row["EMAIL"]) == ("Petr", "Petrov", "p@x.io")
    assert row["UF_PHONE_INNER"] == "102" and row["WORK_PHONE"] == "+7 495 000-00-02"
    # an empty extension takes it away: null, as for a user who never had one
    ok(await harness.call(hook, "user.update", {"ID": uid, "UF_PHONE_INNER": ""}))
    assert (await _get(harness, hook, uid))["UF_PHONE_INNER"] is None


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"NAME": "x"}, "ID is not defined or invalid."),
        ({"ID": "abc"}, "ID is not defined or invalid."),
        ({"ID": 0}, "ID is not defined or invalid."),
        ({"ID": 999}, "User not found"),
        ({"ID": 1, "ACTIVE": "N"}, "user 1 is the only active administrator"),
        ({"ID": 1, "ACTIVE": [1]}, "ACTIVE is Y or N, not '[1]'"),
    ],
)
async def test_update_refuses_in_words(
    harness: Harness, hook: str, params: dict[str, Any], description: str
) -> None:
    err(await harness.call(hook, "user.update", params), 400, "", description)
    assert (await _get(harness, hook, 1))["ACTIVE"] is True


async def test_a_dismissed_user_stops_at_once_and_their_extension_moves(
    harness: Harness, hook: str
) -> None:
    anna = await harness.add_user(name="Anna", inner_number="102")
    anna_hook = await harness.add_webhook(anna)
    sessions = harness.services.sessions
    await sessions.set_password(anna, PASSWORD)  # type: ignore[attr-defined]
    ok(await harness.call(anna_hook, "profile"))  # resolved, and remembered by this instance
    call = ok(await harness.call(hook, "telephony.externalCall.register",
                                 {"USER_PHONE_INNER": "102", "PHONE_NUMBER": "+79160001234",
                                  "TYPE": 2}))["result"]["CALL_ID"]  # fmt: skip
    ok(await harness.call(hook, "telephony.externalCall.finish",
                          {"CALL_ID": call, "USER_ID": anna, "DURATION": 30}))  # fmt: skip

    # her extension cannot go to Boris while she is active
    boris = await harness.add_user(name="Boris")
    err(await harness.call(hook, "user.update", {"ID": boris, "UF_PHONE_INNER": "102"}), 400, "",
        "inner number 102 already belongs to active user 2 (Anna)")  # fmt: skip

    ok(await harness.call(hook, "user.update", {"ID": anna, "ACTIVE": False}))
    assert (await _get(harness, hook, anna))["ACTIVE"] is False
    # her webhook stops at once, although this instance had it resolved
    err(await harness.call(anna_hook, "profile"), 401, "INVALID_CREDENTIALS")
    # she cannot sign in, nor take a new call
    answer = await _attempt(harness, str(anna), PASSWORD)
    assert answer.status_code == 401 and "Wrong user or password." in answer.text
    err(await harness.call(hook, "telephony.externalCall.register",
                           {"USER_ID": anna, "PHONE_NUMBER": "+79160001234", "TYPE": 2}),
        400, "ERROR_CORE", "User is not found or is not active")  # fmt: skip

    # her extension is Boris's now, and a register on it is his
    ok(await harness.call(hook, "user.update", {"ID": boris, "UF_PHONE_INNER": "102"}))
    new = ok(await harness.call(hook, "telephony.externalCall.register",
                                {"USER_PHONE_INNER": "102", "PHONE_NUMBER": "+79160001234",
                                 "TYPE": 2}))["result"]  # fmt: skip
    assert new["CALL_ID"] != call
    stats = ok(await harness.call(hook, "voximplant.statistic.get",
                                  {"FILTER": {"CALL_ID": call}}))["result"]  # fmt: skip
    assert [row["PORTAL_USER_ID"] for row in stats] == [str(anna)]  # her call stays hers

    # she cannot come back while Boris has her extension
    err(await harness.call(hook, "user.update", {"ID": anna, "ACTIVE": "Y"}), 400, "",
        "inner number 102 already belongs to active user 3 (Boris)")  # fmt: skip
    back = {"ID": anna, "ACTIVE": "Y", "UF_PHONE_INNER": "109"}
    ok(await harness.call(hook, "user.update", back))
    ok(await harness.call(anna_hook, "profile"))


async def test_user_methods_in_a_batch(harness: Harness, hook: str) -> None:
    body = ok(
        await harness.call(
            hook,
            "batch",
            {"cmd": {"a": "user.add?EMAIL=k%40x.io&NAME=Kate&UF_PHONE_INNER=110",
                     "b": "user.update?ID=$result[a]&LAST_NAME=Orlova",
                     "c": "user.get?ID=$result[a]"}},
        )
    )  # fmt: skip
    result = body["result"]["result"]
    assert isinstance(result["a"], int) and result["b"] is True
    assert result["c"][0]["LAST_NAME"] == "Orlova" and result["c"][0]["UF_PHONE_INNER"] == "110"
