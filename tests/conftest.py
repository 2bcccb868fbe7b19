"""Test fixtures: the real app on real databases.

Every test that uses ``app``/``client`` runs on SQLite, and again on PostgreSQL when
``B24TEL_TEST_POSTGRES_URL`` is set (CI sets it). Each backend gets a fresh database,
migrated once per session; tables are emptied before every test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from b24tel import logs
from b24tel.app import create_app
from b24tel.clock import Clock, FakeClock
from b24tel.config import Settings
from b24tel.db import migrate
from b24tel.db.engine import Database, make_migration_engine
from b24tel.httpserver import http_options
from b24tel.identity import ALL_SCOPES, parse_scopes
from b24tel.services import Services
from b24tel.tables import metadata
from b24tel.users import service as users
from b24tel.users import tokens
from tests.ports import free_port

# processes the tests start find the package compiled (tests/bytecode.py)
pytest_plugins = ["tests.bytecode"]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "audio"

WEBHOOK_CODE = "secretcode"
POSTGRES_ENV = "B24TEL_TEST_POSTGRES_URL"

# every secret the tests hand out: none may appear in the log of the whole run
ISSUED_SECRETS: set[str] = {WEBHOOK_CODE}
LOG_FILE: list[Path] = []


class _RawFormatter(logging.Formatter):
    """The message as the code logged it (no redaction: the scan checks the sources), with
    its extra fields and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = logs.extras(record)
        return line + (" " + repr(extra) if extra else "")


@pytest.fixture(scope="session", autouse=True)
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything the server logs during the run, at INFO, into one file."""
    path = tmp_path_factory.getbasetemp() / "server.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_RawFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("sqlalchemy", "httpx", "httpcore", "aiosqlite", "asyncio", "alembic", "moto",
                 "botocore", "urllib3", "werkzeug", "faker", "hypothesis",
                 "fast_bitrix24"):  # fmt: skip
        logging.getLogger(name).setLevel(logging.WARNING)
    LOG_FILE.append(path)
    yield path
    root.removeHandler(handler)
    root.setLevel(previous)
    handler.close()


# what a run may leave in the clone: the tools' own caches
TOOL_CACHES = (".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", ".venv")
TREE_STATE: list[set[str]] = []


def _tree() -> set[str] | None:
    """The clone's changed, new and ignored paths (``git status``), tool caches aside; None
    outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--ignored"], cwd=root, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip
    except OSError:
        return None
    if done.returncode != 0:
        return None
    paths = {line[3:] for line in done.stdout.splitlines()}
    return {p for p in paths if not p.startswith(TOOL_CACHES) and "__pycache__" not in p}


# `-n auto`: two workers per core, at most eight. Most tests wait on something real (a
# server process starting, a socket, a browser, a sleep a test needs), so a core serves two;
# on two cores the SQLite suite took 3 min 56 s with two workers, 3 min 16–24 s with four
# and 3 min 34 s with six (against about 11 minutes in one process).
MAX_WORKERS = 8


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return max(2, min(MAX_WORKERS, 2 * (os.cpu_count() or 1)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that drive chromium are marked ``browser`` (``-m "not browser"``); those that
    start b24tel processes say so themselves (``slow``, checked by tests/unit/test_markers)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def _worker(session: pytest.Session) -> bool:
    """A pytest-xdist worker (the tests run there; the controller only gathers)."""
    return hasattr(session.config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    found = _tree() if not _worker(session) else None
    if found is not None:
        TREE_STATE.append(found)


def _report(session: pytest.Session, title: str, lines: list[str]) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(title, red=True)
        for line in lines[:20]:
            reporter.write_line("  " + line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _leaks() -> list[str]:
    """Lines of this process's server log that hold a secret: an issued one, or anything
    that looks like a webhook code, token or password that was not masked."""
    if not LOG_FILE or not LOG_FILE[0].exists():
        return []
    leaks = []
    for number, line in enumerate(LOG_FILE[0].read_text(encoding="utf-8").splitlines(), 1):
        found = [s for s in ISSUED_SECRETS if s and s in line]
        if found or logs.redact(line) != line:
            leaks.append(f"{LOG_FILE[0]}:{number}: {line[:300]}")
    return leaks


LEAKS_FILE = "secret-leaks.txt"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when it changed the source tree (tests write only to temporary
    directories), or when a server log holds a secret. With pytest-xdist each worker scans
    its own log (it knows the secrets it handed out) and leaves what it found beside it;
    the controller, which decides the run's outcome, reports them all."""
    if _worker(session):
        leaks = _leaks()
        if leaks and LOG_FILE:
            (LOG_FILE[0].parent / LEAKS_FILE).write_text("\n".join(leaks), encoding="utf-8")
        return
    after = _tree()
    if TREE_STATE and after is not None and after != TREE_STATE[0]:
        changed = sorted(after ^ TREE_STATE[0])
        _report(session, f"the run changed the source tree ({len(changed)} paths):", changed)
    leaks = _leaks()
    basetemp = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    for found in sorted(basetemp.glob(f"popen-gw*/{LEAKS_FILE}")):
        leaks += found.read_text(encoding="utf-8").splitlines()
    if leaks:
        _report(session, f"secrets in the server log ({len(leaks)} lines):", leaks)


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


async def _admin(url: str, statement: str) -> None:
    engine = make_migration_engine(url)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "b24tel.db"
        url = f"sqlite+aiosqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    server = make_url(os.environ[POSTGRES_ENV])
    name = f"b24tel_test_{secrets.token_hex(4)}"
    asyncio.run(_admin(server.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    asyncio.run(
        _admin(server.render_as_string(hide_password=False), f'DROP DATABASE "{name}" WITH (FORCE)')
    )


# filled by migrations (reference lists, the caches' versions), not by tests
SEEDED_TABLES = {"crm_statuses", "cache_versions"}


# every table a test may fill, emptied before each test in one script, one call to the
# driver: on SQLite 4.3 ms through SQLAlchemy a statement at a time, 0.8 ms so; on
# PostgreSQL DELETE and a restart of the tables' own sequences, 0.6 ms against 49 ms for a
# TRUNCATE (which makes every table's files anew)
_RESET_TABLES = [t.name for t in reversed(metadata.sorted_tables) if t.name not in SEEDED_TABLES]
_DELETES = "".join(f'DELETE FROM "{name}";' for name in _RESET_TABLES)
_RESET_SQLITE = (
    "BEGIN IMMEDIATE;"
    + _DELETES
    + "DELETE FROM sqlite_sequence WHERE name != 'crm_statuses';COMMIT;"
)
_RESET_POSTGRES = (
    "BEGIN;"
    + _DELETES
    # the sequences the reset tables own (serial: 'a', identity: 'i'), as RESTART IDENTITY
    + "SELECT setval(s.oid, 1, false) FROM pg_class s"
    " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid"
    " AND d.deptype IN ('a', 'i')"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE s.relkind = 'S' AND t.relname IN ("
    + ", ".join(f"'{name}'" for name in _RESET_TABLES)
    + ");COMMIT;"
)


async def reset_database(db: Database) -> None:
    async with db.engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        if db.is_sqlite:
            await driver.executescript(_RESET_SQLITE)
        else:
            await driver.execute(_RESET_POSTGRES)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.load(
        env={},
        data_dir=str(tmp_path / "data"),
        database_url=database_url,
        secret_key="test-secret",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Harness:
    """The app, its services and a client, plus seeding helpers."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.services: Services = app.state.services

    @property
    def db(self) -> Database:
        return self.services.db

    async def add_user(self, **kwargs: Any) -> int:
        kwargs.setdefault("name", "User")
        async with self.db.transaction() as s:
            user = await users.create_user(s, self.services.clock.now(), **kwargs)
            return user.id

    async def add_webhook(
        self, user_id: int, scopes: str | None = None, code: str | None = None
    ) -> str:
        scope_set = parse_scopes(scopes) if scopes is not None else frozenset(ALL_SCOPES)
        async with self.db.transaction() as s:
            _, secret = await users.create_webhook(
                s, self.services.clock.now(), user_id=user_id, scopes=scope_set, code=code
            )
        ISSUED_SECRETS.add(secret)
        return f"/rest/{user_id}/{secret}/"

    async def add_app(self, scopes: str | None = None) -> tuple[Any, str]:
        scope_set = parse_scopes(scopes) if scopes is not None else frozenset(ALL_SCOPES)
        async with self.db.transaction() as s:
            app, secret = await tokens.create_app(
                s, self.services.clock.now(), name="Test app", scopes=scope_set
            )
        ISSUED_SECRETS.add(secret)
        return app, secret

    async def token(self, app: Any, user_id: int) -> tokens.TokenPair:
        settings = self.services.settings
        async with self.db.transaction() as s:
            pair = await tokens.issue_tokens(
                s,
                self.services.clock.now(),
                app,
                user_id,
                access_ttl=settings.access_token_ttl,
                refresh_ttl=settings.refresh_token_ttl,
            )
        ISSUED_SECRETS.update((pair.access_token, pair.refresh_token))
        return pair

    async def store_recording(
        self,
        fixture: str,
        *,
        name: str | None = None,
        folder: str = "2026-03",
        call_id: str | None = None,
    ) -> int:
        """A fixture file through the recording store, as a committed file row."""
        from b24tel.recordings.ingest import Staging

        store = self.services.recordings
        staging = Staging(store.staging_dir)
        staging.write((FIXTURES / fixture).read_bytes())
        stored = await store.from_staging(staging, folder)
        async with self.db.transaction() as s:
            row = await store.add_file(
                s,
                stored,
                name=name or fixture,
                folder=folder,
                owner_id=1,
                call_id=call_id,
                source="content",
            )
            return row.id

    async def raw_get(self, target: str) -> httpx.Response:
        """A GET straight through ASGI: httpx refuses URLs over 64 KiB, real clients and
        servers do not (recordings in a query string)."""
        response, _ = await self.asgi("GET", target)
        return response

    async def asgi(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        chunk: int = 65536,
        disconnect_at: int | None = None,
    ) -> tuple[httpx.Response, int]:
        """A request straight through ASGI; also returns how many body bytes the app read
        (what a server that stops reading early saves). ``disconnect_at``: the client goes
        away after sending that many bytes (the answer is then a made-up 499)."""
        path, _, query = target.partition("?")
        raw_headers = [(b"host", b"testserver")]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if body:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []
        consumed = 0

        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal consumed, delivered
            if disconnect_at is not None and consumed >= disconnect_at:
                return {"type": "http.disconnect"}
            if delivered:
                # as a server does: after the body, receive waits for the client to go
                # (a streaming answer listens for that while it sends)
                await asyncio.Event().wait()
            delivered = consumed + chunk >= len(body)
            part = body[consumed : consumed + chunk]
            consumed += len(part)
            return {"type": "http.request", "body": part, "more_body": consumed < len(body)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = next(
            (m for m in sent if m["type"] == "http.response.start"),
            {"status": 499, "headers": []},
        )
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        response = httpx.Response(
            start["status"],
            headers=[(k.decode(), v.decode()) for k, v in start["headers"]],
            content=content,
        )
        return response, consumed

    async def call(
        self, hook: str, method: str, params: Any = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.client.post(hook + method, json=params or {}, **kwargs)


@contextlib.asynccontextmanager
async def make_harness(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    app = create_app(settings, clock)
    await reset_database(app.state.services.db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app, client)


@pytest.fixture
async def harness(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with make_harness(settings, clock) as h:
        yield h


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hook(harness: Harness) -> str:
    """User 1 (admin, inner number 101) with the webhook code `secretcode`, every scope."""
    uid = await harness.add_user(name="Admin", admin=True, inner_number="101")
    return await harness.add_webhook(uid, code=WEBHOOK_CODE)


# --- a real server on 127.0.0.1 -------------------------------------------------------------


class LiveServer:
    def __init__(self, app: Any, *, ssl: tuple[str, str] | None = None) -> None:
        self.app = app
        self.port = free_port()
        # (method, path, headers) of every request: what the client actually sent
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        scheme = "https" if ssl else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

        async def logged(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                self.requests.append((scope["method"], scope["path"], headers))
            await app(scope, receive, send)

        config = uvicorn.Config(
            logged,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            # a client that keeps a connection open past the test does not hold up its end
            timeout_graceful_shutdown=2,
            ssl_certfile=ssl[0] if ssl else None,
            ssl_keyfile=ssl[1] if ssl else None,
            **http_options(getattr(app.state.services, "settings", None) or Settings()),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from b24tel.cli.devcert import make_dev_cert

    return make_dev_cert(tmp_path_factory.mktemp("tls"))


# --- S3: a moto server on 127.0.0.1 ---------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(endpoint: str, bucket: str) -> dict[str, str]:
    """Settings for a bucket on the moto server (created here)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return {
        "storage_url": f"s3://{bucket}/recordings",
        "s3_endpoint_url": endpoint,
        "s3_region": "us-east-1",
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
    }


@pytest.fixture(params=["local", "s3"])
def storage_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def storage_settings(storage_backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    if storage_backend == "local":
        return {}
    endpoint = request.getfixturevalue("moto_endpoint")
    return s3_settings(endpoint, f"b24tel-{secrets.token_hex(4)}")


@pytest.fixture
def shared_postgres() -> Iterator[str]:
    """A scratch PostgreSQL database at the newest schema, for several server processes."""
    server_url = os.environ.get(POSTGRES_ENV)
    if not server_url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    server = make_url(server_url)
    name = f"b24tel_race_{secrets.token_hex(4)}"
    admin_url = server.render_as_string(hide_password=False)
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    asyncio.run(_admin(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
