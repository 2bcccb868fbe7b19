"""Each method's handler reads the params model its registration declares: ``p: X`` in the
handler is the ``params=X`` it was registered with (a mismatch would parse with one model
and read fields of another)."""

from __future__ import annotations

import typing

from b24tel.app import build_registry
from b24tel.rest.params import NoParams


def test_every_handler_takes_the_params_model_it_is_registered_with() -> None:
    mismatched = []
    checked = 0
    for spec in build_registry().all():
        hints = typing.get_type_hints(spec.handler)
        names = [n for n in hints if n not in ("return", "ctx")]
        if not names:  # a handler without params: it must be registered without a model
            if spec.params is not NoParams:
                mismatched.append(f"{spec.name}: no params argument, model {spec.params}")
            continue
        checked += 1
        declared = hints[names[0]]
        if declared is not spec.params:
            mismatched.append(f"{spec.name}: takes {declared}, registered {spec.params}")
    assert checked > 50 and mismatched == []
