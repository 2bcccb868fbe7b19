"""The REST endpoint: ``/rest/{method}[.json][/]`` and the webhook forms
``/rest/{user_id}/{code}/{method}[.json][/]`` (docs/reference/protocol.md, "Routing").

Order of work, cheapest refusal first: route and method lookup (an unknown method is 404
before authentication, as the reference does), then credentials that come outside the body
(webhook path, ``?auth=``, ``Authorization: Bearer``) are checked before the body is read at
all. A request without them must name its token in the body: the body is spooled while
being scanned for an ``auth`` parameter (refused after ``max_unauthenticated_body`` bytes
without one), only that token is picked out, and the body is decoded once the caller is
known.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from b24tel import errors
from b24tel.config_values import spool_dir
from b24tel.errors import ApiError, BusinessError
from b24tel.identity import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Caller
from b24tel.rest import auth, faults, pipeline
from b24tel.rest.context import EndpointContext
from b24tel.rest.decoding import (
    BodyRules,
    DecodedRequest,
    RawBody,
    check_values,
    decode_body,
    may_name_credentials,
    parse_query,
    read_body,
)
from b24tel.rest.envelope import Timing, json_response, render_error, success_body
from b24tel.rest.journal import Note, encoding_of, sanitize
from b24tel.rest.origin import base_url, query_string
from b24tel.rest.platform import Leg, Platform
from b24tel.rest.registry import EndpointSpec, MethodSpec, passthrough_spec
from b24tel.wire import links
from b24tel.wire.numbers import ascii_int
from b24tel.wire.secrets import same_secret

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


def _note(services: Platform, request: Request, kind: str, method: str) -> Note:
    """The journal entry of this request (``Note``; a throwaway when the journal is off)."""
    note = Note(kind=kind, method=method)
    if services.journal.enabled:
        request.state.journal = note
    return note


async def rest_endpoint(request: Request) -> Response:
    services: Platform = request.app.state.services
    timing = Timing(start=services.clock.time())
    # the method is named once the route is read: the path may hold a webhook code
    note = _note(services, request, "method", "")
    try:
        return await _handle(services, request, timing, note)
    except ApiError as exc:
        note.failed(exc)
        return render_error(exc)


async def _handle(services: Platform, request: Request, timing: Timing, note: Note) -> Response:
    route = parse_route(request.path_params["path"])
    if route is None or route.transport == "xml":
        if route is not None:
            raise ApiError("ERROR_TRANSPORT", "XML transport is not supported; use .json", 400)
        raise errors.method_not_found()
    note.method = route.method
    # file links: raw endpoints (docs/reference/protocol.md, "Processing order")
    endpoint = services.registry.find_endpoint(route.method)
    if endpoint is not None and endpoint.path is None:
        return await run_endpoint(services, request, endpoint, route.webhook, timing, note)
    # an unknown method is refused before authentication (same page); a bridge passes
    # every method on, those it does not know too (the portal has many more)
    spec = services.registry.find(route.method)
    if spec is None and services.bridge is not None:
        spec = passthrough_spec(route.method)
    if spec is None:
        raise errors.method_not_found()
    request.state.method = note.method = spec.name
    note.kind = "batch" if spec.name == "batch" else "method"
    opened: list[DecodedRequest] = []
    params: dict[str, Any] = {}
    try:
        params, caller = await _params_and_caller(services, request, route, spec, opened)
        _noted_caller(note, caller)
        if not spec.allowed_for(caller.scopes):
            raise errors.insufficient_scope()
        await services.rate_limiter.hit(caller.limit_key)
        decision = await services.faults.decide(note.kind, spec.name, faults.who(caller), params)
        note.fault = decision.label if decision else None
        early = await faults.before(decision)
        if early is not None:
            return early
        if services.bridge is not None:
            rest_url = base_url(services, request).rstrip("/") + "/rest/"
            leg = Leg(request.state.request_id, caller, rest_url)
            passed = await services.bridge.forward(spec.name, params, note, leg)
            return faults.wrap(decision, request, passed)
        outcome = await pipeline.call(
            services,
            caller,
            spec,
            params,
            base_url=base_url(services, request),
            timing=timing,
            request_id=request.state.request_id,
            note=note,
        )
        if services.journal.enabled:
            note.result = sanitize(outcome.result)
        body = success_body(outcome.result, outcome.time_block(services))
        return faults.wrap(decision, request, json_response(body))
    finally:
        if services.journal.enabled:
            note.encoding = encoding_of(
                request.headers.get("content-type", ""), request.method, _has_body(request)
            )
            note.params = sanitize(params)
        for decoded in opened:
            decoded.close()


def _noted_caller(note: Note, caller: Caller) -> None:
    note.caller, note.user_id = caller.limit_key, caller.user_id


async def _params_and_caller(
    services: Platform,
    request: Request,
    route: Route,
    spec: MethodSpec,
    opened: list[DecodedRequest],
) -> tuple[dict[str, Any], Caller]:
    settings, limits = services.settings, services.input_limits
    header = request.headers.get("authorization")
    # the query string is parsed once the caller is known; its token is picked out first
    token = auth.query_token(query_string(request)) or auth.bearer(header)
    caller, refused = None, None
    if route.webhook is not None:
        # the webhook path overrides any token (docs/reference/protocol.md, "Parameters")
        caller = await _authenticate(services, request, route.webhook, None)
    elif token:
        try:
            caller = await _authenticate(services, request, None, token)
        except ApiError as exc:
            refused = exc  # unless the body names other credentials: its `auth` wins
    rules = BodyRules(
        settings.max_body_size,
        limits,
        str(spool_dir(settings.data_dir)),
        credentials_within=None if caller else settings.max_unauthenticated_body,
    )
    raw = RawBody("none")
    if request.method not in ("GET", "HEAD") or _has_body(request):
        ctype = request.headers.get("content-type", "")
        if caller is None and not may_name_credentials(ctype):
            raise refused or errors.no_auth_found()
        raw = await read_body(ctype, request.stream(), rules, spec.lazy)
    decoded = DecodedRequest(raw.params, raw.body)
    opened.append(decoded)  # closed once the answer is built
    if caller is None:
        hint = raw.auth_hint()
        if not hint or hint == token:
            raise refused or errors.no_auth_found()
        token = hint
        caller = await _authenticate(services, request, None, token)
    query = await parse_query(query_string(request), limits)
    params = {**query, **await decode_body(raw, spec.lazy, limits)}
    decoded.params = params
    if services.journal.enabled:
        decoded.fingerprint_large_values()
    check_values(params, spec.lazy)
    final = auth.pop_token(params, header)
    if route.webhook is None and final != token:
        # the body's `auth` replaces the query's, as every other parameter does
        caller = await _authenticate(services, request, None, final)
    return params, caller


async def _authenticate(
    services: Platform, request: Request, webhook: tuple[str, str] | None, token: str | None
) -> Caller:
    caller = await auth.authenticate(services, webhook, token)
    request.state.caller = caller.limit_key
    return caller


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers


# --- raw endpoints --------------------------------------------------------------------------


# journal kinds of the raw endpoints; the others are not journaled
ENDPOINT_KINDS = {"upload": "upload", "download": "download", "oauth.token": "token"}


async def run_endpoint(
    services: Platform,
    request: Request,
    spec: EndpointSpec,
    webhook: tuple[str, str] | None,
    timing: Timing,
    note: Note,
) -> Response:
    """A raw endpoint through the same gates as a method: its way of authenticating, its
    scope, the rate limit, faults; its errors through the one renderer."""
    if spec.verbs and request.method not in spec.verbs:
        if spec.path is not None:  # a path of its own: say which verbs it takes
            raise errors.verb_not_allowed(spec.verbs)
        raise errors.method_not_found()
    request.state.method = note.method = spec.name
    kind = ENDPOINT_KINDS.get(spec.name, "")
    note.kind = kind or "admin"
    if not kind and hasattr(request.state, "journal"):
        del request.state.journal  # the admin API and the like stay out of the journal
    query = await parse_query(query_string(request), services.input_limits)
    note.params = sanitize(query) if services.journal.enabled else None
    caller, link, limit_key = None, None, ""
    token = query.get("token")
    if spec.auth == "link_or_caller" and isinstance(token, str) and token:
        # the signed link is the grant; it counts against whoever it was made for
        link = links.verify(services.secret, spec.link_purpose, token, services.clock.time())
        limit_key = str(link.get("by") or f"link:{spec.name}")
    elif spec.auth == "session":
        caller = await _page_caller(services, request)
        note.caller, note.user_id = caller.limit_key, caller.user_id
        # people clicking are not a connector's traffic: no rate limit (limit_key stays "")
    elif spec.auth != "none":
        header = request.headers.get("authorization")
        webhook = webhook or auth.basic_webhook(header)
        credential = auth.pop_token(query, header)
        caller = await _authenticate(services, request, webhook, credential)
        _noted_caller(note, caller)
        if not spec.access.allowed_for(caller.scopes):
            raise errors.insufficient_scope()
        limit_key = caller.limit_key
    if limit_key:
        await services.rate_limiter.hit(limit_key)
    decision = None
    if kind:
        decision = await services.faults.decide(
            kind, spec.name, faults.who(caller, limit_key), query
        )
        note.fault = decision.label if decision else None
        early = await faults.before(decision)
        if early is not None:
            return early
    ctx = EndpointContext(
        services,
        request,
        caller,
        link,
        timing,
        base_url(services, request),
        query,
        request.state.request_id,
    )
    timing.handler_start = services.clock.time()
    try:
        result = await spec.handler(ctx)
    except BusinessError as exc:
        exc.code = spec.business_code(services.settings)
        raise
    if isinstance(result, Response):
        if services.journal.enabled:
            note.result = _json_of(result)
        return faults.wrap(decision, request, result)
    timing.handler_end = services.clock.time()
    if services.journal.enabled:
        note.result = sanitize(result)
    body = success_body(result, timing.block(services.clock.time(), services.tz))
    return faults.wrap(decision, request, json_response(body))


# the largest form a page posts (a fault rule, a sign-in); more is refused unread
MAX_PAGE_FORM = 64 * 1024


async def _page_caller(services: Platform, request: Request) -> Caller:
    """The signed-in user of a page; every change (any verb but GET and HEAD) must carry
    the session's CSRF token, in a header (scripts) or a form field."""
    page = await services.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    if page is None:
        raise errors.not_signed_in()
    request.state.page = page
    if request.method in ("GET", "HEAD"):
        return page.caller
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(FORM_TYPES):
        field = (await page_form(request)).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else ""
    if not sent or not same_secret(sent, page.csrf):
        raise errors.csrf_refused()
    return page.caller


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def page_form(request: Request, max_fields: int = 30) -> FormData:
    """The fields of a page's form (read once; Starlette keeps it): small, without files,
    and refused in our words when it is not (never Starlette's plain-text 400)."""
    length = request.headers.get("content-length", "")
    if (ascii_int(length) or MAX_PAGE_FORM + 1) > MAX_PAGE_FORM:
        raise errors.body_too_large(MAX_PAGE_FORM)
    try:
        return await request.form(max_files=0, max_fields=max_fields)
    except (HTTPException, MultiPartException) as exc:
        raise errors.invalid_request(f"Not a form this page takes: {exc}") from exc


def _json_of(response: Response) -> Any:
    """What a raw endpoint answered in JSON (the token endpoint), for the journal."""
    body = getattr(response, "body", None)
    kind = response.headers.get("content-type", "")
    if not isinstance(body, bytes) or "json" not in kind or len(body) > 1 << 20:
        return None
    try:
        return sanitize(json.loads(body))
    except ValueError:
        return None


# how an endpoint's errors are answered: JSON through the one renderer, or an HTML page
ErrorPage = Callable[[Request, ApiError], Response]


def endpoint_route(
    name: str, on_error: ErrorPage | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette handler for an endpoint registered at its own path (``/oauth/token/``,
    pages); ``on_error`` renders the errors of pages."""

    async def serve(request: Request) -> Response:
        services: Platform = request.app.state.services
        spec = services.registry.find_endpoint(name)
        assert spec is not None
        timing = Timing(start=services.clock.time())
        note = _note(services, request, "token", name)
        try:
            return await run_endpoint(services, request, spec, None, timing, note)
        except ApiError as exc:
            note.failed(exc)
            return on_error(request, exc) if on_error is not None else render_error(exc)

    return serve
