"""The toolkit against real `b24tel serve` processes: the journal of a connector-style flow
read with `b24tel requests`, faults added on the command line that a running server (and
every instance on one database) applies within a second, connections dropped and answers
cut off for real, rules from a file, and the admin API."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.commands import b24tel
from tests.conftest import FIXTURES
from tests.servers import ServeProcess, wait_for

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    done = b24tel(data_dir, *args, env=env)
    assert (done.code == 0) is ok, done.stdout + done.stderr
    return done.stdout + (done.stderr if not ok else "")


@pytest.fixture
def server(tmp_path: Path) -> ServeProcess:
    with ServeProcess(tmp_path / "data") as running:
        yield running


def code_of(server: ServeProcess) -> str:
    return server.hook.rstrip("/").rsplit("/", 1)[1]


def test_a_connector_flow_in_the_journal(server: ServeProcess, tmp_path: Path) -> None:
    hook = server.hook
    recording = (FIXTURES / "call-8k-mono.wav").read_bytes()
    content = base64.b64encode((recording * (1_000_000 // len(recording) + 1))[:750_000]).decode()
    assert len(content) == 1_000_000
    caller = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}
    reg = httpx.post(hook + "telephony.externalCall.register.json", json=caller).json()
    call_id = reg["result"]["CALL_ID"]
    httpx.post(hook + "telephony.externalCall.finish.json",
               data={"CALL_ID": call_id, "USER_ID": 1, "DURATION": 30})  # fmt: skip
    record = {"CALL_ID": call_id, "FILENAME": "c.wav", "FILE_CONTENT": content}
    attached = httpx.post(hook + "telephony.externalCall.attachRecord.json", json=record)
    assert attached.status_code == 200, attached.text
    # the journal writes every quarter of a second
    listed = ["requests", "list", "--json", "--method", "telephony.*"]
    assert wait_for(lambda: len(cli(tmp_path / "data", *listed).splitlines()) == 3)
    out = cli(tmp_path / "data", *listed)
    rows = [json.loads(line) for line in out.splitlines()][::-1]
    assert [r["method"] for r in rows] == [
        "telephony.externalCall.register", "telephony.externalCall.finish",
        "telephony.externalCall.attachRecord",
    ]  # fmt: skip
    register, finish, attach = rows
    assert register["params"]["PHONE_NUMBER"] == "+79160001234" and register["encoding"] == "json"
    assert register["result"]["CALL_ID"] == call_id
    assert finish["encoding"] == "form" and finish["params"]["DURATION"] == "30"
    assert finish["result"]["CALL_DURATION"] == 30
    assert attach["params"]["FILE_CONTENT"] == {
        "elided": True, "size": 1_000_000, "sha256": hashlib.sha256(content.encode()).hexdigest(),
    }  # fmt: skip
    assert attach["result"] == attached.json()["result"] and attach["bytes_in"] > 1_000_000
    code = code_of(server)
    assert code not in out and all(r["url"].startswith("/rest/1/***/") for r in rows)
    shown = cli(tmp_path / "data", "requests", "show", str(register["id"]), "--curl")
    assert "<WEBHOOK_CODE>" in shown and "PHONE_NUMBER" in shown and code not in shown
    # a serving process keeps what it made at start out of full collections (app.serving)
    metrics = httpx.get(server.url + "/metrics").text
    frozen = next(ln for ln in metrics.splitlines() if ln.startswith("b24tel_gc_frozen_objects"))
    assert float(frozen.split()[1]) > 10_000, frozen
    server.stop()
    # the first start prints its webhook once, on purpose; nothing after it may
    started = next(n for n, line in enumerate(server.lines) if "listening on" in line)
    assert code not in "".join(server.lines[started:])


def test_faults_from_the_command_line_reach_a_running_server(
    server: ServeProcess, tmp_path: Path
) -> None:
    data, hook = tmp_path / "data", server.hook
    rule = cli(data, "faults", "add", "--method", "server.time", "--error",
               "QUERY_LIMIT_EXCEEDED", "--times", "1").strip()  # fmt: skip
    assert rule == "1"
    assert wait_for(lambda: httpx.get(hook + "server.time").status_code == 503, timeout=3)
    assert httpx.get(hook + "server.time").status_code == 200
    listed = cli(data, "faults", "list")
    assert "QUERY_LIMIT_EXCEEDED" in listed and "the next 1" in listed
    cli(data, "faults", "add", "--method", "server.time", "--drop", "--times", "1")
    time.sleep(1.2)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(hook + "server.time")
    cli(data, "faults", "add", "--method", "user.get", "--truncate", "--times", "1")
    time.sleep(1.2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(hook + "user.get")
    assert httpx.get(hook + "user.get").status_code == 200
    assert "3 rule(s) removed" in cli(data, "faults", "remove", "--all")
    assert "give a rule ID or --all" in cli(data, "faults", "remove", ok=False)
    assert "exactly one effect" in cli(data, "faults", "add", "--method", "x", ok=False)
    base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    tail = subprocess.Popen(
        [sys.executable, "-m", "b24tel", "--data-dir", str(data), "requests", "tail",
         "--count", "1", "--method", "server.time"],
        stdout=subprocess.PIPE, text=True, env=base,
    )  # fmt: skip
    assert tail.stdout is not None
    header = tail.stdout.readline()  # printed once it has read where the journal ends
    httpx.get(hook + "user.current")
    httpx.get(hook + "server.time")
    out, _ = tail.communicate(timeout=30)
    lines = [header.rstrip("\n"), *out.splitlines()]
    assert len(lines) == 2 and "server.time" in lines[1]


def test_rules_from_a_file(tmp_path: Path) -> None:
    rules = tmp_path / "faults.toml"
    rules.write_text('[[fault]]\nmethod = "server.time"\nproxy = 502\n')
    with ServeProcess(tmp_path / "data", args=("--faults", str(rules))) as running:
        r = httpx.get(running.hook + "server.time")
        assert r.status_code == 502 and "502 Bad Gateway" in r.text
    rules.write_text('[[fault]]\nmethod = "server.time"\n')
    bad = subprocess.run(
        [sys.executable, "-m", "b24tel", "serve", "--data-dir", str(tmp_path / "data"),
         "--faults", str(rules), "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0 and "rule 1: give exactly one effect" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_admin_api(server: ServeProcess, tmp_path: Path) -> None:
    admin = ("1", code_of(server))
    base = server.url + "/admin/api"
    httpx.get(server.hook + "server.time")
    time.sleep(0.8)
    listed = httpx.get(base + "/requests", auth=admin, params={"method": "server.time"})
    assert listed.status_code == 200
    [entry] = listed.json()["requests"]
    one = httpx.get(f"{base}/requests/{entry['id']}", auth=admin).json()
    assert one["method"] == "server.time" and "<WEBHOOK_CODE>" in one["curl"]
    assert httpx.get(f"{base}/requests/999", auth=admin).status_code == 404
    made = httpx.post(base + "/faults", auth=admin,
                      json={"method": "user.*", "error": "ACCESS_DENIED", "times": 2})  # fmt: skip
    assert made.status_code == 201 and made.json()["when"] == "the next 2"
    bad = httpx.post(base + "/faults", auth=admin, json={"method": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "INVALID_RULE"
    assert httpx.get(server.hook + "user.current").status_code == 403
    faults = httpx.get(base + "/faults", auth=admin).json()["faults"]
    assert [(f["id"], f["fired"]) for f in faults] == [(1, 1)]
    assert httpx.delete(f"{base}/faults/1", auth=admin).json() == {"removed": 1}
    assert httpx.delete(f"{base}/faults/1", auth=admin).status_code == 404
    # who may not
    assert httpx.get(base + "/faults").status_code == 401
    assert httpx.get(base + "/faults", auth=("1", "wrong")).status_code == 401
    cli(tmp_path / "data", "users", "add", "--name", "Bob")
    hook = cli(tmp_path / "data", "webhooks", "create", "--user", "2").strip()
    bob = ("2", hook.rstrip("/").rsplit("/", 1)[1])
    denied = httpx.get(base + "/faults", auth=bob)
    assert denied.status_code == 403 and denied.json()["error"] == "ACCESS_DENIED"


def test_instances_share_rules_and_counters(tmp_path: Path, shared_postgres: str) -> None:
    env = {"B24TEL_DATABASE_URL": shared_postgres}
    with ServeProcess(tmp_path / "a", env=env) as a, ServeProcess(tmp_path / "b", env=env) as b:
        code_path = a.hook.split("/rest/", 1)[1]
        urls = [f"{s.url}/rest/{code_path}" for s in (a, b)]
        for url in urls:  # both have read the (empty) rules
            httpx.get(url + "server.time")
        cli(tmp_path / "a", "faults", "add", "--method", "server.time", "--error",
            "INTERNAL_SERVER_ERROR", "--times", "3", env=env)  # fmt: skip
        time.sleep(1.2)
        statuses: list[int] = []
        lock = threading.Lock()

        def hit(n: int) -> None:
            code = httpx.get(urls[n % 2] + "server.time", timeout=30).status_code
            with lock:
                statuses.append(code)

        threads = [threading.Thread(target=hit, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] * 9 + [500] * 3


def test_the_journal_stays_within_its_bounds_under_simulated_traffic(tmp_path: Path) -> None:
    env = {"B24TEL_JOURNAL_MAX_ENTRIES": "300"}
    with ServeProcess(tmp_path / "data", env=env) as running:
        base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
        done = subprocess.run(
            [sys.executable, "-m", "b24tel", "simulate", "--url", running.hook,
             "--calls", "250", "--concurrency", "16", "--no-record", "--seed", "1"],
            capture_output=True, text=True, env=base, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        listed = ["requests", "list", "--json", "--limit", "10000"]

        def kept() -> list[int]:
            out = cli(tmp_path / "data", *listed, env=env)
            return [json.loads(line)["id"] for line in out.splitlines()]

        # many more were written, the newest kept (the journal writes every quarter second)
        assert wait_for(lambda: len(ids := kept()) == 300 and max(ids) > 700), kept()[:3]
