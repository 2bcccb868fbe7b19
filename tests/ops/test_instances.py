"""Several `b24tel serve` instances on one PostgreSQL: what one instance or a command
changes, every other instance knows at once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.servers import ServeProcess
from tests.web.browser import cli


def test_a_revoked_webhook_is_refused_by_every_instance_within_a_second(
    shared_postgres: str, tmp_path: Path
) -> None:
    # a long auth cache: without the NOTIFY the webhook would keep working for a minute
    env = {"B24TEL_DATABASE_URL": shared_postgres, "B24TEL_AUTH_CACHE_TTL": "60"}
    with (
        ServeProcess(tmp_path / "a", env=env) as first,
        ServeProcess(tmp_path / "b", env=env) as second,
    ):
        created = cli(tmp_path / "a", "webhooks", "create", "--user", "1", env=env)
        path = created.split("/rest/", 1)[1].split()[0]
        hook_id = path.split("/")[0]
        on_first, on_second = f"{first.url}/rest/{path}", f"{second.url}/rest/{path}"
        webhooks = cli(tmp_path / "a", "webhooks", "list", env=env).splitlines()
        webhook_id = next(
            line.split()[0]
            for line in webhooks[1:]
            if line.split()[1] == hook_id and "created on" not in line
        )
        for hook in (on_first, on_second):  # both instances have it cached now
            assert "result" in httpx.get(hook + "server.time").json()
        cli(tmp_path / "a", "webhooks", "revoke", webhook_id, env=env)
        revoked_at = time.monotonic()
        for hook in (on_second, on_first):
            while True:
                answer = httpx.get(hook + "server.time").json()
                if answer.get("error") == "INVALID_CREDENTIALS":
                    break
                assert time.monotonic() - revoked_at < 1.0, "still accepted after 1 s"
                time.sleep(0.02)
