"""What a call was, in one place (docs/reference/telephony.md, "finish"): its direction by
CALL_TYPE, and its outcome by CALL_FAILED_CODE — 200 answered, 304 missed, anything else
failed. The API, the pages and the CSV export all read them here."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from b24tel.telephony.models import Statistic

ANSWERED, MISSED = "200", "304"
DIRECTIONS = {"1": "outgoing", "2": "incoming", "3": "incoming, redirected", "4": "callback"}
OUTCOMES = ("answered", "missed", "failed")


def outcome(failed_code: str) -> str:
    """``answered``, ``missed`` or ``failed``."""
    return (
        "answered" if failed_code == ANSWERED else "missed" if failed_code == MISSED else "failed"
    )


def default_code(duration: int) -> str:
    """CALL_FAILED_CODE of a finish that gave none: answered with a duration, else missed."""
    return ANSWERED if duration > 0 else MISSED


def with_outcome(name: str) -> ColumnElement[bool] | None:
    """The statistic rows of the outcome ``name``; None for a name that is none."""
    code = Statistic.call_failed_code
    return {
        "answered": code == ANSWERED,
        "missed": code == MISSED,
        "failed": code.not_in([ANSWERED, MISSED]),
    }.get(name)
