"""A process the tests start imports b24tel from compiled bytecode (tests/bytecode.py),
whether or not the environment lets Python write it beside the sources."""

from __future__ import annotations

import subprocess
import sys

PROBE = (
    "import importlib.util, os, b24tel.app\n"
    "print(os.path.exists(importlib.util.cache_from_source(b24tel.app.__file__)))"
)


def test_a_started_process_finds_the_package_compiled() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True", done.stderr
