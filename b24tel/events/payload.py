"""What a handler receives: the reference's form-encoded fields, plus a signature and an
idempotency key in headers (docs/reference/events.md, "Delivery")."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from b24tel.wire import phpquery
from b24tel.wire.secrets import same_secret

SIGNATURE_HEADER = "X-B24tel-Signature"
TIMESTAMP_HEADER = "X-B24tel-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def application_token(secret: str, kind: str, owner_id: int, generation: str) -> str:
    """The shared secret of one installation of an application (or of one outgoing
    webhook): derived from the server secret, so it is never stored apart from it and a
    reinstall gives a new one."""
    message = f"application_token|{kind}|{owner_id}|{generation}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def form_encode(fields: dict[str, Any]) -> bytes:
    """PHP's http_build_query, as the reference posts events: nested keys in brackets,
    booleans as 1/0, null and empty arrays left out."""
    return urlencode(phpquery.encode(fields)).encode()


def signature(token: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>`` keyed with the application token."""
    mac = hmac.new(token.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(token: str, timestamp: str, body: bytes, header: str) -> bool:
    return same_secret(signature(token, timestamp, body), header)
