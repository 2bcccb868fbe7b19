"""A process's imports run with the garbage collector off (b24tel/startup.py); in the
command's own process what they loaded is frozen, and a served app's heap is frozen
without a collection first (``app.serving``)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from b24tel import startup

COMMAND = """
import gc, sys
from b24tel.__main__ import main
sys.argv = ["b24tel", "users", "--help"]
try:
    main()
except SystemExit:
    pass
print("FROZEN", gc.get_freeze_count(), gc.isenabled())
"""

SERVED = """
import gc, sys
from b24tel.app import create_app, serving
from b24tel.config import Settings
app = create_app(Settings(data_dir=sys.argv[1]))
passes = []
gc.callbacks.append(lambda phase, info: passes.append(info["generation"]))
serving(app)
print("SERVED", passes, gc.get_freeze_count() > 50_000, gc.isenabled())
"""


def run(code: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split(" ", 1)


def test_imports_run_with_the_collector_off_and_turn_it_back_on() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with startup.imports():
        assert not gc.isenabled()
        with startup.imports():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outermost decides
    assert gc.isenabled()
    # not the command's own process (this is the test suite's): nothing is frozen here
    assert gc.get_freeze_count() == frozen


def test_a_command_process_freezes_what_it_imported() -> None:
    label, shown = run(COMMAND)
    count, enabled = shown.split()
    assert label == "FROZEN" and int(count) > 50_000 and enabled == "True"


def test_a_served_app_is_frozen_without_a_collection(tmp_path: Path) -> None:
    label, shown = run(SERVED, str(tmp_path / "data"))
    assert (label, shown) == ("SERVED", "[] True True")
