"""``/oauth/token/`` on the portal host (protocol.md §8.2, compat O1): refresh and
authorization-code grants, GET query or POST form."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from b24tel.rest import phpquery
from b24tel.rest.decoding import decode_request
from b24tel.rest.endpoint import base_url
from b24tel.rest.envelope import json_response
from b24tel.services import Services
from b24tel.users import service
from b24tel.users.service import OAuthError, TokenPair

MAX_TOKEN_REQUEST = 64 * 1024


def token_body(services: Services, request: Request, pair: TokenPair) -> dict[str, Any]:
    base = base_url(services, request)
    return {
        "access_token": pair.access_token,
        "expires": pair.expires,
        "expires_in": pair.expires_in,
        "scope": pair.scopes,
        "domain": request.url.netloc,
        "server_endpoint": f"{base}/rest/",
        "status": "L",
        "client_endpoint": f"{base}/rest/",
        "member_id": services.member_id,
        "user_id": pair.user_id,
        "refresh_token": pair.refresh_token,
    }


async def token_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        decoded = await decode_request(
            request.url.query,
            request.headers.get("content-type", ""),
            request.stream(),
            MAX_TOKEN_REQUEST,
            has_body=request.method == "POST",
        )
    except Exception:
        return _error(OAuthError("invalid_request", "Malformed request"))
    params = {k: phpquery.scalar(v) for k, v in decoded.params.items() if isinstance(v, str)}
    decoded.close()
    grant = params.get("grant_type", "")
    settings = services.settings
    ttl = {"access_ttl": settings.access_token_ttl, "refresh_ttl": settings.refresh_token_ttl}
    now = services.clock.now()
    try:
        async with services.db.transaction() as session:
            if grant == "refresh_token":
                pair = await service.refresh_tokens(
                    session,
                    now,
                    client_id=params.get("client_id", ""),
                    client_secret=params.get("client_secret", ""),
                    refresh_token=params.get("refresh_token", ""),
                    **ttl,
                )
            elif grant == "authorization_code":
                pair = await service.exchange_code(
                    session,
                    now,
                    client_id=params.get("client_id", ""),
                    client_secret=params.get("client_secret", ""),
                    code=params.get("code", ""),
                    **ttl,
                )
            else:
                raise OAuthError("invalid_request", "Unsupported grant_type")
    except OAuthError as exc:
        return _error(exc)
    services.auth_cache.clear()  # the refreshed-away token must stop working here at once
    return json_response(token_body(services, request, pair))


def _error(exc: OAuthError) -> Response:
    return json_response({"error": exc.code, "error_description": exc.description}, exc.status)
