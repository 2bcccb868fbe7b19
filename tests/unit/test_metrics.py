"""The request metrics (b24tel.ops.metrics): a series is looked up by its labels once."""

from __future__ import annotations

import pytest
from prometheus_client import Counter, Histogram

from b24tel.ops.metrics import Metrics


def test_a_series_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = Metrics()
    looked_up: list[tuple[str, ...]] = []
    for kind in (Counter, Histogram):
        real = kind.labels

        def counted(self: object, *values: str, real: object = real) -> object:
            looked_up.append(values)
            return real(self, *values)  # type: ignore[operator]

        monkeypatch.setattr(kind, "labels", counted)
    for seconds in (0.01, 0.02, 0.5):
        metrics.observe("server.time", 200, seconds)
    metrics.observe("server.time", 429, 0.01)
    assert looked_up == [
        ("server.time", "200"),
        ("server.time",),
        ("server.time", "429"),
        ("server.time",),
    ]
    sample = metrics.registry.get_sample_value
    assert sample("b24tel_requests_total", {"method": "server.time", "status": "200"}) == 3
    assert sample("b24tel_requests_total", {"method": "server.time", "status": "429"}) == 1
    count = sample("b24tel_request_duration_seconds_count", {"method": "server.time"})
    assert count == 4
