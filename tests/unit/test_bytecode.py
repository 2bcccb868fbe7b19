"""A process the tests start imports b24tel from compiled bytecode, and a worker finds the
test modules rewritten (tests/bytecode.py), whether or not the environment lets Python
write either beside the sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from tests.bytecode import write_rewritten

PROBE = (
    "import importlib.util, os, b24tel.app\n"
    "print(os.path.exists(importlib.util.cache_from_source(b24tel.app.__file__)))"
)


def test_a_started_process_finds_the_package_compiled() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True", done.stderr


def test_the_test_modules_are_written_rewritten(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    (tmp_path / "test_probe.py").write_text("def test_it():\n    assert [1] == [2]\n")
    (tmp_path / "helper.py").write_text("X = 1\n")
    write_rewritten(pytestconfig, tmp_path)
    source = tmp_path / "test_probe.py"
    pyc = rewrite.get_cache_dir(source) / ("test_probe" + rewrite.PYC_TAIL)
    code = rewrite._read_pyc(source, pyc)
    assert code is not None  # what a worker's import reads instead of rewriting
    space: dict[str, object] = {}
    exec(code, space)
    with pytest.raises(AssertionError, match=r"\[1\] == \[2\]"):
        space["test_it"]()  # type: ignore[operator]
    assert [p.name for p in pyc.parent.iterdir()] == [pyc.name]  # helpers are not rewritten
