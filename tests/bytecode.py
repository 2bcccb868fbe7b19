"""The package compiled once for every Python process the tests start.

A test that runs ``b24tel serve`` or a command starts a new interpreter, which imports
the package from this checkout. Where the environment forbids writing bytecode
(``PYTHONDONTWRITEBYTECODE``, as container and CI images often do), each such process
compiled all of ``b24tel/`` from source again — over a hundred times a run.

So the controller compiles ``b24tel/`` and the tests' helper modules (0.3 s) before the
workers start, and removes what it wrote when the run ends: the environment's wish holds
for the tree after the run. (A ``PYTHONPYCACHEPREFIX`` cache would not do: Python then
looks for every module's bytecode there, the standard library's and the installed
packages' too, and each process compiled those instead.)

The same goes for pytest's own cache of the test modules with their asserts rewritten:
it reads that cache whether or not it may write it, so the controller writes it once and
each worker no longer rewrites all ~220 modules itself (2.4 s of CPU a worker).
Everything made is removed at the end of the run."""

from __future__ import annotations

import compileall
import contextlib
import shutil
import sys
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

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
    if getattr(config.option, "numprocesses", None):  # workers will collect everything
        write_rewritten(config, ROOT / "tests")
    MADE.extend(sorted(_caches() - before))


def write_rewritten(config: pytest.Config, folder: Path) -> None:
    """pytest's rewritten code of every test module and conftest under ``folder``, where
    its import hook looks for it (pytest's internals: if they change, or assertion
    rewriting is off, the workers rewrite as before)."""
    with contextlib.suppress(AttributeError, KeyError):
        state = config.stash[rewrite.assertstate_key]
        for source in sorted(folder.rglob("*.py")):
            if source.name.startswith("test_") or source.name == "conftest.py":
                source_hash, code = rewrite._rewrite_test(source, config)
                cache = rewrite.get_cache_dir(source)
                rewrite.try_makedirs(cache)
                name = source.name[:-3] + rewrite.PYC_TAIL
                rewrite._write_pyc(state, code, source_hash, cache / name)


def pytest_unconfigure(config: pytest.Config) -> None:
    for cache in MADE:
        shutil.rmtree(cache, ignore_errors=True)
    MADE.clear()
