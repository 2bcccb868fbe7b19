"""JSON request bodies, decoded the way the reference's PHP ``json_decode`` reads them
(docs/reference/protocol.md, "Parameters").

- ``NaN``/``Infinity`` and lone UTF-16 surrogates (``"\\ud800"``) make the JSON invalid, and
  an invalid JSON body is ignored, as the reference does;
- integers beyond 64 bits become floats, as PHP's do;
- the shape is checked before decoding: no more values than ``max_input_vars`` and no
  deeper nesting than ``max_input_nesting`` (a document 5 000 levels deep would otherwise
  exhaust the recursion limit of every walker after the decoder).

String literals longer than ``LAZY_THRESHOLD`` are not decoded: the document is copied with
numbered placeholders in their place, and the strings stay in the spooled body as
``LargeValue``s (or are read into text where the method does not stream them).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from b24tel import errors
from b24tel.rest.spool import CHUNK, LAZY_THRESHOLD, Body, LargeValue, LazyPaths, is_lazy
from b24tel.wire.phpquery import InputLimits

# a JSON escape, so the reduced document stays valid JSON; the nonce keeps a client's own
# string from passing for a placeholder
_PLACEHOLDER = b"\\u0000b24tel-large-%s-%d"

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_LONG_INT = re.compile(rb"\d{19,}")
# a value's start that is an integer too long for 64 bits (at most 19 digits fit)
_LONG_INT_VALUE = re.compile(rb"[ \t\r\n]*-?[0-9]{19}")
# the marks a value follows, besides the document's start
_VALUE_MARKS = (b":", b",", b"[")
_BOM = b"\xef\xbb\xbf"  # json.loads reads past a UTF-8 byte order mark
# up to this many marks the quick check reads each value's start; past it, the exact one
_FEW_MARKS = 64
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]", re.IGNORECASE)
INT64 = 2**63


class InvalidJson(ValueError):
    """What PHP's decoder refuses; the body is then ignored."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON")


def _php_int(text: str) -> int | float:
    """PHP's json_decode: a 64-bit integer, else a float (``INF`` past 308 digits). ``int``
    is never asked for more than 19 digits: it refuses 4 300 and more."""
    if len(text.lstrip("-")) <= 19:
        value = int(text)
        if -INT64 <= value < INT64:
            return value
    return float(text)


def check_shape(document: bytes, limits: InputLimits) -> bool:
    """Refuse too many values or too deep nesting; True when the document may hold integers
    too long for 64 bits (then each integer goes through ``_php_int``: the same values).

    Counted with the strings in, the brackets, commas and colons are upper bounds of the
    real ones: within the limits, the real ones are too, and nothing is refused. Only past
    them, or with many values, are the strings taken out first — a pass over every byte that took
    0.6 ms for an attachRecord's 133 KB of base64, eight times its JSON decode."""
    opening = document.count(b"[") + document.count(b"{")
    marks = document.count(b",") + document.count(b":") + opening
    if opening > limits.max_depth or marks + 1 > min(limits.max_vars, _FEW_MARKS):
        return _exact_shape(document, limits)
    if _LONG_INT_VALUE.match(document, len(_BOM) if document.startswith(_BOM) else 0):
        return True
    for mark in _VALUE_MARKS:
        at = document.find(mark)
        while at != -1:
            if _LONG_INT_VALUE.match(document, at + 1):
                return True
            at = document.find(mark, at + 1)
    return False


def _exact_shape(document: bytes, limits: InputLimits) -> bool:
    """``check_shape`` on the document with its strings taken out."""
    structure = _STRING.sub(b'""', document)
    opening = structure.count(b"[") + structure.count(b"{")
    if opening > limits.max_depth:
        depth = 0
        for seen, bracket in enumerate(_BRACKETS.finditer(structure)):
            if seen > 2 * limits.max_vars:
                break  # more values than allowed: refused below
            depth += 1 if bracket.group() in (b"[", b"{") else -1
            if depth > limits.max_depth:
                raise errors.too_deep(limits.max_depth)
    if structure.count(b",") + opening + 1 > limits.max_vars:
        raise errors.too_many_params(limits.max_vars)
    return _LONG_INT.search(structure) is not None


def loads(document: bytes, limits: InputLimits) -> Any:
    """Decode a (reduced) document; InvalidJson/ValueError when PHP would not decode it."""
    long_ints = check_shape(document, limits)
    doc = json.loads(
        document,
        parse_constant=_reject_constant,
        parse_int=_php_int if long_ints else None,
    )
    if _SURROGATE_ESCAPE.search(document) and _has_lone_surrogate(doc):
        raise InvalidJson("a lone UTF-16 surrogate")
    return doc


def _has_lone_surrogate(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def decode(body: Body, lazy: LazyPaths, limits: InputLimits) -> Any:
    if body.size <= LAZY_THRESHOLD:
        return loads(body.read_all(), limits)
    nonce = secrets.token_hex(8).encode()
    reduced, larges = _scan(body, nonce)
    doc = loads(reduced, limits)
    if not larges:
        return doc
    values = {
        f"\x00b24tel-large-{nonce.decode()}-{i}": LargeValue(body, start, end, "json")
        for i, (start, end) in enumerate(larges)
    }
    return _restore(doc, values, lazy, ())


def _restore(
    node: Any, values: dict[str, LargeValue], lazy: LazyPaths, path: tuple[str | int, ...]
) -> Any:
    if isinstance(node, dict):
        return {k: _restore(v, values, lazy, (*path, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v, values, lazy, (*path, i)) for i, v in enumerate(node)]
    if isinstance(node, str) and node in values:
        value = values[node]
        return value if is_lazy(path, lazy) else value.text()
    return node


def _scan(body: Body, nonce: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """Copy the JSON document, replacing string literals longer than LAZY_THRESHOLD with
    numbered placeholders; return the reduced text and the (start, end) of each."""
    reduced = bytearray()
    larges: list[tuple[int, int]] = []
    in_string = False
    string_start = 0
    pending: bytearray | None = bytearray()  # the current string while it is still small
    backslashes = 0  # trailing backslashes of the previous chunk inside a string
    offset = 0
    body.file.seek(0)
    while True:
        chunk = body.file.read(CHUNK)
        if not chunk:
            break
        pos = 0
        while pos < len(chunk):
            if not in_string:
                q = chunk.find(b'"', pos)
                if q == -1:
                    reduced += chunk[pos:]
                    break
                reduced += chunk[pos : q + 1]
                in_string, string_start, pending, backslashes = True, offset + q + 1, bytearray(), 0
                pos = q + 1
                continue
            q = chunk.find(b'"', pos)
            while q != -1 and _escaped(chunk, q, pos, backslashes):
                q = chunk.find(b'"', q + 1)
            if q == -1:
                if pending is not None:
                    pending += chunk[pos:]
                    if len(pending) > LAZY_THRESHOLD:
                        pending = None
                backslashes = _trailing_backslashes(chunk, pos, backslashes)
                break
            end = offset + q
            if pending is not None and len(pending) + (q - pos) <= LAZY_THRESHOLD:
                pending += chunk[pos:q]
                reduced += pending + b'"'
            else:
                reduced += _PLACEHOLDER % (nonce, len(larges)) + b'"'
                larges.append((string_start, end))
            in_string, pending = False, bytearray()
            pos = q + 1
        offset += len(chunk)
    return bytes(reduced), larges


def _escaped(chunk: bytes, q: int, start: int, carried: int) -> bool:
    run = 0
    i = q - 1
    while i >= start and chunk[i] == 0x5C:
        run += 1
        i -= 1
    if i < start:
        run += carried
    return run % 2 == 1


def _trailing_backslashes(chunk: bytes, start: int, carried: int) -> int:
    run = 0
    i = len(chunk) - 1
    while i >= start and chunk[i] == 0x5C:
        run += 1
        i -= 1
    return run + carried if i < start else run
