"""``b24tel`` commands run in the test's own process: the same command line a user types,
parsed and run by the same click group, against the same data directory or server.

A command in a new interpreter costs 0.4–1.3 s of CPU before its work begins (Python, then
SQLAlchemy, pydantic and the app imported afresh); the suite ran about 180 of them. Tests
about the process itself (its exit on a signal, a kill midway, the installed entry point,
the docs' commands as written) still start one.
"""

from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from b24tel.cli.main import cli

# these configure the process (logging, signal handlers) and run until stopped: a process
# of their own, always
OWN_PROCESS = {("serve",), ("events", "deliver")}


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def b24tel(data_dir: Path | None, *args: str, env: dict[str, str] | None = None) -> Ran:
    """``b24tel [--data-dir DATA_DIR] ARGS`` with the environment a new process started by
    the test would have: this one's without its ``B24TEL_*`` settings, plus ``env``."""
    words = tuple(a for a in args if not a.startswith("-"))
    if any(words[: len(own)] == own for own in OWN_PROCESS):
        raise ValueError(f"b24tel {' '.join(args)} needs a process of its own")
    argv = ["--data-dir", str(data_dir), *args] if data_dir is not None else list(args)
    given = env or {}
    settings: dict[str, str | None] = {k: None for k in os.environ if k.startswith("B24TEL_")}
    settings.update(given)
    ran: list[Ran] = []

    def run() -> None:
        # a thread of its own: the command's asyncio.run needs a thread with no event loop
        # running, and the test's may have one
        result = CliRunner().invoke(cli, argv, env=settings, prog_name="b24tel")
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            info = result.exc_info or (None, result.exception, None)
            stderr += "".join(traceback.format_exception(*info))  # type: ignore[arg-type]
        ran.append(Ran(result.exit_code, result.stdout, stderr))

    thread = threading.Thread(target=run, name="b24tel-command")
    thread.start()
    thread.join()
    return ran[0]
