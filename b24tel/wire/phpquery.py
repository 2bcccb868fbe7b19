"""PHP ``parse_str`` semantics for query strings and form bodies.

Bitrix24 clients encode nested data the PHP way (`FIELDS[PHONE][0][VALUE]=…`, `select[]=ID`,
`filter[>ID]=5`); the reference parses it with PHP's rules, so do we
(docs/reference/protocol.md, "Parameters"):

- the top-level name ends at the first ``[``; in it, spaces and dots become ``_``;
- ``[]`` appends, ``[k]`` sets key ``k``; keys that look like canonical integers become ints;
- a ``[`` without a closing ``]`` is kept literally (as ``_`` in the top-level name);
- arrays whose keys are exactly 0..n-1 in order are lists, others are dicts.

Parsing is linear in the input: an append finds its index in O(1), as PHP's
``nNextFreeElement`` does. Two limits, modelled on PHP's ``max_input_vars`` and
``max_input_nesting_level``, refuse what no client needs with a clear error instead of
working on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from b24tel import errors

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]{0,17})$")


@dataclass(frozen=True)
class InputLimits:
    """How much a request may hold: parameters (PHP ``max_input_vars``) and nesting levels
    (PHP ``max_input_nesting_level``)."""

    max_vars: int = 100_000
    max_depth: int = 64


DEFAULT_LIMITS = InputLimits()


class PhpArray(dict[int | str, Any]):
    """A PHP array under construction (ordered, int or str keys). ``put`` keeps the next
    free index, so ``[]`` appends in constant time."""

    __slots__ = ("_max",)

    def __init__(self) -> None:
        super().__init__()
        self._max: int | None = None

    def put(self, key: int | str, value: Any) -> None:
        if isinstance(key, int) and (self._max is None or key > self._max):
            self._max = key
        self[key] = value

    def next_index(self) -> int:
        return 0 if self._max is None else self._max + 1


def php_key(key: str) -> int | str:
    return int(key) if _INT_KEY.match(key) else key


def split_name(name: str, max_depth: int = DEFAULT_LIMITS.max_depth) -> list[str] | None:
    """Split a PHP variable name into its path; ``""`` stands for ``[]`` (append).

    Returns None for names PHP drops (empty base name); refuses deeper nesting than
    ``max_depth``."""
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
        if len(path) > max_depth:
            raise errors.too_deep(max_depth)
    return path


def key_path(name: str, max_depth: int = DEFAULT_LIMITS.max_depth) -> tuple[int | str, ...]:
    """The keys a name addresses (``FILE_CONTENT[1]`` → ``("FILE_CONTENT", 1)``)."""
    path = split_name(name, max_depth) or []
    return tuple(php_key(p) if i else p for i, p in enumerate(path))


def assign(target: PhpArray, path: list[str], value: Any) -> None:
    node = target
    keys: list[int | str | None] = [path[0]]
    keys += [None if part == "" else php_key(part) for part in path[1:]]
    last = len(keys) - 1
    for i, key in enumerate(keys):
        if key is None:
            key = node.next_index()
        if i == last:
            node.put(key, value)
            return
        child = node.get(key)
        if not isinstance(child, PhpArray):
            child = PhpArray()
            node.put(key, child)
        node = child


def finalize(value: Any) -> Any:
    """Turn PhpArrays into plain lists (keys 0..n-1 in order) or dicts."""
    if not isinstance(value, PhpArray):
        return value
    items = [(k, finalize(v)) for k, v in value.items()]
    if all(k == i for i, (k, _) in enumerate(items)):
        return [v for _, v in items]
    return {(str(k) if isinstance(k, int) else k): v for k, v in items}


def build(pairs: Iterable[tuple[str, Any]], limits: InputLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    root = PhpArray()
    for count, (name, value) in enumerate(pairs, 1):
        if count > limits.max_vars:
            raise errors.too_many_params(limits.max_vars)
        path = split_name(name, limits.max_depth)
        if path is not None:
            assign(root, path, value)
    result = finalize(root)
    if isinstance(result, list):  # only numeric top-level names: keep them as a mapping
        return {str(i): v for i, v in enumerate(result)}
    return dict(result)


def split_pairs(qs: str) -> Iterator[tuple[str, str]]:
    for chunk in qs.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        yield unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")


def parse(qs: str, limits: InputLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """``parse_str`` of a whole query string."""
    if not qs:
        return {}
    return build(split_pairs(qs), limits)


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
        return [(prefix, scalar(params))]
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict | list | tuple):
            pairs.extend(encode(value, name))
        elif value is not None:
            pairs.append((name, scalar(value)))
    return pairs


def scalar(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)
