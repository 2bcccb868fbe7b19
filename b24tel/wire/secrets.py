"""Comparing a secret a client sent with the one expected, in constant time."""

from __future__ import annotations

import hmac


def same_secret(sent: str, expected: str) -> bool:
    """``hmac.compare_digest`` on the UTF-8 bytes: on ``str`` it refuses non-ASCII text with
    a TypeError, and what a client sends may be any text (a header read as Latin-1, a
    percent-escaped query value, a cookie)."""
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
