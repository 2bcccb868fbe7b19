"""The phone-number normaliser: one key for every way a number is written.

``+7 (916) 000-12-34``, ``79160001234``, ``8 916 000 12 34`` (region RU), ``0079160001234``
and `` 79160001234`` (a ``+`` that became a space in a raw query string) all give
``79160001234``. Extensions are cut off (duplicates ignore them: docs/reference/crm.md,
"Duplicates"). Numbers the phonenumbers library cannot place (short extensions, service
numbers) keep their digits.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_EXTENSION = re.compile(r"(?:ext\.?|extension|доб\.?|x|#|;|,)\s*\d*\s*$", re.IGNORECASE)
_NON_DIGIT = re.compile(r"\D")


def _e164_digits(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return f"{number.country_code}{number.national_number}"


@lru_cache(maxsize=65536)
def normalize(raw: str, region: str = "RU") -> str | None:
    """The lookup key of a phone number (digits, E.164 without ``+`` when the number is
    valid), or None when it has no digits."""
    text = _EXTENSION.sub("", raw.strip()) or raw.strip()
    digits = _NON_DIGIT.sub("", text)
    if not digits:
        return None
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append(("+" + digits, None))
    elif digits.startswith("00"):
        candidates.append(("+" + digits[2:], None))
    candidates.append((text, region))
    candidates.append(("+" + digits, None))
    for candidate, cand_region in candidates:
        key = _e164_digits(candidate, cand_region)
        if key:
            return key
    return digits


def e164(raw: str | None, region: str = "RU") -> str:
    """``+79160001234`` for a number that can be placed; empty when it cannot (an
    extension, a short number)."""
    key = normalize(raw or "", region)
    try:
        number = phonenumbers.parse(f"+{key}", None)
    except phonenumbers.NumberParseException:
        return ""
    return f"+{key}" if phonenumbers.is_valid_number(number) else ""


def strip_to_dialable(raw: str) -> str:
    """What the reference keeps of a caller number: digits and ``# * + , ;``
    (docs/reference/telephony.md, "register")."""
    return re.sub(r"[^0-9#*+,;]", "", raw)


def formatted(raw: str, region: str = "RU") -> str:
    """A human form for titles and subjects (``+7 916 000-12-34``); the raw text when the
    number cannot be placed."""
    key = normalize(raw, region)
    try:
        number = phonenumbers.parse(f"+{key}", None)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        pass
    return raw
