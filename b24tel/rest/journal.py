"""What the protocol layer tells the request journal (docs/integrators.md): one ``Note``
per HTTP request, filled as the request is handled, handed to the journal by the Guard
when the answer has gone out. Values are copied with secrets masked and large values cut
to their size and sha256, before the spooled body they point into is closed."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from b24tel import masking
from b24tel.errors import ApiError
from b24tel.paging import ListResult
from b24tel.rest.spool import Fingerprint, LargeValue, UploadedFile

MASK = masking.MASK
# longer strings are kept as their size and sha256 (FILE_CONTENT, a recording in a URL)
MAX_TEXT = 4096
MAX_ITEMS = 500


def elided(size: int, digest: str) -> dict[str, Any]:
    return {"elided": True, "size": size, "sha256": digest}


def _fingerprint(value: LargeValue | UploadedFile) -> Fingerprint:
    """Read the value through once (the method did not, or not to its end)."""
    value.fingerprinting = True
    for _chunk in value.iter_bytes():
        pass
    assert value.fingerprint is not None
    return value.fingerprint


def sanitize(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy for the journal (a list method's page: its rows)."""
    if isinstance(value, ListResult):
        value = value.items
    if isinstance(value, LargeValue | UploadedFile):
        seen = value.fingerprint or _fingerprint(value)  # taken when the method read it
        out = elided(seen.size, seen.sha256)
        if isinstance(value, UploadedFile):
            out["filename"] = value.filename
        return out
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            data = value.encode("utf-8", "surrogatepass")
            return elided(len(data), hashlib.sha256(data).hexdigest())
        # a URL or query in a value may carry credentials (attachRecord's uploadUrl does; a
        # batch command may name a token)
        return masking.mask_text(value) if masking.may_carry(value) else value
    if isinstance(value, dict):
        if depth > 20:
            return "…"
        return {
            str(k): (MASK if masking.is_secret_name(str(k)) else sanitize(v, depth + 1))
            for k, v in list(value.items())[:MAX_ITEMS]
        }
    if isinstance(value, list | tuple):
        if depth > 20:
            return "…"
        return [sanitize(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)


def encoding_of(content_type: str, method: str, has_body: bool) -> str:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not has_body:
        return "query"
    if ctype.endswith("json"):
        return "json"
    if ctype == "multipart/form-data":
        return "multipart"
    if ctype == "application/x-www-form-urlencoded":
        return "form"
    return "other" if ctype else "query"


@dataclass
class Note:
    """One journal entry in the making. ``kind``: method, batch, subcall, upload,
    download, token, event."""

    kind: str = "method"
    method: str = ""
    caller: str = ""
    user_id: int | None = None
    encoding: str = ""
    params: Any = None
    result: Any = None
    error: str | None = None
    error_description: str | None = None
    status: int = 0
    fault: str | None = None
    duration_ms: float = 0.0
    subcalls: list[Note] = field(default_factory=list)

    def failed(self, exc: ApiError) -> None:
        self.error, self.error_description = exc.code, exc.description
        self.status = exc.status


@dataclass
class Entry:
    """A finished journal entry."""

    at: dt.datetime
    request_id: str
    direction: str  # in (a request to us) | out (an event we delivered)
    kind: str
    method: str
    caller: str
    user_id: int | None
    http_method: str
    url: str
    encoding: str
    params: Any
    status: int
    result: Any
    error: str | None
    error_description: str | None
    duration_ms: float
    bytes_in: int
    bytes_out: int
    client: str
    user_agent: str
    fault: str | None


class JournalSink(Protocol):
    """Where entries go (``b24tel.journal``): taken without waiting, written later."""

    enabled: bool

    def record(self, entry: Entry) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
