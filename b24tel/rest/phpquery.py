"""PHP ``parse_str`` semantics for query strings and form bodies.

Bitrix24 clients encode nested data the PHP way (`FIELDS[PHONE][0][VALUE]=…`, `select[]=ID`,
`filter[>ID]=5`); the reference parses it with PHP's rules, so do we (protocol.md §1.3,
behavior.md §4.2):

- the top-level name ends at the first ``[``; in it, spaces and dots become ``_``;
- ``[]`` appends, ``[k]`` sets key ``k``; keys that look like canonical integers become ints;
- a ``[`` without a closing ``]`` is kept literally (as ``_`` in the top-level name);
- arrays whose keys are exactly 0..n-1 in order are lists, others are dicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

MAX_DEPTH = 64
_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]{0,17})$")


class PhpArray(dict[int | str, Any]):
    """A PHP array under construction (ordered, int or str keys)."""

    def next_index(self) -> int:
        ints = [k for k in self if isinstance(k, int)]
        return max(ints) + 1 if ints else 0


def _php_key(key: str) -> int | str:
    return int(key) if _INT_KEY.match(key) else key


def split_name(name: str) -> list[str] | None:
    """Split a PHP variable name into its path; ``""`` stands for ``[]`` (append).

    Returns None for names PHP drops (empty base name)."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    if bracket == -1:
        base, rest = name, ""
    else:
        base, rest = name[:bracket], name[bracket:]
    # PHP: a '[' with no closing ']' is not an index; it becomes '_' in the base name
    if rest and "]" not in rest:
        base, rest = base + "_" + rest[1:], ""
    base = base.replace(" ", "_").replace(".", "_")
    if not base:
        return None
    path = [base]
    while rest.startswith("["):
        close = rest.find("]")
        if close == -1:
            break
        path.append(rest[1:close])
        rest = rest[close + 1 :]
        if len(path) > MAX_DEPTH:
            return None
    return path


def assign(target: PhpArray, path: list[str], value: Any) -> None:
    node = target
    base = path[0]
    keys: list[int | str | None] = [base]
    keys += [None if part == "" else _php_key(part) for part in path[1:]]
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if key is None:
            key = node.next_index()
        if last:
            node[key] = value
            return
        child = node.get(key)
        if not isinstance(child, PhpArray):
            child = PhpArray()
            node[key] = child
        node = child


def finalize(value: Any) -> Any:
    """Turn PhpArrays into plain lists (keys 0..n-1 in order) or dicts."""
    if not isinstance(value, PhpArray):
        return value
    items = [(k, finalize(v)) for k, v in value.items()]
    if all(k == i for i, (k, _) in enumerate(items)):
        return [v for _, v in items]
    return {(str(k) if isinstance(k, int) else k): v for k, v in items}


def build(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    root = PhpArray()
    for name, value in pairs:
        path = split_name(name)
        if path is not None:
            assign(root, path, value)
    result = finalize(root)
    if isinstance(result, list):  # only numeric top-level names: keep them as a mapping
        return {str(i): v for i, v in enumerate(result)}
    return result


def split_pairs(qs: str) -> Iterable[tuple[str, str]]:
    for chunk in qs.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        yield unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")


def parse(qs: str) -> dict[str, Any]:
    """``parse_str`` of a whole query string."""
    return build(split_pairs(qs))


def encode(params: Any, prefix: str = "") -> list[tuple[str, str]]:
    """The inverse: PHP ``http_build_query`` pairs (used to send form-encoded events and
    by tests)."""
    pairs: list[tuple[str, str]] = []
    items: Iterable[tuple[Any, Any]]
    if isinstance(params, dict):
        items = params.items()
    elif isinstance(params, list | tuple):
        items = enumerate(params)
    else:
        return [(prefix, _scalar(params))]
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict | list | tuple):
            pairs.extend(encode(value, name))
        elif value is not None:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)
