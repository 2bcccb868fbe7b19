"""Logging: structured lines (text or JSON) with secrets taken out.

Secrets never reach a log line: webhook codes in `/rest/<user>/<code>/…` paths, `auth=`,
`access_token=`, upload and download `token=` values, OAuth codes and client secrets, and
passwords in URLs. The code that logs passes redacted paths and URLs (``redact``), and the
formatter redacts every finished line once more, so a library's message cannot leak one
either.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

# names whose values are secrets wherever they appear as `name=value`
SECRET_NAMES = (
    "auth",
    "access_token",
    "refresh_token",
    "client_secret",
    "application_token",
    "token",
    "code",
    "password",
    "ap",
)
_WEBHOOK_PATH = re.compile(r"(/rest/[^/\s?#\"']+/)(?!\*\*\*/)([^/\s?#\"']+)(/)")
_SECRET_PAIR = re.compile(
    r"((?:^|[?&\s\"'(,;])(?:" + "|".join(SECRET_NAMES) + r")=)(?!\*\*\*)([^&\s\"',;)]+)",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(\w+://)[^/\s@:]*:[^/\s@]*@")
MASK = "***"

# libraries that log request URLs or SQL with parameters at INFO
_QUIET = ("sqlalchemy", "httpx", "httpcore", "aiosqlite", "asyncio", "multipart", "alembic")

# attributes of a LogRecord that are not extras
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
}


def redact(text: str) -> str:
    """``text`` with every secret it may carry replaced by ``***``."""
    if not text:
        return text
    text = _WEBHOOK_PATH.sub(rf"\1{MASK}\3", text)
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
