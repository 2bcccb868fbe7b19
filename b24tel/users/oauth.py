"""``/oauth/token/`` on the portal host (docs/reference/users.md, "OAuth"): refresh and
authorization-code grants, GET query or POST form. A raw endpoint of the registry: the
client authenticates with its id and secret in the request itself."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from b24tel.rest.decoding import BodyRules, decode_body, read_body
from b24tel.rest.envelope import json_response
from b24tel.rest.registry import Registry
from b24tel.services import EndpointCtx
from b24tel.users import errors, tokens
from b24tel.users.tokens import TokenPair
from b24tel.wire import phpquery

MAX_TOKEN_REQUEST = 64 * 1024


def token_body(ctx: EndpointCtx, pair: TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "expires": pair.expires,
        "expires_in": pair.expires_in,
        "scope": pair.scopes,
        "domain": ctx.request.url.netloc,
        "server_endpoint": f"{ctx.rest_url}",
        "status": "L",
        "client_endpoint": f"{ctx.rest_url}",
        "member_id": ctx.services.member_id,
        "user_id": pair.user_id,
        "refresh_token": pair.refresh_token,
    }


async def _params(ctx: EndpointCtx) -> dict[str, str]:
    params: dict[str, Any] = dict(ctx.query)
    if ctx.request.method == "POST":
        rules = BodyRules(MAX_TOKEN_REQUEST, ctx.services.input_limits)
        try:
            ctype = ctx.request.headers.get("content-type", "")
            raw = await read_body(ctype, ctx.request.stream(), rules, frozenset())
            params.update(await decode_body(raw, frozenset(), ctx.services.input_limits))
            raw.close()
        except Exception as exc:
            raise errors.malformed() from exc
    return {k: phpquery.scalar(v) for k, v in params.items() if isinstance(v, str)}


def register(registry: Registry) -> None:
    @registry.endpoint(
        "oauth.token",
        scope="basic",
        auth="none",
        path="/oauth/token/",
        verbs=frozenset({"GET", "POST"}),
    )
    async def token(ctx: EndpointCtx) -> Response:
        params = await _params(ctx)
        services = ctx.services
        settings = services.settings
        ttl = {"access_ttl": settings.access_token_ttl, "refresh_ttl": settings.refresh_token_ttl}
        now = services.clock.now()
        grant = params.get("grant_type", "")
        async with services.db.transaction() as session:
            if grant == "refresh_token":
                pair = await tokens.refresh_tokens(
                    session,
                    now,
                    client_id=params.get("client_id", ""),
                    client_secret=params.get("client_secret", ""),
                    refresh_token=params.get("refresh_token", ""),
                    **ttl,
                )
            elif grant == "authorization_code":
                pair = await tokens.exchange_code(
                    session,
                    now,
                    client_id=params.get("client_id", ""),
                    client_secret=params.get("client_secret", ""),
                    code=params.get("code", ""),
                    **ttl,
                )
            else:
                raise errors.unsupported_grant()
        services.auth_cache.clear()  # the refreshed-away token must stop working here at once
        # the bare token object, without the REST envelope
        return json_response(token_body(ctx, pair))
