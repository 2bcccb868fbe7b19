"""Secrets taken out of what the server shows of a request — its URL in the access log and the
request journal, parameter values in the journal, handler URLs — by name, on decoded data.

A secret is found the way the server itself reads it, not by a pattern over raw text:

- a query parameter whose decoded name, or any bracketed part of it, is a secret name
  (``auth``, ``%61uth``, ``auth[0]``, ``auth%5B%5D``, ``x[auth]``, `` access.token``);
- a value that, once decoded, is itself a URL or a query string (``x=1%26auth%3D…``, a batch
  command ``server.time?auth=…``), masked the same way, a few levels deep;
- every path segment after ``/rest/<user>/`` but the method: the webhook code, in any case
  of ``rest``, with or without a trailing slash, with doubled slashes;
- the user information of a URL (``https://user:password@host`` → ``https://***@host``).

Everything here is linear in its input: splits and one pass of percent-decoding per level,
no regular expression. What is shown of a URL is cut to ``MAX_SHOWN`` characters (with the
full length said), and the cut happens before the work, on a parameter boundary, so a long
hostile URL costs no more than a short one and no part of a secret is ever shown.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, unquote_plus

# parameter names whose values are secrets, wherever they appear (query, form, JSON,
# multipart, batch commands; any depth)
SECRET_NAMES = frozenset(
    {"auth", "access_token", "refresh_token", "client_secret", "application_token", "token",
     "code", "password", "secret", "auth_id", "refresh_id", "ap"}
)  # fmt: skip
MASK = "***"
# a URL is shown up to this many characters, then "…[N chars]"
MAX_SHOWN = 2048
# how many times a value is decoded looking for a URL or query string inside it; a value
# still carrying one deeper down is masked whole
MAX_NESTING = 4
# no spelling of "rest" is longer than this (every letter percent-escaped)
_REST_SPELLING = 12
# the characters a re-encoded masked value keeps as they are
_SAFE = "*/:@[]"


def is_secret_name(name: str) -> bool:
    """Whether a decoded parameter name holds a secret: the name or any of its bracketed
    parts, compared as PHP names variables (spaces trimmed, ``.`` and spaces as ``_``)."""
    for part in name.replace("]", "[").split("["):
        if part.strip().lower().replace(" ", "_").replace(".", "_") in SECRET_NAMES:
            return True
    return False


def _decoded(text: str, plus: bool = True) -> str:
    if "%" not in text and not (plus and "+" in text):
        return text
    return unquote_plus(text, errors="replace") if plus else unquote(text, errors="replace")


def may_carry(value: str) -> bool:
    """Whether a decoded value may hold a secret of its own: a URL, a path or a query."""
    return "=" in value or "/" in value or "@" in value


def mask_query(query: str, depth: int = 0) -> str:
    """A raw query string (``a=1&auth=…``) with the value of every secret parameter masked;
    the rest is kept as the client spelled it."""
    pieces = query.split("&")
    for i, piece in enumerate(pieces):
        key, eq, value = piece.partition("=")
        if not eq or not value:
            continue
        if is_secret_name(_decoded(key)):
            pieces[i] = f"{key}={MASK}"
            continue
        decoded = _decoded(value)
        masked = _mask_value(decoded, depth + 1)
        if masked != decoded:
            pieces[i] = f"{key}={quote(masked, safe=_SAFE)}"
    return "&".join(pieces)


def _mask_value(value: str, depth: int) -> str:
    """A decoded value: a URL or query inside it masked; a value still holding escapes is
    decoded once more (a client may have encoded twice)."""
    if depth > MAX_NESTING:
        return MASK if may_carry(value) or "%" in value else value
    if may_carry(value):
        return mask_text(value, depth)
    if "%" in value:
        inner = _decoded(value)
        if inner != value:
            masked = _mask_value(inner, depth + 1)
            if masked != inner:
                return quote(masked, safe=_SAFE)
    return value


def mask_path(path: str) -> str:
    """A URL path with every segment after ``/rest/<user>/`` masked but the last (the
    method): ``/rest/1/<code>/x`` → ``/rest/1/***/x``; ``/rest/1/<code>`` → ``/rest/1/***``."""
    segments = path.split("/")
    start = next(
        (
            i
            for i, s in enumerate(segments)
            if len(s) <= _REST_SPELLING and _decoded(s, plus=False).lower() == "rest"
        ),
        None,
    )
    if start is None:
        return path
    after = [i for i in range(start + 1, len(segments)) if segments[i]]
    if len(after) < 2:
        return path
    hidden = after[1:2] if len(after) == 2 else after[1:-1]
    for i in hidden:
        if segments[i] != MASK:
            segments[i] = MASK
    return "/".join(segments)


def _mask_authority(authority: str) -> str:
    """``user:password@host`` → ``***@host``: a user name alone may be a token too."""
    _, at, host = authority.rpartition("@")
    return f"{MASK}@{host}" if at else authority


def mask_text(text: str, depth: int = 0) -> str:
    """A URL, a path with a query, or a bare query string, its secrets masked."""
    if depth > MAX_NESTING:
        return MASK if may_carry(text) else text
    text, hash_, fragment = text.partition("#")
    scheme, sep, rest = text.partition("://")
    if sep and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        end = min((p for p in (rest.find("/"), rest.find("?")) if p != -1), default=len(rest))
        head = f"{scheme}://{_mask_authority(rest[:end])}"
        text = rest[end:]
    else:
        head = ""
    path, qmark, query = text.partition("?")
    if qmark:
        body = f"{mask_path(path)}?{mask_query(query, depth)}"
    else:
        body = mask_path(path)
        if "=" in body:
            body = mask_query(body, depth)
    if hash_:
        body += "#" + mask_query(fragment, depth)
    return head + body


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text)} chars]"


def shown_target(path: str, query: str, limit: int = MAX_SHOWN) -> str:
    """A request's path and query, masked and cut for a log line or the journal. The cut
    comes first, at a parameter boundary: what is cut off is not shown at all."""
    full = len(path) + (len(query) + 1 if query else 0)
    path = path[:limit]
    if query:
        room = max(0, limit - len(path))
        if len(query) > room:
            query = query[:room].rpartition("&")[0]
        target = f"{mask_path(path)}?{mask_query(query)}" if query else mask_path(path)
    else:
        target = mask_path(path)
    if full > limit:
        return f"{target}…[{full} chars]"
    return target


def shown_url(url: str, limit: int = MAX_SHOWN) -> str:
    """A URL someone gave us (an event handler, a RECORD_URL), masked and cut."""
    return shown(mask_text(url), limit)
