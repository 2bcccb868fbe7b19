"""Signed, expiring links: recording downloads and two-step upload URLs.

A token is ``<base64url payload>.<base64url HMAC-SHA256>``; the MAC covers a purpose
(``download``/``upload``) and the payload, keyed with the server secret. Unlike the
reference's links (behavior.md §4.8), ours expire and are bound to what they grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from b24tel.errors import ApiError

if TYPE_CHECKING:
    from b24tel.rest.context import CallContext


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}|{payload}".encode(), hashlib.sha256).digest()
    return _b64(digest)


def sign(secret: str, purpose: str, claims: dict[str, Any]) -> str:
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(secret, purpose, payload)}"


class LinkError(ApiError):
    pass


def verify(secret: str, purpose: str, token: str, now: float) -> dict[str, Any]:
    """The claims of a valid token; 403 for a bad signature, 400 for an expired link."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(secret, purpose, payload)):
        raise LinkError("ACCESS_DENIED", "Access denied! Link check failed", 403)
    try:
        claims = json.loads(_unb64(payload))
    except ValueError as exc:
        raise LinkError("ACCESS_DENIED", "Access denied! Link check failed", 403) from exc
    if not isinstance(claims, dict) or float(claims.get("exp", 0)) < now:
        raise LinkError("LINK_EXPIRED", "The link has expired; request a new one", 400)
    return claims


def download_token(secret: str, file_id: int, now: float, ttl: int) -> str:
    return sign(secret, "download", {"f": file_id, "exp": int(now) + ttl})


def file_url_for(ctx: CallContext, file_id: int) -> str:
    """A download link for a recording file that works without further credentials until
    it expires (``download_link_ttl``)."""
    services = ctx.services
    token = download_token(
        services.secret, file_id, services.clock.time(), services.settings.download_link_ttl
    )
    return f"{ctx.rest_url}download.json?token={quote(token)}"
