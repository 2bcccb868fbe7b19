"""``batch``: up to 50 sub-calls in one request (docs/reference/protocol.md, "batch").

Sub-calls run in order under the outer caller, through the same pipeline as a direct call.
Values of later commands may refer to earlier results with ``$result[key][path…]`` (also
``$next``, ``$total``, ``$time``, ``$error``). The answer is HTTP 200 whatever the sub-calls
did; their errors sit in ``result_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BeforeValidator

from b24tel import errors, masking
from b24tel.config_values import spool_dir
from b24tel.errors import ApiError
from b24tel.paging import ListResult
from b24tel.rest import faults, pipeline
from b24tel.rest.auth import AUTH_PARAMS
from b24tel.rest.context import CallContext
from b24tel.rest.decoding import RawBody, check_values, decode_body, parse_query
from b24tel.rest.guard import failure
from b24tel.rest.journal import Note, sanitize
from b24tel.rest.params import LegacyParams
from b24tel.rest.platform import Platform
from b24tel.rest.registry import MethodSpec, Registry
from b24tel.rest.spool import ANY_KEY, Body, LargeValue
from b24tel.wire.php import php_truthy
from b24tel.wire.phpquery import InputLimits, php_key

MAX_COMMANDS = 50
MAX_METHOD = 4096  # a method name and its path never come near this
_REFERENCE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\[\]]*\])+)", re.IGNORECASE)


def _commands(cmd: object) -> list[tuple[int | str, object]]:
    if isinstance(cmd, list):
        return list(enumerate(cmd))
    if isinstance(cmd, dict):
        return [(php_key(k) if isinstance(k, str) else k, v) for k, v in cmd.items()]
    return []


def _halt(value: object) -> bool:
    return php_truthy(value) and str(value).lower() != "false"


Commands = Annotated[list[tuple[int | str, object]], BeforeValidator(_commands)]
Halt = Annotated[bool, BeforeValidator(_halt)]


class BatchParams(LegacyParams):
    # the reference upper-cases the keys: CMD/cmd, HALT/halt are one parameter
    cmd: Commands = []
    halt: Halt = False


_INDEX = re.compile(r"^(?:0|[1-9][0-9]{0,17})$")


def _follow(value: Any, path: list[str]) -> Any:
    """Walk ``path``; stop at the last level found (docs/reference/protocol.md, "batch")."""
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and _INDEX.match(key) and int(key) < len(value):
            value = value[int(key)]
        else:
            break
    return value


class _State:
    def __init__(self) -> None:
        self.sections: dict[str, dict[Any, Any]] = {
            "result": {},
            "error": {},
            "total": {},
            "next": {},
            "time": {},
        }

    def lookup(self, section: str, path: list[str]) -> tuple[bool, Any]:
        data = self.sections[section.lower()]
        by_str = {str(k): v for k, v in data.items()}
        if not path or path[0] not in by_str:
            return False, None
        return True, _follow(by_str[path[0]], path[1:])

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str) or "$" not in value:
            return value
        whole = _REFERENCE.fullmatch(value)
        if whole:
            found, target = self.lookup(whole.group(1), _path(whole.group(2)))
            return target if found else value

        def substitute(match: re.Match[str]) -> str:
            found, target = self.lookup(match.group(1), _path(match.group(2)))
            if found and isinstance(target, str | int | float) and not isinstance(target, bool):
                return str(target)
            return match.group(0)

        return _REFERENCE.sub(substitute, value)


def _path(brackets: str) -> list[str]:
    return re.findall(r"\[([^\[\]]*)\]", brackets)


def _php_array(section: dict[Any, Any]) -> Any:
    """Keys 0..n-1 in order make a JSON list, like a PHP array."""
    keys = list(section)
    if keys and all(isinstance(k, int) and k == i for i, k in enumerate(keys)):
        return list(section.values())
    return {str(k): v for k, v in section.items()}


def _subcall(ctx: CallContext[Platform], key: object) -> Note | None:
    """A journal entry for one command, when the batch itself has one."""
    parent = ctx.extra.get("journal")
    if not isinstance(parent, Note):
        return None
    sub = Note(kind="subcall", method=str(key), caller=parent.caller, user_id=parent.user_id)
    parent.subcalls.append(sub)
    return sub


async def run(ctx: CallContext[Platform], p: BatchParams) -> dict[str, Any]:
    services = ctx.services
    state = _State()
    halt = p.halt
    for index, (key, command) in enumerate(p.cmd):
        if index >= MAX_COMMANDS:
            state.sections["error"][key] = errors.batch_length_exceeded().body()
            if halt:
                break
            continue
        if not isinstance(command, str | LargeValue):
            continue  # skipped silently, but it counts toward the 50
        sub = _subcall(ctx, key)
        started = time.perf_counter()
        try:
            outcome = await _run_one(ctx, state, command, sub)
        except ApiError as exc:
            state.sections["error"][key] = exc.body()
            _finished(sub, started, error=exc)
            if halt:
                break
            continue
        except Exception as exc:
            error = failure(exc, ctx.request_id, f"batch command {masking.shown(repr(key), 200)}")
            state.sections["error"][key] = error.body()
            _finished(sub, started, error=error)
            if halt:
                break
            continue
        _finished(sub, started, result=outcome.result)
        result = outcome.result
        if isinstance(result, ListResult):
            if result.total is not None:
                state.sections["total"][key] = result.total
            if result.next is not None:
                state.sections["next"][key] = result.next
            result = result.items
        state.sections["result"][key] = result
        state.sections["time"][key] = outcome.time_block(services)
    s = state.sections
    return {
        "result": _php_array(s["result"]),
        "result_error": _php_array(s["error"]),
        "result_total": _php_array(s["total"]),
        "result_next": _php_array(s["next"]),
        "result_time": _php_array(s["time"]),
    }


def _finished(
    sub: Note | None, started: float, *, result: Any = None, error: ApiError | None = None
) -> None:
    if sub is None:
        return
    sub.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    if error is not None:
        sub.failed(error)
    else:
        sub.status, sub.result = 200, sanitize(result)


async def _run_one(
    ctx: CallContext[Platform], state: _State, command: str | LargeValue, sub: Note | None
) -> pipeline.Outcome:
    spilled: list[Body] = []
    try:
        spec, params = await _parsed(ctx.services.registry, ctx.services.input_limits,
                                     ctx.settings.data_dir, state, command, spilled)  # fmt: skip
        if sub is not None:
            sub.method, sub.params = spec.name, sanitize(params)
        # a fault meets one command as it meets a call of its own: errors and delays
        decision = await ctx.services.faults.decide(
            "method", spec.name, faults.who(ctx.caller), params
        )
        if decision is not None and decision.effect in faults.IN_BATCH:
            if sub is not None:
                sub.fault = decision.label
            await faults.before(decision)
        return await pipeline.call(
            ctx.services,
            ctx.caller,
            spec,
            params,
            base_url=ctx.base_url,
            in_batch=True,
            insufficient_scope_text="",
            request_id=ctx.request_id,
        )
    finally:
        for body in spilled:
            body.close()


async def _parsed(
    registry: Registry,
    limits: InputLimits,
    data_dir: str,
    state: _State,
    command: str | LargeValue,
    spilled: list[Body],
) -> tuple[MethodSpec, dict[str, Any]]:
    """One command's method and params, its references resolved (a spooled body it needed
    is added to ``spilled``, for the caller to close)."""
    if isinstance(command, LargeValue):
        # a recording inside the command: its query goes to disk, never into memory
        path, body = await asyncio.to_thread(_spill, command, data_dir)
        spilled.append(body)
    else:
        path, _, query = command.partition("?")
    name = unquote(path).strip().strip("/").removesuffix(".json")
    # file links and batch itself are not sub-calls (docs/reference/protocol.md, "batch")
    if registry.find_endpoint(name) is not None:
        raise errors.batch_method_not_allowed()
    spec = registry.find(name)
    if spec is None:
        raise errors.method_not_found()
    if not spec.batch:
        raise errors.batch_method_not_allowed()
    if isinstance(command, LargeValue):
        params = await decode_body(RawBody("form", spilled[-1]), spec.lazy, limits)
    else:
        params = await parse_query(query, limits)
    check_values(params, spec.lazy)
    params = state.resolve(params)
    for key in AUTH_PARAMS:  # sub-calls run under the outer call's auth
        params.pop(key, None)
    return spec, params


@contextlib.asynccontextmanager
async def ran_elsewhere(
    registry: Registry, limits: InputLimits, data_dir: str, cmd: object, answer: dict[str, Any]
) -> AsyncIterator[list[tuple[str, str, dict[str, Any]]]]:
    """The commands of a batch another server ran (the portal behind a bridge), as it ran
    them: each command's key, method and params, references resolved against that server's
    ``answer`` (its ``result``, ``result_error``…). Commands this server cannot read are
    left out; spooled ones are closed on exit."""
    state = _State()
    for section in state.sections:
        found = answer.get("result" if section == "result" else f"result_{section}")
        items = enumerate(found) if isinstance(found, list) else (found or {}).items()
        state.sections[section] = {str(k): v for k, v in items}
    spilled: list[Body] = []
    read: list[tuple[str, str, dict[str, Any]]] = []
    try:
        for key, command in _commands(cmd)[:MAX_COMMANDS]:
            if isinstance(command, str | LargeValue):
                with contextlib.suppress(ApiError):
                    spec, params = await _parsed(registry, limits, data_dir, state, command,
                                                 spilled)  # fmt: skip
                    read.append((str(key), spec.name, params))
        yield read
    finally:
        for body in spilled:
            body.close()


def _spill(command: LargeValue, data_dir: str) -> tuple[str, Body]:
    """Split a large command into its method and a spooled body holding its query."""
    body = Body(str(spool_dir(data_dir)))
    head = bytearray()
    path: str | None = None
    try:
        for chunk in command.iter_bytes():
            if path is not None:
                body.write(chunk)
                continue
            head += chunk
            mark = head.find(b"?")
            if mark == -1:
                if len(head) > MAX_METHOD:
                    raise errors.method_not_found()
                continue
            path = head[:mark].decode("utf-8", "replace")
            body.write(bytes(head[mark + 1 :]))
    except BaseException:
        body.close()
        raise
    return (path if path is not None else head.decode("utf-8", "replace")), body


def register(registry: Registry) -> None:
    # a command longer than the lazy threshold stays on disk (a recording inside it)
    lazy = frozenset({("cmd", ANY_KEY)})
    registry.method("batch", scope="basic", params=BatchParams, batch=False, lazy=lazy)(run)
