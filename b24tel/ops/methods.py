"""The operators' endpoints, registered like every other (docs/operations.md)."""

from __future__ import annotations

from b24tel.ops import health, metrics
from b24tel.rest.registry import Registry

GET = frozenset({"GET", "HEAD"})


def register(registry: Registry) -> None:
    for name, path, handler in (
        ("ops.healthz", "/healthz", health.healthz),
        ("ops.readyz", "/readyz", health.readyz),
        ("ops.metrics", "/metrics", metrics.metrics),
    ):
        registry.endpoint(name, scope="basic", auth="none", verbs=GET, path=path)(handler)
