"""Download links for recording files: signed and expiring (``download_link_ttl``), and
counted against the rate limit of the caller they were made for."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from b24tel.rest import links
from b24tel.rest.context import CallContext

PURPOSE = "download"


def file_url_for(ctx: CallContext[Any], file_id: int) -> str:
    """A download link that works without further credentials until it expires."""
    services = ctx.services
    claims = {
        "f": file_id,
        "exp": int(services.clock.time()) + services.settings.download_link_ttl,
        "by": ctx.caller.limit_key,
    }
    token = links.sign(services.secret, PURPOSE, claims)
    return f"{ctx.rest_url}download.json?token={quote(token)}"
