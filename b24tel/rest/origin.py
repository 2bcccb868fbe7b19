"""What a request says of where it was sent: the server's address as the client named it
(for links in answers) and the raw query string, read from the ASGI scope without building
Starlette's URL objects (building two per request was 4.5 % of a trivial request's time:
docs/benchmarks.md, "round three — sixth part")."""

from __future__ import annotations

import functools

from starlette.requests import Request

from b24tel.rest.platform import Platform


def base_url(services: Platform, request: Request) -> str:
    if services.settings.public_url:
        return services.settings.public_url.rstrip("/")
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    return _origin(
        scope.get("scheme", "http"),
        host,
        tuple(server) if server else None,
        scope.get("root_path", ""),
    )


@functools.lru_cache(maxsize=256)
def _origin(scheme: str, host: bytes | None, server: tuple[str, int] | None, root_path: str) -> str:
    """``request.base_url`` as Starlette builds it, once per Host header (at most 256 kept:
    the header is the client's to choose)."""
    headers = [(b"host", host)] if host is not None else []
    scope = {"type": "http", "scheme": scheme, "server": server, "root_path": root_path,
             "path": "/", "query_string": b"", "headers": headers}  # fmt: skip
    return str(Request(scope).base_url).rstrip("/")


def query_string(request: Request) -> str:
    """``request.url.query`` without building the URL: the raw query, cut at a ``#`` as URL
    parsing does (h11 refuses a request line that is not ASCII)."""
    raw: bytes = request.scope.get("query_string", b"")
    return raw.decode("latin-1").partition("#")[0]
