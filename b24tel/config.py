"""The settings registry: one frozen, typed object built from defaults, a TOML file and
environment variables (in that order of precedence, lowest first).

Every field carries its help text in its metadata; ``docs/configuration.md`` is generated
from this module (``b24tel config docs``) and a test fails when the two differ.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, get_type_hints

from b24tel import config_checks
from b24tel.config_bridge import BridgeSettings
from b24tel.config_values import (
    RATE_LIMIT_PRESETS,
    S3_EXTRA_MISSING,
    SettingsError,
    coerce,
    database_driver_url,
    parse_networks,
    read_sources,
    resolved_dir,
    setting,
)

__all__ = [
    "S3_EXTRA_MISSING",
    "Settings",
    "SettingsError",
    "database_driver_url",
    "parse_networks",
    "setting",
]

ENV_PREFIX = "B24TEL_"
# the SQLite database in the data directory, when no database_url names another
SQLITE_FILE = "b24tel.db"
MIB = 1024**2
GIB = 1024**3


@dataclass(frozen=True)
class Settings(BridgeSettings):
    # --- server -------------------------------------------------------------------------
    data_dir: str = setting(
        "./b24tel-data",
        "Directory for the embedded SQLite database, the default recordings folder and "
        "generated files.",
    )
    database_url: str = setting(
        "",
        "SQLAlchemy URL of the database. Empty means SQLite at `<data_dir>/b24tel.db`. "
        "PostgreSQL: `postgresql+asyncpg://user:password@host/dbname`.",
        example="postgresql+asyncpg://b24tel@127.0.0.1/b24tel",
    )
    public_url: str = setting(
        "",
        "The portal's address, as connectors and browsers reach it (behind a proxy: the "
        "proxy's): `auth[domain]`, `client_endpoint` and `server_endpoint` of installs and "
        "events, upload and download links, login links, printed webhook URLs and curl "
        "lines. Empty: the address `serve` listens on (scheme from TLS, host, port), which it "
        "records in the database so that commands run beside it print the same; links "
        "returned to a request use the address that request came to.",
        example="https://pbx-api.example.com",
    )
    trusted_proxies: str = setting(
        "127.0.0.1,::1",
        "Comma-separated addresses or CIDR networks of reverse proxies whose "
        "`X-Forwarded-For` and `X-Forwarded-Proto` are believed (the client's address and "
        "scheme). From anyone else these headers are ignored. Empty trusts no one.",
        example="10.0.0.5,10.0.1.0/24",
    )
    host: str = setting("127.0.0.1", "Address `b24tel serve` listens on.")
    port: int = setting(8080, "Port `b24tel serve` listens on.")
    tls_cert: str = setting("", "PEM certificate (chain) for HTTPS; empty serves plain HTTP.")
    tls_key: str = setting("", "PEM private key for `tls_cert`.")
    timezone: str = setting(
        "UTC",
        "Time zone of the portal: dates without an offset are read in it and dates are "
        "rendered in it (`time.date_start`, `server.time`, CRM dates).",
        example="Europe/Berlin",
    )
    log_level: str = setting("info", "Log level: debug, info, warning or error.")
    log_format: str = setting(
        "text",
        "Log line format: `text` (one line per event, `key=value` fields) or `json` (one JSON "
        "object per line). Webhook codes, tokens and secrets are always masked as `***`.",
    )
    graceful_timeout: int = setting(
        30, "Seconds in-flight requests get to finish after SIGTERM/SIGINT."
    )
    secret_key: str = setting(
        "",
        "Server secret for signed links and derived tokens. Empty means one is generated "
        "on first start and kept in the database, so every instance shares it.",
    )
    # --- database (docs/operations.md, "When the database goes away") --------------------
    database_connect_timeout: float = setting(5.0, "Seconds to open a PostgreSQL connection.")
    database_statement_timeout: float = setting(
        5.0, "Seconds one statement may run or wait for a lock (SQLite: for the write lock)."
    )
    database_pool_timeout: float = setting(
        5.0, "Seconds to wait for a pooled connection (SQLite: for this process's turn to write)."
    )
    request_deadline: float = setting(
        8.0,
        "Seconds a request may take before it is answered 503 `REQUEST_TIMEOUT`, not counting "
        "its body, a `RECORD_URL` download or storing a recording; 0 turns it off.",
    )
    # --- limits ---------------------------------------------------------------------------
    max_body_size: int = setting(
        GIB, "Largest accepted request body in bytes; larger bodies get a JSON 413."
    )
    max_request_head: int = setting(
        512 * 1024,
        "Largest request line and headers together, in bytes; past it the client gets a JSON "
        "400 and the connection is closed. Connectors send GET URLs of 64 KiB and more (a "
        "recording in a query string); a larger recording must come in a body.",
    )
    max_unauthenticated_body: int = setting(
        64 * MIB,
        "Bytes of body the server reads from a request that names no credentials outside "
        "its body (webhook path, `?auth=`, `Authorization: Bearer`) before it must have seen "
        "an `auth` or `access_token` parameter in it; past that it answers 413. Clients that "
        "send `auth` last in a large form body (CRest with big recordings) need it in the "
        "query string or a larger value here.",
    )
    max_input_vars: int = setting(
        100_000,
        "Most parameters one request may carry (form pairs, query pairs, multipart parts, "
        "JSON values); PHP's `max_input_vars` is the model. More gets 400 `INVALID_REQUEST`.",
    )
    max_input_nesting: int = setting(
        64,
        "Deepest nesting of parameters (`a[b][c]…` in forms, arrays and objects in JSON); "
        "PHP's `max_input_nesting_level` is the model. Deeper gets 400 `INVALID_REQUEST`.",
    )
    rate_limit: str = setting(
        "off",
        "Leaky-bucket request limit per webhook or application: `off`, `standard` (the "
        "cloud's 50 requests, draining 2/s), `enterprise` (250, draining 5/s) or `custom` "
        "(`rate_limit_burst` and `rate_limit_drain`). Over the limit: 503 "
        "`QUERY_LIMIT_EXCEEDED`.",
    )
    rate_limit_burst: int = setting(50, "Bucket size for `rate_limit = custom`.")
    rate_limit_drain: float = setting(
        2.0, "Requests per second the bucket drains for `rate_limit = custom`."
    )
    operating_limit: float = setting(
        0.0,
        "Seconds of handler time a method may use per webhook or application in a sliding "
        "10-minute window before it answers 429 `OPERATION_TIME_LIMIT`; 0 turns the check "
        "off (time is still reported in `time.operating`).",
    )
    # --- CRM and recordings ---------------------------------------------------------------
    phone_region: str = setting(
        "RU",
        "Region (ISO 3166 code) for phone numbers written without a country code: "
        "`8 916 000 12 34` is read as +7 916 000 12 34 with `RU`.",
        example="DE",
    )
    storage_url: str = setting(
        "",
        "Where recordings are stored: `file:///path` (local disk) or `s3://bucket/prefix` "
        "(S3-compatible). Empty means `<data_dir>/recordings`.",
        example="s3://recordings/b24tel",
    )
    s3_endpoint_url: str = setting(
        "", "S3 endpoint for MinIO, Ceph and others; empty means AWS (or AWS_ENDPOINT_URL)."
    )
    s3_region: str = setting("", "S3 region; empty means the AWS default chain.")
    s3_access_key_id: str = setting(
        "", "S3 access key; empty means the standard AWS variables and config files."
    )
    s3_secret_access_key: str = setting("", "S3 secret key for `s3_access_key_id`.")
    recording_retention_days: int = setting(
        90,
        "Days a replaced recording stays available as an earlier version before "
        "`b24tel recordings gc` removes its bytes.",
    )
    recording_max_age_days: int = setting(
        0,
        "Days a recording is kept: older ones and their earlier versions are deleted (the "
        "call stays; its RECORD_FILE_ID answers that retention deleted it). 0: forever.",
    )
    maintenance_interval: float = setting(
        3600.0, "Seconds between maintenance runs (retention); one instance of many runs it."
    )
    record_url_allowlist: str = setting(
        "",
        "Networks (CIDR, comma-separated) a RECORD_URL may point into although they are "
        "loopback, private, link-local or otherwise non-public — for PBXs on a LAN.",
        example="192.168.10.0/24,127.0.0.1/32",
    )
    record_url_connect_timeout: float = setting(5.0, "Seconds to connect to a RECORD_URL.")
    record_url_read_timeout: float = setting(
        30.0, "Seconds a RECORD_URL server may stay silent while sending."
    )
    record_url_timeout: float = setting(
        300.0, "Seconds a whole RECORD_URL download (redirects included) may take."
    )
    record_url_max_size: int = setting(
        GIB, "Largest recording, in bytes, fetched from a RECORD_URL."
    )
    record_url_verify_tls: bool = setting(
        True, "Verify RECORD_URL TLS certificates; turn off only for self-signed PBXs."
    )
    telephony_error_code: str = setting(
        "ERROR_CORE",
        "Code of telephony business errors: `ERROR_CORE` as the current docs show, or empty "
        "as the reference portal and older clients expect (set `B24TEL_TELEPHONY_ERROR_CODE=`).",
    )
    telephony_require_app: bool = setting(
        False,
        "Refuse webhook calls of register, finish and externalLine.* with 403 "
        "`WRONG_AUTH_TYPE`, as the current cloud does. Off: every open-source connector "
        "uses webhooks.",
    )
    upload_url_ttl: int = setting(
        86400, "Seconds an attachRecord upload URL stays valid (the reference's never expire)."
    )
    download_link_ttl: int = setting(
        86400, "Seconds a signed recording download link (`FILES[].url`, `DOWNLOAD_URL`) works."
    )
    # --- auth -----------------------------------------------------------------------------
    access_token_ttl: int = setting(3600, "Lifetime of OAuth access tokens, seconds.")
    refresh_token_ttl: int = setting(
        180 * 86400, "Lifetime of OAuth refresh tokens, seconds (the cloud uses 180 days)."
    )
    auth_cache_ttl: float = setting(
        5.0,
        "Seconds a resolved webhook or token is remembered by an instance. On PostgreSQL a "
        "revocation (`b24tel webhooks revoke`, an uninstall, a refresh) clears it on every "
        "instance at once; on SQLite a revocation by a command takes effect within this "
        "time. 0 turns the cache off.",
    )
    member_id: str = setting(
        "",
        "Portal `member_id` reported in OAuth answers; empty means one derived from the "
        "server secret.",
    )
    # --- integrators' toolkit -------------------------------------------------------------
    journal_enabled: bool = setting(
        True, "Keep the request journal (`b24tel requests`, `/admin/api/requests`)."
    )
    journal_max_entries: int = setting(
        100_000, "Newest journal entries kept; older ones are pruned as new ones come."
    )
    journal_max_age_days: float = setting(7.0, "Days a journal entry is kept.")
    faults_file: str = setting(
        "",
        "TOML file of fault rules (`[[fault]]` tables) loaded at start (`serve --faults`); "
        "they replace the rules an earlier start loaded from the same file.",
    )
    # --- operations -----------------------------------------------------------------------
    metrics_token: str = setting(
        "",
        "Bearer token that `/metrics` asks for. Empty: `/metrics` answers only clients on "
        "this machine (loopback); set it before exposing the port to a monitoring system.",
    )
    readiness_timeout: float = setting(
        2.0, "Seconds each `/readyz` check (database, storage) may take before it fails."
    )
    # --- events ---------------------------------------------------------------------------
    event_delivery: bool = setting(
        True,
        "Deliver events from inside `serve`. Off (`serve --no-delivery`): run "
        "`b24tel events deliver` as a separate process.",
    )
    event_handler_allowlist: str = setting(
        "",
        "Comma-separated CIDR networks event handlers may be in although they are not public "
        "(PBX connectors usually are on the LAN). Loopback and private addresses are refused "
        "otherwise, at `event.bind` and at delivery.",
        example="192.168.1.0/24, 127.0.0.1/32",
    )
    event_verify_tls: bool = setting(
        True, "Verify event handlers' TLS certificates; turn off only for self-signed ones."
    )
    event_timeout: float = setting(10.0, "Seconds a handler has to answer one delivery.")
    event_retry_initial: float = setting(
        10.0, "Seconds before the first retry of a failed delivery; each retry waits twice as long."
    )
    event_retry_max: float = setting(3600.0, "Longest wait between two delivery attempts, seconds.")
    event_retry_horizon: float = setting(
        86400.0,
        "Seconds after the event during which failed deliveries are retried; then the "
        "delivery is dead (`b24tel events log --status dead`, `b24tel events redeliver`).",
    )
    event_concurrency: int = setting(16, "Deliveries one instance sends at the same time.")
    event_handler_concurrency: int = setting(
        4,
        "Deliveries one handler URL has in flight at most, across instances; free slots go "
        "first to the application (or outgoing webhook) with the fewest in flight, so one "
        "application's slow handlers cannot hold every slot.",
    )
    event_breaker_failures: int = setting(
        5,
        "Attempts in a row without an answer within `event_timeout` after which a handler's "
        "circuit breaker opens: nothing is sent to it for `event_breaker_cooldown` seconds "
        "(doubling each time it opens again, up to 30 minutes), then one delivery at a time "
        "until one is answered. Its deliveries wait, none is lost.",
    )
    event_breaker_cooldown: float = setting(
        60.0, "Seconds a handler's circuit breaker stays open the first time."
    )
    event_poll_interval: float = setting(
        1.0,
        "Seconds between looks at the outbox when nothing woke the worker (commits in this "
        "process, and on PostgreSQL in every instance, wake it at once).",
    )

    # ------------------------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return database_driver_url(self.database_url)
        return f"sqlite+aiosqlite:///{resolved_dir(self.data_dir) / SQLITE_FILE}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        *,
        env: dict[str, str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults < TOML file < environment < explicit overrides (CLI options)."""
        env = dict(os.environ) if env is None else env
        names = {f.name for f in dataclasses.fields(cls)}
        values = read_sources(names, ENV_PREFIX, env, config_file)
        values.update({k: v for k, v in overrides.items() if v is not None})
        hints = get_type_hints(cls)
        typed = {name: coerce(name, hints[name], value) for name, value in values.items()}
        settings = cls(**typed)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Every value within its range, every combination possible (``config_checks``)."""
        config_checks.validate(self)
        self.check_bridge(self.public_url)

    @property
    def base_url(self) -> str:
        """Where clients reach this server when no request says so (links in events, the
        first start's webhook URL): ``public_url``, else the address it listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{scheme}://{host}:{self.port}"

    def s3_options(self) -> dict[str, str]:
        return {
            "endpoint_url": self.s3_endpoint_url,
            "region": self.s3_region,
            "access_key_id": self.s3_access_key_id,
            "secret_access_key": self.s3_secret_access_key,
        }

    @property
    def rate_limit_params(self) -> tuple[int, float] | None:
        """(burst, drain per second), or None when rate limiting is off."""
        if self.rate_limit == "custom":
            return self.rate_limit_burst, self.rate_limit_drain
        return RATE_LIMIT_PRESETS[self.rate_limit]
