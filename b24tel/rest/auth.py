"""Resolving the caller: a webhook path, or an OAuth token in ``auth``/``access_token``
(query, form or JSON) or ``Authorization: Bearer`` (docs/reference/protocol.md,
"Authentication"). The credentials themselves are checked by the ``Authenticator`` the
composition root hands in."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_plus

from b24tel import errors
from b24tel.identity import Caller
from b24tel.rest.platform import Platform
from b24tel.wire import phpquery

AUTH_PARAMS = ("auth", "access_token")
# no spelling of a credential's name is longer (`access_token`, every letter escaped)
MAX_TOKEN_KEY = 64


def find_token(params: dict[str, Any], authorization: str | None) -> str | None:
    """The token a request names: ``auth``, else ``access_token``, else a Bearer header."""
    for name in AUTH_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def query_token(query: str) -> str | None:
    """The token a raw query string names (``auth``, else ``access_token``, the last of each
    as PHP keeps it), found without parsing the rest of it: a request is refused before a
    long query string costs anything."""
    if "auth" not in query and "access" not in query and "%" not in query:
        return None
    found: dict[str, str] = {}
    for piece in query.split("&"):
        key, eq, value = piece.partition("=")
        if not eq or len(key) > MAX_TOKEN_KEY:
            continue
        path = phpquery.split_name(unquote_plus(key, errors="replace"))
        if path is not None and len(path) == 1 and path[0] in AUTH_PARAMS:
            found[path[0]] = unquote_plus(value, errors="replace")
    return next((found[n] for n in AUTH_PARAMS if found.get(n)), None)


def bearer(authorization: str | None) -> str | None:
    return find_token({}, authorization)


def basic_webhook(authorization: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic <user id:webhook code>`` — how the admin API and scripts pass
    a webhook where no ``/rest/<user>/<code>/`` path exists."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, code = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, code) if sep and user and code else None


def pop_token(params: dict[str, Any], authorization: str | None) -> str | None:
    """Remove the auth parameters from ``params`` (handlers never see them) and return the
    token."""
    token = find_token(params, authorization)
    for name in AUTH_PARAMS:
        params.pop(name, None)
    return token


async def authenticate(
    services: Platform,
    webhook: tuple[str, str] | None,
    token: str | None,
) -> Caller:
    if webhook is None and not token:
        raise errors.no_auth_found()
    key = ("w", *webhook) if webhook is not None else ("t", token or "")
    if webhook is not None:
        user, code = webhook
        return await services.auth_cache.resolve(
            key, lambda: services.authenticator.webhook(user, code)
        )
    return await services.auth_cache.resolve(key, lambda: services.authenticator.token(token or ""))
