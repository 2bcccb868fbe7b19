"""The REST endpoint: ``/rest/{method}[.json][/]`` and the webhook forms
``/rest/{user_id}/{code}/{method}[.json][/]`` (protocol.md §1.1, behavior.md §4.1–4.3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from b24tel import errors
from b24tel.errors import ApiError
from b24tel.recordings.download import download
from b24tel.rest import auth, pipeline
from b24tel.rest.decoding import decode_request, drain
from b24tel.rest.envelope import Timing, json_response, render_error, success_body
from b24tel.services import Services
from b24tel.telephony.upload import upload

log = logging.getLogger("b24tel.rest")

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


@dataclass(frozen=True)
class Route:
    method: str
    transport: str
    webhook: tuple[str, str] | None


def parse_route(path: str) -> Route | None:
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # a trailing slash (asterlink, b24phpsdk)
    if len(parts) == 1:
        webhook, method = None, parts[0]
    elif len(parts) == 3 and parts[0] and parts[1]:
        webhook, method = (parts[0], parts[1]), parts[2]
    else:
        return None
    transport = "json"
    stem, dot, suffix = method.rpartition(".")
    if dot and suffix.lower() in ("json", "xml"):
        method, transport = stem, suffix.lower()
    if not method:
        return None
    return Route(method, transport, webhook)


def base_url(services: Services, request: Request) -> str:
    if services.settings.public_url:
        return services.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


async def rest_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    timing = Timing(start=services.clock.time())
    try:
        return await _handle(services, request, timing)
    except ApiError as exc:
        return render_error(exc)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return render_error(errors.internal_error())


async def _handle(services: Services, request: Request, timing: Timing) -> Response:
    route = parse_route(request.path_params["path"])
    if route is None or route.transport == "xml":
        await drain(request.stream())
        if route is not None:
            raise ApiError("ERROR_TRANSPORT", "XML transport is not supported; use .json", 400)
        raise errors.method_not_found()
    # file links are answered by their own handlers (behavior.md §4.3 step 6)
    if route.method.lower() == "download":
        return await download(services, request, route.webhook)
    if route.method.lower() == "upload":
        return await upload(services, request, route.webhook)
    # an unknown method is refused before authentication (behavior.md §4.3 step 5)
    spec = services.registry.find(route.method)
    if spec is None:
        await drain(request.stream())
        raise errors.method_not_found()
    decoded = await decode_request(
        request.url.query,
        request.headers.get("content-type", ""),
        request.stream(),
        services.settings.max_body_size,
        spec.lazy,
        has_body=request.method not in ("GET", "HEAD") or _has_body(request),
    )
    try:
        params = decoded.params
        token = auth.pop_token(params, request.headers.get("authorization"))
        caller = await auth.authenticate(services, route.webhook, token)
        if not spec.allowed_for(caller.scopes):
            raise errors.insufficient_scope()
        services.rate_limiter.hit(caller.limit_key)
        outcome = await pipeline.call(
            services, caller, spec, params, base_url=base_url(services, request), timing=timing
        )
        return json_response(success_body(outcome.result, outcome.time_block(services)))
    finally:
        decoded.close()


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers
