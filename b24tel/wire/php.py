"""PHP's ways with values, as the reference portal applies them to what clients send
(docs/reference/clients.md, "Values"): ``(int)`` casts, truthiness, arrays that may be
maps. The ground floor: plain functions, used by the REST parameter types
(``b24tel.rest.params``) and the database filters (``b24tel.db.filters``) alike."""

from __future__ import annotations

import math
import re
from typing import Any

_LEADING_INT = re.compile(r"^\s*([+-]?)0*([0-9]+)")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # PHP's integers are 64-bit


def php_int(value: Any) -> int:
    """PHP ``(int)`` cast: leading digits of a string (saturating at 64 bits, as PHP's
    string conversion does), 0 for anything else — and 0 for a float that is not finite or
    does not fit, as PHP 7+ does."""
    if value is None or isinstance(value, dict | list):
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return min(max(value, INT_MIN), INT_MAX)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and INT_MIN <= value <= INT_MAX else 0
    match = _LEADING_INT.match(str(value))
    if not match:
        return 0
    sign, digits = match.groups()
    if len(digits) > 19:  # saturated already; `int` refuses 4 300 digits and more
        return INT_MIN if sign == "-" else INT_MAX
    return min(max(int(sign + digits), INT_MIN), INT_MAX)


def opt_int(value: Any) -> int | None:
    """An integer parameter: ``None`` when absent, not a number, or beyond 64 bits."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        number: int | float = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
        if not number.is_integer():
            return None
    return int(number) if INT_MIN <= number <= INT_MAX else None


def opt_float(value: Any) -> float | None:
    """A number parameter: ``None`` when absent, not a number, or not finite."""
    if value is None or value == "" or isinstance(value, dict | list | bool):
        return None
    try:
        number = float(str(value).strip())
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


_TRUTHY = {"1", "true", "y", "yes", "on"}
_FALSY = {"0", "false", "n", "no", "off", ""}


def loose_bool(value: Any) -> bool | None:
    """Loose booleans (docs/reference/clients.md, "Values"): ``true, "true", "True", "Y",
    1, "1"`` → True; ``false, "false", "N", 0, "0", ""`` → False; anything else (or absent)
    → None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUTHY:
        return True
    if text in _FALSY:
        return False
    return None


def php_truthy(value: Any) -> bool:
    """PHP truthiness: only ``"0"``, ``""``, 0, false, null and empty arrays are false
    (docs/reference/README.md, "Conventions") — so ``"N"`` and ``"false"`` are true."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, dict | list):
        return bool(value)
    return str(value) not in ("", "0")


def opt_str(value: Any) -> str | None:
    """A scalar as text; arrays and absent values are None."""
    if value is None or isinstance(value, dict | list):
        return None
    if value is True:
        return "1"
    if value is False:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_list(value: Any) -> list[Any]:
    """A PHP array parameter as a list of its values (``[]`` for absent/scalars)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def as_dict(value: Any) -> dict[str, Any] | None:
    """A map parameter: dicts pass, lists become index-keyed, scalars are None."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return None


class NotAnArray:
    """What a parameter that must be an array holds when it was sent as something else;
    the method says so when its turn comes in the reference's order of checks."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_AN_ARRAY"


NOT_AN_ARRAY = NotAnArray()


def php_map(value: Any) -> dict[str, Any] | NotAnArray:
    """A map parameter of the legacy CRM (``fields``, ``filter``…): absent or ``[]`` is an
    empty map (PHP would accept any array); keys are upper-cased."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k).upper(): v for k, v in value.items()}
    if isinstance(value, list) and not value:
        return {}
    return NOT_AN_ARRAY


def upper_names(value: Any) -> list[str]:
    """A ``select`` list: its non-empty values as upper-case names."""
    return [str(s).upper() for s in as_list(value) if s not in (None, "")]
