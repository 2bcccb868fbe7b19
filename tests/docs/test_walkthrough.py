"""The README's walkthrough and docs/quickstart.md, run as a reader would: their shell
blocks in order, in one shell, against a `b24tel serve` on a random port — on SQLite and on
PostgreSQL. A doc that drifts from the code fails here.

The docs' conventions: a ``# prints: TEXT`` line after a command means its output contains
TEXT; a block right after ``<!-- not run: why -->`` is skipped. The few things a test must
change are in SUBSTITUTIONS: the server's real address and webhook, the listener's port,
a smaller simulation."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, free_port
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PRINTS = "# prints: "
NOT_RUN = "<!-- not run"


def blocks(page: Path, start: str = "", end: str = "") -> list[str]:
    """The page's bash blocks between two headings (the whole page by default), without
    those marked not run."""
    text = page.read_text(encoding="utf-8")
    if start:
        text = text.split(start, 1)[1]
    if end:
        text = text.split(end, 1)[0]
    found, current, previous = [], None, ""
    for line in text.splitlines():
        if current is None:
            if line.strip() == "```bash" and not previous.startswith(NOT_RUN):
                current = []
            elif line.strip() and line.strip() != "```bash":
                previous = line.strip()
            continue
        if line.strip() == "```":
            found.append("\n".join(current))
            current, previous = None, ""
        else:
            current.append(line)
    return found


def commands(block: str) -> list[tuple[str, list[str]]]:
    """Each command of a block (with its continuation lines and multi-line quotes) and
    the texts its ``# prints:`` lines promise."""
    out: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    for line in block.splitlines():
        if pending:
            pending.append(line)
        elif line.startswith(PRINTS):
            assert out, f"a prints line before any command: {line}"
            out[-1][1].append(line[len(PRINTS) :])
            continue
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        else:
            pending = [line]
        text = "\n".join(pending)
        if text.endswith("\\") or text.count("'") % 2:
            continue  # the command goes on
        out.append((text, []))
        pending = []
    assert not pending, f"an unfinished command: {pending}"
    return out


def script(docs: list[str]) -> str:
    """One shell script: every command in order, each promise checked right after it."""
    lines = ["set -eo pipefail"]
    for n, (command, promises) in enumerate(c for block in docs for c in commands(block)):
        if not promises:
            lines.append(command)
            continue
        lines.append(f"{{ {command}\n}} > .out.{n} 2>&1; cat .out.{n}")
        for text in promises:
            failed = shlex.quote(f"the doc promised {text!r} after: {command[:80]}")
            lines.append(
                f"grep -qF -- {shlex.quote(text)} .out.{n} || {{ echo {failed} >&2; exit 1; }}"
            )
    return "\n".join(lines) + "\n"


def substitutions(server: ServeProcess, listener: int) -> list[tuple[str, Callable[[str], str]]]:
    hook = server.hook.rstrip("/")
    return [
        (r"HOOK=http://127\.0\.0\.1:8080/rest/1/[0-9a-f]+", lambda _: f"HOOK={hook}"),
        (r"http://127\.0\.0\.1:8080", lambda _: server.url),
        (r"127\.0\.0\.1:9000|\"127\.0\.0\.1\", 9000",
         lambda m: m.group(0).replace("9000", str(listener))),
        (r"--calls 1000 --concurrency 32", lambda _: "--calls 20 --concurrency 4"),
    ]  # fmt: skip


def run_docs(docs: list[str], tmp_path: Path, env: dict[str, str]) -> str:
    data, work = tmp_path / "data", tmp_path / "work"
    (work / "tests" / "fixtures").mkdir(parents=True)
    # the walkthrough copies recordings from the repository's fixtures
    shutil.copytree(FIXTURES, work / "tests" / "fixtures" / "audio")
    listener = free_port()
    full = {**env, "B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32",
            "B24TEL_EVENT_POLL_INTERVAL": "0.2"}  # fmt: skip
    # a reader's first start: the server migrates its new database itself
    with ServeProcess(data, env=full, fresh=True) as server:
        text = script(docs)
        for pattern, replace in substitutions(server, listener):
            text = re.sub(pattern, replace, text)
        (work / "walkthrough.sh").write_text(text, encoding="utf-8")
        base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
        shell_env = {
            **base, **full, "B24TEL_DATA_DIR": str(data),
            # the `b24tel` of this environment first
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
        }  # fmt: skip
        log = work / "output.txt"
        with log.open("w") as out:
            proc = subprocess.Popen(
                ["bash", "walkthrough.sh"], cwd=work, env=shell_env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                code = proc.wait(300)
            finally:
                # the walkthrough's listener runs in the background
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        output = log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, f"{output[-6000:]}\n--- server ---\n{server.output[-3000:]}"
        return output


README = blocks(ROOT / "README.md", "## A five-minute walkthrough", "## Documentation")
QUICKSTART = blocks(ROOT / "docs" / "quickstart.md")


def test_the_docs_blocks_are_found() -> None:
    every = [c for block in README for c, _ in commands(block)]
    assert any("b24tel call start" in c for c in every)
    assert not any("b24tel serve" in c or "requests tail" in c for c in every)
    assert sum(len(p) for block in README for _, p in commands(block)) >= 10


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("doc", ["readme", "quickstart"])
def test_the_docs_run_as_written(
    doc: str, database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env: dict[str, str] = {}
    if database == "postgresql":
        env["B24TEL_DATABASE_URL"] = request.getfixturevalue("shared_postgres")
    output = run_docs(README if doc == "readme" else QUICKSTART, tmp_path, env)
    if doc == "readme":  # the connector got its click, delivered by the server
        assert "'event': 'ONEXTERNALCALLSTART'" in output


def test_a_broken_promise_fails_the_run(tmp_path: Path) -> None:
    kept = script(["echo hello\n# prints: hello", "X=$(echo a \\\n  b)\necho $X\n# prints: a b"])
    assert subprocess.run(["bash", "-c", kept], cwd=tmp_path).returncode == 0
    broken = script(["echo hello\n# prints: goodbye"])
    done = subprocess.run(["bash", "-c", broken], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "the doc promised 'goodbye'" in done.stderr
