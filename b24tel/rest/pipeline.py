"""One method call, after routing and authentication: scope, limits, params, handler,
timing (docs/reference/protocol.md, "Processing order"). Used by the endpoint and by ``batch``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from b24tel import errors
from b24tel.errors import BusinessError
from b24tel.identity import Caller
from b24tel.paging import ListResult
from b24tel.rest.context import CallContext
from b24tel.rest.envelope import Timing
from b24tel.rest.journal import Note
from b24tel.rest.params import ParseContext
from b24tel.rest.platform import Platform
from b24tel.rest.registry import MethodSpec
from b24tel.wire.php import php_int

log = logging.getLogger("b24tel.rest")


@dataclass
class Outcome:
    result: Any
    timing: Timing
    finish: float

    def time_block(self, services: Platform) -> dict[str, Any]:
        return self.timing.block(self.finish, services.tz)


async def call(
    services: Platform,
    caller: Caller,
    spec: MethodSpec,
    params: dict[str, Any],
    *,
    base_url: str,
    in_batch: bool = False,
    timing: Timing | None = None,
    insufficient_scope_text: str | None = None,
    request_id: str = "",
    note: Note | None = None,
) -> Outcome:
    clock = services.clock
    timing = timing or Timing(start=clock.time())
    if not spec.allowed_for(caller.scopes):
        raise errors.insufficient_scope(insufficient_scope_text)
    await services.operating.check(caller.limit_key, spec.name)
    start = php_int(params.pop("start", 0)) if "start" in params else 0
    ctx = CallContext(
        services=services,
        caller=caller,
        timing=timing,
        base_url=base_url,
        start=-1 if start < 0 else start,
        in_batch=in_batch,
        request_id=request_id,
    )
    if note is not None:
        ctx.extra["journal"] = note  # batch adds its commands to it
    timing.handler_start = clock.time()
    try:
        parsed = spec.parse(params, ParseContext(services.tz, clock.now()).mapping())
        result = await spec.handler(ctx, parsed)
    except BusinessError as exc:
        exc.code = spec.business_code(services.settings)
        raise
    finally:
        timing.handler_end = clock.time()
        timing.operating, timing.operating_reset_at = await services.operating.record(
            caller.limit_key,
            spec.name,
            timing.handler_start,
            timing.handler_end - timing.handler_start,
        )
    if spec.is_list and not isinstance(result, ListResult):
        raise TypeError(f"list method {spec.name} returned {type(result).__name__}")
    return Outcome(result, timing, clock.time())
