"""Download links for recording files: signed and expiring (``download_link_ttl``), and
counted against the rate limit of the caller they were made for."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from b24tel.rest.context import CallContext
from b24tel.wire import links

PURPOSE = "download"


def file_url_for(ctx: CallContext[Any], file_id: int) -> str:
    """A download link that works without further credentials until it expires."""
    services = ctx.services
    expires = int(services.clock.time()) + services.settings.download_link_ttl
    return signed_file_url(services.secret, ctx.rest_url, file_id, expires, ctx.caller.limit_key)


def signed_file_url(secret: str, rest_url: str, file_id: int, expires: int, by: str) -> str:
    """``/rest/download.json?token=…`` for ``file_id`` until ``expires`` (unix seconds),
    counted against the rate limit of ``by``."""
    token = links.sign(secret, PURPOSE, {"f": file_id, "exp": expires, "by": by})
    return f"{rest_url}download.json?token={quote(token)}"
