"""Signed, expiring links: recording downloads and two-step upload URLs
(docs/reference/protocol.md, "Signed links").

A token is ``<base64url payload>.<base64url HMAC-SHA256>``; the MAC covers a purpose
(``download``/``upload``) and the payload, keyed with the server secret. Unlike the
reference's links, ours expire and are bound to what they grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from b24tel import errors
from b24tel.wire.secrets import same_secret


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


def verify(secret: str, purpose: str, token: str, now: float) -> dict[str, Any]:
    """The claims of a valid token; 403 for a bad signature, 400 for an expired link."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or not same_secret(mac, _mac(secret, purpose, payload)):
        raise errors.link_denied()
    try:
        claims = json.loads(_unb64(payload))
    except ValueError as exc:
        raise errors.link_denied() from exc
    if not isinstance(claims, dict) or float(claims.get("exp", 0)) < now:
        raise errors.link_expired()
    return claims
