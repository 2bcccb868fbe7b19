"""The package compiled once for every Python process the tests start.

A test that runs ``b24tel serve`` or a command starts a new interpreter, which imports
the package from this checkout. Where the environment forbids writing bytecode
(``PYTHONDONTWRITEBYTECODE``, as container and CI images often do), each such process
compiled all of ``b24tel/`` from source again — over a hundred times a run.

So the controller compiles ``b24tel/`` and the tests' helper modules (0.3 s) before the
workers start, and removes what it wrote when the run ends: the environment's wish holds
for the tree after the run. (A ``PYTHONPYCACHEPREFIX`` cache would not do: Python then
looks for every module's bytecode there, the standard library's and the installed
packages' too, and each process compiled those instead.)"""

from __future__ import annotations

import compileall
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "b24tel", ROOT / "tests")
MADE: list[Path] = []


def _caches() -> set[Path]:
    return {p for source in SOURCES for p in source.rglob("__pycache__")}


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or not sys.dont_write_bytecode:
        return  # a worker finds it done; elsewhere Python writes its own as it imports
    before = _caches()
    for source in SOURCES:
        compileall.compile_dir(source, quiet=1)
    MADE.extend(sorted(_caches() - before))


def pytest_unconfigure(config: pytest.Config) -> None:
    for cache in MADE:
        shutil.rmtree(cache, ignore_errors=True)
    MADE.clear()
