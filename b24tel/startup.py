"""A process's start: the modules it imports live as long as it does, so the cyclic
garbage collector neither walks them while they load nor again afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_state = {"own_process": False}


def own_process() -> None:
    """Called by the `b24tel` command's entry (``b24tel.__main__``): the process is ours,
    so what it imports may leave the collector's generations for good. Elsewhere (an app
    or a command run inside another program, the test suite) imports are only run with
    the collector off."""
    _state["own_process"] = True


@contextmanager
def imports() -> Iterator[None]:
    """Import with the collector off. What `b24tel serve` imports allocates some 190 000
    objects and none of them is garbage, yet the collector's passes over that growing heap
    took 15 % of the import (0.11 of 0.72 s of CPU, 275 passes). Left in the youngest
    generation they would only be walked later, so in the command's own process they are
    frozen (``gc.freeze``) once loaded. Nested uses keep the collector off until the
    outermost ends; it is on again afterwards only if it was on before."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _state["own_process"]:
            gc.freeze()
        if was_on:
            gc.enable()
