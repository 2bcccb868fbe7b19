"""Numbers in text, read the way PHP reads them: ASCII digits only.

Python's ``str.isdigit`` and ``int`` accept every Unicode digit (``٣``, ``３``, and for
``isdigit`` even ``²`` and ``①``, which ``int`` then refuses), and ``int`` refuses strings of
more than 4 300 digits. Neither may decide what a client's text means: a login ``03`` or
``٣`` must not be another spelling of user 3, and no length of digits may raise.
"""

from __future__ import annotations

# 18 digits always fit a signed 64-bit integer
MAX_DIGITS = 18


def is_ascii_digits(text: str) -> bool:
    """Only ``0``-``9``, at least one."""
    return bool(text) and text.isascii() and text.isdigit()


def ascii_int(text: object, max_digits: int = MAX_DIGITS) -> int | None:
    """The number ``text`` spells in ASCII digits (at most ``max_digits`` of them), else
    None."""
    if not isinstance(text, str) or len(text) > max_digits or not is_ascii_digits(text):
        return None
    return int(text)


def canonical_int(text: object, max_digits: int = MAX_DIGITS) -> int | None:
    """Like ``ascii_int``, but only the one spelling of a number: no leading zeros
    (``03`` is not 3)."""
    value = ascii_int(text, max_digits)
    if value is None or (len(str(text)) > 1 and str(text).startswith("0")):
        return None
    return value
