"""Logging: structured lines (text or JSON) with secrets taken out.

What the server logs of a request is masked on decoded data before it is logged
(``b24tel.masking``: URLs by parameter name and path segment, cut to a few KiB). As a last
line of defence the formatter passes every finished line through ``redact``, so that a
library's message cannot leak a webhook code, a ``name=value`` secret or a password in a URL
either. Its patterns are linear-time on any input (possessive or bounded quantifiers only,
no nested repetition over unbounded runs): they run on the event loop for every line, and
tests/unit/test_masking.py feeds each of them a megabyte of every character class.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from b24tel import masking

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

# names whose values are secrets wherever they appear as `name=value`
SECRET_NAMES = tuple(sorted(masking.SECRET_NAMES, key=len, reverse=True))
# `/rest/<user>/<code>`: the segment after the user (any case, doubled slashes)
_WEBHOOK_PATH = re.compile(
    r"(/rest/++[^/\s?#\"']{1,64}/++)(?!\*\*\*)([^/\s?#\"']++)", re.IGNORECASE
)
_SECRET_PAIR = re.compile(
    r"((?:^|[?&\s\"'(,;])(?:" + "|".join(SECRET_NAMES) + r")=)(?!\*\*\*)([^&\s\"',;)]++)",
    re.IGNORECASE,
)
# user information of a URL; a scheme starts where no scheme character precedes it, so a
# long run of letters is looked at once, not from each of its positions
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,31}://)[^/\s@]{0,4096}@")
PATTERNS = (_WEBHOOK_PATH, _SECRET_PAIR, _USERINFO)
MASK = masking.MASK

# libraries that log request URLs or SQL with parameters at INFO
_QUIET = ("sqlalchemy", "httpx", "httpcore", "aiosqlite", "asyncio", "multipart", "alembic")

# attributes of a LogRecord that are not extras
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
}


# a finished line longer than this is cut (with its length) before the last redaction
MAX_LINE = 64 * 1024


def redact(text: str) -> str:
    """``text`` with every secret it may carry replaced by ``***``."""
    if not text:
        return text
    text = masking.shown(text, MAX_LINE)
    text = _WEBHOOK_PATH.sub(rf"\1{MASK}", text)
    text = _SECRET_PAIR.sub(rf"\1{MASK}", text)
    return _USERINFO.sub(rf"\1{MASK}@", text)


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extras(record)
        if fields:
            line += " " + " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **extras(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def configure(level: str = "info", fmt: str = "text") -> None:
    """One handler on the root logger, on stderr; the server's own and uvicorn's lines go
    through it."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # b24tel.access writes the access log, without secrets; uvicorn's own stays silent
    # (a worker process of `serve --workers` configures logging after uvicorn has)
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
