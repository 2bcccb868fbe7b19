"""Inputs for the fuzz suite and ``bench/fuzz.py``: every registered method, with parameter
names it reads and values chosen to break things — wrong types, huge and non-finite numbers,
NUL and lone surrogates, dates at the ends of the calendar, hostile URLs and filter
operators — in every encoding clients use."""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from b24tel.app import build_registry
from b24tel.crm.activity_fields import FIELDS as ACTIVITY_FIELDS
from b24tel.crm.fields import ENTITIES
from b24tel.telephony.statistics import FIELDS as STAT_FIELDS
from b24tel.users.search import USER_FIELDS
from b24tel.wire import phpquery

REGISTRY = build_registry()
METHODS = [m.name for m in REGISTRY.all()]
ENCODINGS = ("json", "form", "query", "multipart", "batch")

FIELD_NAMES = sorted(
    {f.wire for e in ENTITIES.values() for f in e.fields}
    | {f.wire for f in ACTIVITY_FIELDS}
    | set(STAT_FIELDS)
    | set(USER_FIELDS)
    | {"PHONE", "EMAIL", "COMMUNICATIONS", "BINDINGS", "CALL_TYPE", "UF_PHONE_INNER"}
)
OPERATORS = ("", "=", "!", "!=", ">", ">=", "<", "<=", "><", "!><", "@", "!@", "%", "!%", "=%",
             "%=", "!=%", "?")  # fmt: skip
GENERIC_KEYS = ("ID", "id", "FIELDS", "fields", "filter", "FILTER", "order", "ORDER", "select",
                "SORT", "start", "params", "auth", "cmd", "halt", "MESSAGES", "VALUE", "TYPE",
                "USER_ID", "CALL_ID", "0", "a.b", "x[", "")  # fmt: skip

NASTY_STRINGS = (
    "", " ", "0", "-1", "1", "Y", "N", "true", "false", "null", "nan", "NaN", "inf", "-inf",
    "1e400", "1e308", "1.5", "99999999999999999999", "-9223372036854775809", "2147483648",
    "0x1f", "１２３", "²", "--5", "now", "2026-03-10T11:19:38+03:00", "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00", "2026-02-30", "+7 (916) 000-12-34", "+", "#*,;", "\x00",
    "a\x00b", "\ud800", "\udfff\ud800", "é", "имя", "<script>", "%", "%" * 50_000, "_%_",
    "x" * 300, "x" * 70_000, "$result[a][--5]", "$result[²]", "$result[a][0][ID]",
    "http://0177.0.0.1/x.wav", "http://a\tb.com/x.wav", "http://[::1/x", "http://127.0.0.1:1/x.wav",
    "http://[2002:7f00:1::]/x.wav", "http://[64:ff9b::7f00:1]/x.wav", "ftp://x/y.mp3",
    "http://127.0.0.1:0/x.wav", "http://" + "a" * 70 + ".example/x.wav", "//x", "UklGRg==",
    "not base64!", "a.wav", "a.mp3", "a.WAV", "../../etc/passwd", "CONTACT", "LEAD", "COMPANY",
    "DEAL", "PHONE", "EMAIL", "Client", "User", "ASC", "DESC", "telephony", "*",
    # every digit that is not ASCII, leading zeros, numbers past any integer type
    "٣", "٠٣", "３", "①", "1²", "০১", "0003", "9" * 400, "9" * 5000, "-" + "9" * 5000,
    "1" + "0" * 320 + ".5", "1e99999",
)  # fmt: skip
NASTY_NUMBERS = (0, 1, -1, 2, 3, 4, 5, 6, 2**31, 2**31 - 1, 2**63 - 1, 2**63, -(2**63) - 1,
                 2**64, 10**30, -(10**30), 10**400, -(10**400), 1.5, -0.0, 1e308,
                 float("inf"), float("-inf"), float("nan"))  # fmt: skip


@dataclass(frozen=True)
class World:
    """Identifiers that exist on the server under test, so inputs reach past the lookups."""

    call_ids: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()
    contact: int = 1
    activity: int = 1
    file: int = 1
    # an application's access token (administrator): the event methods refuse webhooks
    token: str = ""


def needs_app(method: str) -> bool:
    """Methods that work only in an application's context."""
    return method.startswith("event.")


# The strategies below are built once per argument and kept: `mutated` asks for them on
# every draw, and a new strategy object is validated and set up again each time (15 % of
# the fuzz suite's time went there). Caching changes no example drawn.
@functools.cache
def scalars(world: World) -> st.SearchStrategy[Any]:
    nasty_strings = st.sampled_from(NASTY_STRINGS)
    nasty_numbers = st.sampled_from(NASTY_NUMBERS)
    return st.one_of(
        nasty_strings,
        nasty_strings,
        nasty_strings,
        nasty_numbers,
        nasty_numbers,
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.text(max_size=20),
        st.sampled_from(world.call_ids or ("externalCall.x.1",)),
        st.sampled_from(world.ids or (1,)),
    )


def keys(names: Sequence[str]) -> st.SearchStrategy[str]:
    return _keys(tuple(names))


@functools.lru_cache(maxsize=4096)
def _keys(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(names or ("ID",)),
        st.sampled_from(GENERIC_KEYS),
        st.builds(
            lambda op, name: op + name, st.sampled_from(OPERATORS), st.sampled_from(FIELD_NAMES)
        ),
        st.text(max_size=8),
    )


@functools.cache
def values(world: World) -> st.SearchStrategy[Any]:
    inner_keys = st.one_of(keys(list(FIELD_NAMES)), st.sampled_from(("VALUE", "VALUE_TYPE",
                           "SIDE", "START_TIME", "STOP_TIME", "MESSAGE", "OWNER_TYPE_ID",
                           "OWNER_ID", "ENTITY_ID", "ENTITY_TYPE_ID")))  # fmt: skip
    return st.recursive(
        scalars(world),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(inner_keys, children, max_size=4),
        ),
        max_leaves=12,
    )


def params(method: str, world: World) -> st.SearchStrategy[dict[str, Any]]:
    spec = REGISTRY.find(method)
    assert spec is not None
    names = [f.alias or n for n, f in spec.params.model_fields.items() if n != "top_filter"]
    own = st.fixed_dictionaries({}, optional={n: values(world) for n in names})
    extra = st.dictionaries(keys(names), values(world), max_size=3)
    return st.builds(lambda a, b: {**b, **a}, own, extra)


# --- valid requests, then broken a little ----------------------------------------------------
# Sentinels the driver replaces before sending: a fresh open call, a fresh finished call, and
# ids that exist.
OPEN_CALL, FINISHED_CALL = "{open_call}", "{finished_call}"
CONTACT, ACTIVITY, FILE = "{contact}", "{activity}", "{file}"
WAV_BASE64 = base64.b64encode(
    (Path(__file__).parents[1] / "fixtures" / "audio" / "silence-1s.wav").read_bytes()
).decode()

_PHONE = [{"VALUE": "+7 916 000-12-34", "VALUE_TYPE": "WORK"}]
_ENTITY_FIELDS = {
    "NAME": "Anna", "LAST_NAME": "Berg", "TITLE": "Deal", "PHONE": _PHONE,
    "EMAIL": [{"VALUE": "a@example.com", "VALUE_TYPE": "WORK"}], "ASSIGNED_BY_ID": 1,
    "OPPORTUNITY": "100.50", "COMPANY_ID": 1, "CONTACT_ID": CONTACT, "STATUS_ID": "NEW",
    "STAGE_ID": "NEW", "DATE_CREATE": "2026-03-10T11:19:38+03:00", "OPENED": "Y",
}  # fmt: skip
_LIST = {"filter": {"%NAME": "an", "PHONE": "+79160001234", ">ID": 0, "@ID": [1, 2]},
         "order": {"ID": "DESC"}, "select": ["*", "PHONE", "EMAIL"], "start": 0}  # fmt: skip
_ACTIVITY_FIELDS = {
    "TYPE_ID": 2, "SUBJECT": "Call", "OWNER_TYPE_ID": 3, "OWNER_ID": CONTACT,
    "COMMUNICATIONS": [{"VALUE": "+79160001234", "ENTITY_ID": CONTACT, "ENTITY_TYPE_ID": 3}],
    "START_TIME": "2026-03-10T11:00:00", "END_TIME": "2026-03-10T11:05:00",
    "RESPONSIBLE_ID": 1, "COMPLETED": "Y", "DIRECTION": 1, "SETTINGS": {"X": 1},
}  # fmt: skip
TEMPLATES: dict[str, dict[str, Any]] = {
    "telephony.externalCall.register": {
        "USER_ID": 1, "USER_PHONE_INNER": "101", "PHONE_NUMBER": "+79160001234", "TYPE": 2,
        "CALL_START_DATE": "2026-03-10T11:19:38+03:00", "CRM_CREATE": 1, "CRM_SOURCE": "CALL",
        "SHOW": 0, "LINE_NUMBER": "74951234567", "EXTERNAL_CALL_ID": "pbx-1",
        "CRM_ENTITY_TYPE": "CONTACT", "CRM_ENTITY_ID": CONTACT,
    },
    "telephony.externalCall.finish": {
        "CALL_ID": OPEN_CALL, "USER_ID": 1, "DURATION": 65, "STATUS_CODE": "200",
        "COST": "1.25", "COST_CURRENCY": "RUB", "FAILED_REASON": "", "VOTE": 5,
        "RECORD_URL": "http://127.0.0.1:1/x.wav", "ADD_TO_CHAT": 0,
    },
    "telephony.externalCall.show": {"CALL_ID": OPEN_CALL, "USER_ID": [1, 2]},
    "telephony.externalCall.hide": {"CALL_ID": OPEN_CALL, "USER_ID": 1},
    "telephony.externalCall.attachRecord": {
        "CALL_ID": FINISHED_CALL, "FILENAME": "rec.wav", "FILE_CONTENT": WAV_BASE64,
    },
    "telephony.externalCall.attachRecord#url": {
        "CALL_ID": FINISHED_CALL, "RECORD_URL": "http://127.0.0.1:1/x.wav", "FILENAME": "a.mp3",
    },
    "telephony.externalCall.searchCrmEntities": {"PHONE_NUMBER": "+79160001234"},
    "telephony.call.attachTranscription": {
        "CALL_ID": FINISHED_CALL, "COST": 1, "COST_CURRENCY": "USD",
        "MESSAGES": [{"SIDE": "User", "START_TIME": 0, "STOP_TIME": 2, "MESSAGE": "Hello"},
                     {"SIDE": "Client", "START_TIME": 2, "STOP_TIME": 5, "MESSAGE": "Hi"}],
    },
    "telephony.externalLine.add": {"NUMBER": "74951234567", "NAME": "Main", "CRM_AUTO_CREATE": "Y"},
    "telephony.externalLine.update": {"NUMBER": "74951234567", "CRM_AUTO_CREATE": "N"},
    "telephony.externalLine.delete": {"NUMBER": "74951234567"},
    "voximplant.statistic.get": {
        "FILTER": {">CALL_DURATION": 1, "PHONE_NUMBER": "79160001234", "CALL_TYPE": 2,
                   ">=CALL_START_DATE": "2026-01-01T00:00:00+03:00"},
        "SORT": "CALL_START_DATE", "ORDER": "DESC", "start": 0,
    },
    "user.get": {"FILTER": {"UF_PHONE_INNER": "101", ">ID": 0}, "SORT": "ID", "ORDER": "DESC",
                 "select": ["ID", "NAME", "UF_PHONE_INNER"]},
    "user.add": {"EMAIL": "nina@example.com", "NAME": "Nina", "LAST_NAME": "Orlova",
                 "UF_PHONE_INNER": "120", "ACTIVE": "Y", "PERSONAL_GENDER": "F",
                 "UF_DEPARTMENT": [1]},
    "user.update": {"ID": 2, "NAME": "Bob", "UF_PHONE_INNER": "102", "ACTIVE": "Y",
                    "EMAIL": "bob@example.com", "WORK_POSITION": "Sales"},
    "crm.duplicate.findbycomm": {"type": "PHONE", "values": ["+79160001234"],
                                 "entity_type": "CONTACT"},
    "crm.status.list": {"filter": {"ENTITY_ID": "STATUS"}, "order": {"SORT": "ASC"}},
    "crm.status.entity.items": {"entityId": "STATUS"},
    "crm.activity.add": {"fields": _ACTIVITY_FIELDS},
    "crm.activity.update": {"id": ACTIVITY, "fields": {"SUBJECT": "New", "COMPLETED": "N"}},
    "crm.activity.get": {"id": ACTIVITY},
    "crm.activity.delete": {"id": ACTIVITY},
    "crm.activity.list": {"filter": {"OWNER_TYPE_ID": 3, "BINDINGS": [{"OWNER_TYPE_ID": 3}]},
                          "order": {"START_TIME": "ASC"}, "select": ["*", "COMMUNICATIONS"]},
    "crm.activity.binding.add": {"activityId": ACTIVITY, "entityTypeId": 3, "entityId": CONTACT},
    "crm.activity.binding.delete": {"activityId": ACTIVITY, "entityTypeId": 3,
                                    "entityId": CONTACT},
    "crm.activity.binding.list": {"activityId": ACTIVITY},
    "crm.activity.binding.move": {"activityId": ACTIVITY, "sourceEntityTypeId": 3,
                                  "sourceEntityId": CONTACT, "targetEntityTypeId": 3,
                                  "targetEntityId": 1},
    "disk.file.get": {"id": FILE},
    "event.bind": {"event": "ONCRMLEADADD", "handler": "http://127.0.0.1:1/h", "auth_type": 1,
                   "event_type": "online", "options": {"minTimeout": 1}},
    "event.bind#offline": {"event": "ONCRMCONTACTADD", "event_type": "offline",
                           "auth_connector": "pbx"},
    "event.unbind": {"event": "ONCRMCONTACTADD", "event_type": "offline", "auth_type": 0},
    "events": {"SCOPE": "crm", "FULL": True},
    "event.offline.get": {"filter": {">ID": 0, "EVENT_NAME": "ONCRMCONTACTADD"},
                          "order": {"ID": "DESC"}, "limit": 10, "clear": 0, "process_id": "p",
                          "auth_connector": "pbx", "error": 0},
    "event.offline.clear": {"process_id": "p", "id": [1, 2], "message_id": ["m"]},
    "event.offline.error": {"process_id": "p", "message_id": ["m"]},
    "event.offline.list": {"filter": {"ERROR": 0, "PROCESS_ID": "p"}, "order": {"ID": "ASC"},
                           "start": 0},
    "method.get": {"name": "telephony.externalCall.register"},
    "methods": {"full": "true", "scope": "telephony"},
    "scope": {"full": "Y"},
    "feature.get": {"CODE": "rest_offline_extension"},
    "batch": {"halt": 0, "cmd": {
        "u": "user.get?FILTER[UF_PHONE_INNER]=101",
        "r": "telephony.externalCall.register?USER_PHONE_INNER=$result[u][0][UF_PHONE_INNER]"
             "&PHONE_NUMBER=%2B79160001234&TYPE=2",
        "f": "telephony.externalCall.finish?CALL_ID=$result[r][CALL_ID]&USER_ID=1&DURATION=3",
        "c": "crm.contact.list?filter[PHONE]=79160001234&select[]=ID",
    }},
}  # fmt: skip
for _entity in ("contact", "company", "lead", "deal"):
    TEMPLATES[f"crm.{_entity}.add"] = {"fields": _ENTITY_FIELDS, "params": {"IMPORT": "N"}}
    TEMPLATES[f"crm.{_entity}.update"] = {"id": CONTACT if _entity == "contact" else 1,
                                          "fields": _ENTITY_FIELDS}  # fmt: skip
    TEMPLATES[f"crm.{_entity}.get"] = {"id": CONTACT if _entity == "contact" else 1}
    TEMPLATES[f"crm.{_entity}.delete"] = {"id": 1}
    TEMPLATES[f"crm.{_entity}.list"] = _LIST


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a params tree: the places a mutation can hit."""
    out: list[tuple[Any, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in pairs:
            out.append((item, key))
            if isinstance(value, dict | list) and value:
                stack.append(value)
    return out


@st.composite
def mutated(draw: st.DrawFn, method: str, world: World) -> dict[str, Any]:
    """The method's valid request with up to three things broken: a value replaced, a key
    removed, or a key added."""
    variants = [t for name, t in TEMPLATES.items() if name.split("#")[0] == method] or [{}]
    params = copy.deepcopy(draw(st.sampled_from(variants)))
    for _ in range(draw(st.integers(0, 3))):
        slots = _slots(params)
        action = draw(st.sampled_from(("replace", "replace", "delete", "add")))
        if not slots or action == "add":
            target = draw(st.sampled_from([params] + [c for c, _ in slots if isinstance(c, dict)]))
            target[draw(keys(list(params)))] = draw(values(world))
            continue
        container, key = draw(st.sampled_from(slots))
        if action == "delete" and isinstance(container, dict):
            del container[key]
        else:
            container[key] = draw(values(world))
    return params


def method_params(method: str, world: World) -> st.SearchStrategy[dict[str, Any]]:
    if method in TEMPLATES:
        return st.one_of(mutated(method, world), mutated(method, world), params(method, world))
    return params(method, world)


@dataclass(frozen=True)
class Request:
    method: str  # HTTP verb
    path: str  # after the webhook prefix
    query: str
    headers: dict[str, str]
    body: bytes


def _form(params: dict[str, Any]) -> str:
    pairs = [(k, v) for k, v in phpquery.encode(params) if k]
    return "&".join(
        f"{quote(k, safe='[]', errors='surrogatepass')}={quote(v, safe='', errors='surrogatepass')}"
        for k, v in pairs
    )


def _surrogate_safe(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _multipart(params: dict[str, Any], file_part: bool) -> tuple[bytes, str]:
    boundary = "fuzzBoundary7MA4YWxk"
    parts = []
    for i, (name, value) in enumerate(phpquery.encode(params)):
        disposition = f'form-data; name="{name}"'
        if file_part and i == 0:
            disposition += '; filename="x.bin"'
        parts.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
            + _surrogate_safe(value)
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def encode(method: str, params: dict[str, Any], encoding: str, file_part: bool) -> Request:
    """``params`` sent the way ``encoding`` says (``batch``: as one sub-command)."""
    if encoding == "json":
        body = json.dumps(params, ensure_ascii=True).encode()  # lone surrogates as \\ud800
        return Request("POST", method, "", {"content-type": "application/json"}, body)
    if encoding == "form":
        body = _surrogate_safe(_form(params))
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return Request("POST", method, "", headers, body)
    if encoding == "query":
        return Request("GET", method, _form(params)[:60_000], {}, b"")  # httpx: URLs < 64 KiB
    if encoding == "multipart":
        body, ctype = _multipart(params, file_part)
        return Request("POST", method, "", {"content-type": ctype}, body)
    command = method + "?" + _form(params)[:200_000]
    body = urlencode({"cmd[fuzz]": command, "halt": "0"}).encode()
    return Request("POST", "batch", "", {"content-type": "application/x-www-form-urlencoded"}, body)


@dataclass(frozen=True)
class Case:
    method: str
    params: dict[str, Any]
    encoding: str
    file_part: bool


def cases(method: str, world: World) -> st.SearchStrategy[Case]:
    return st.builds(
        Case,
        st.just(method),
        method_params(method, world),
        st.sampled_from(ENCODINGS),
        st.integers(0, 9).map(lambda n: n == 0),  # a file part now and then
    )


Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


async def resolve(params: Any, call: Call, world: World) -> Any:
    """Replace the sentinels with real identifiers (registering and finishing calls as
    needed), so a mutated request reaches the code behind the lookups."""
    if isinstance(params, dict):
        return {k: await resolve(v, call, world) for k, v in params.items()}
    if isinstance(params, list):
        return [await resolve(v, call, world) for v in params]
    if params in (OPEN_CALL, FINISHED_CALL):
        registered = await call(
            "telephony.externalCall.register",
            {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2, "SHOW": 0},
        )
        call_id = registered["CALL_ID"]
        if params == FINISHED_CALL:
            await call("telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1})
        return call_id
    if params == CONTACT:
        return world.contact
    if params == ACTIVITY:
        return world.activity
    if params == FILE:
        return world.file
    return params


def problems(status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with an answer: a 5xx, a body that is not the JSON envelope, or a batch
    whose sub-command failed inside the server."""
    found = []
    if status >= 500:
        found.append(f"HTTP {status}: {body[:300]!r}")
    if content_type != "application/json; charset=utf-8":
        found.append(f"content type {content_type!r}")
        return found
    try:
        doc = json.loads(body)
    except ValueError:
        return [*found, f"not JSON: {body[:200]!r}"]
    if not isinstance(doc, dict) or (("result" in doc) == ("error" in doc)):
        found.append(f"not result xor error: {body[:300]!r}")
        return found
    inner = doc.get("result")
    if isinstance(inner, dict) and "result_error" in inner:
        errors = inner["result_error"]
        for item in errors.values() if isinstance(errors, dict) else errors:
            if isinstance(item, dict) and "request_id" in item:
                found.append(f"batch sub-command failed inside: {item}")
    return found


# --- hostile shapes: what an attacker sends rather than a connector ----------------------


@dataclass(frozen=True)
class Raw:
    """A request sent as it is, path and query unencoded by any client library."""

    name: str
    method: str
    target: str  # {hook} stands for the webhook prefix
    headers: dict[str, str]
    body: bytes


def _json_number(digits: int, sign: str = "") -> bytes:
    return b'{"USER_ID":' + sign.encode() + b"9" * digits + b',"PHONE_NUMBER":"1","TYPE":2}'


_MISMATCHED = (
    b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc\r\n'
    b"--XYZ--\r\n"
)
# bodies of every kind, sent without any credentials
_BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data",
               "multipart/form-data; boundary=ABC", "text/plain", "application/octet-stream",
               "audio/wav", "application/xml", "", "application/x-www-form-urlencoded; a=b",
               "application/json; charset=latin-1", "*/*", "\u00e9/\u00e9")  # fmt: skip


def hostile() -> list[Raw]:
    """Long URLs, numbers in every spelling and size, multipart that lies about itself,
    bodies of every type without credentials."""
    out = [
        Raw(f"url {n // 1024} KiB", "GET", f"/rest/server.time?x={'Z' * n}", {}, b"")
        for n in (16 * 1024, 32 * 1024, 64 * 1024, 256 * 1024, 500 * 1024)
    ]
    out += [
        Raw(f"url {n // 1024} KiB of pairs", "GET", "/rest/server.time?" + "a[]=1&" * (n // 6),
            {}, b"")
        for n in (16 * 1024, 256 * 1024)
    ]  # fmt: skip
    out.append(Raw("authenticated url 256 KiB", "GET", "{hook}user.get?x=" + "Z" * 262_144, {},
                   b""))  # fmt: skip
    for digits in ("٣", "３", "²", "①", "1²", "0" * 30 + "1", "9" * 5000):
        for path in ("user.get?ID=", "crm.contact.get?id=", "disk.file.get?id=",
                     "voximplant.statistic.get?start="):  # fmt: skip
            out.append(Raw(f"{path}{digits[:8]}", "GET", "{hook}" + path + quote(digits), {}, b""))
    json_type = {"content-type": "application/json"}
    for digits, sign in ((309, ""), (400, "-"), (4300, ""), (5000, ""), (20_000, "-")):
        out.append(Raw(f"json {digits} digits", "POST",
                       "{hook}telephony.externalCall.register", json_type,
                       _json_number(digits, sign)))  # fmt: skip
    out.append(Raw("json 1e99999", "POST", "{hook}user.get", json_type, b'{"ID":1e99999}'))
    for path in ("{hook}telephony.externalCall.attachRecord", "/rest/upload.json?token=a.b",
                 "{hook}upload/?token=a.b", "/rest/server.time"):  # fmt: skip
        headers = {"content-type": "multipart/form-data; boundary=ABC"}
        out.append(Raw(f"mismatched multipart {path}", "POST", path, headers, _MISMATCHED))
    many = b'--B\r\nContent-Disposition: form-data; name="a[]"\r\n\r\n1\r\n' * 20_000
    headers = {"content-type": "multipart/form-data; boundary=B"}
    out.append(Raw("20 000-part multipart", "POST", "/rest/server.time", headers,
                   many + b"--B--\r\n"))  # fmt: skip
    for ctype in _BODY_TYPES:
        headers = {"content-type": ctype} if ctype else {}
        out.append(Raw(f"unauthenticated {ctype or 'no type'}", "POST", "/rest/server.time",
                       headers, b"\x00\xff a=1&auth" * 200))  # fmt: skip
    for link in ("a.%C3%A9", "%C3%A9.%C3%A9", "a." + "%FF" * 10, "." * 5000):
        out.append(Raw(f"download token {link[:10]}", "GET", f"/rest/download.json?token={link}",
                       {}, b""))  # fmt: skip
    out.append(Raw("range of 5000 digits", "GET", "/rest/download.json?token=x",
                   {"range": "bytes=" + "9" * 5000 + "-"}, b""))  # fmt: skip
    return out
