"""Ports for the servers the tests start, never the same for two test processes.

A port from the kernel (bind to port 0) comes from its ephemeral range, which every
worker draws from: a test that stops a server and starts it again on the same port (a
portal coming back to a bridge) found it taken by another worker's server meanwhile, and
that server got the requests meant for the first. So each xdist worker takes its ports in
turn from a block of its own, below the ephemeral range, where the kernel never hands out
a port by itself; a random start within the block keeps two runs on one machine apart."""

from __future__ import annotations

import itertools
import os
import random
import socket
from pathlib import Path

SPACE = 12_000  # ports shared out among the workers, just below the ephemeral range


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def block(worker: str, count: int, ephemeral_low: int) -> range:
    """The ports of xdist worker ``worker`` ("gw3") of ``count``."""
    count = max(count, 1)
    size = SPACE // count
    index = int(worker.removeprefix("gw") or 0) % count
    low = max(ephemeral_low - SPACE, 1024) + index * size
    return range(low, low + size)


_BLOCK = block(
    os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
    int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
    _ephemeral_low(),
)
_TURN = itertools.count(random.randrange(len(_BLOCK)))


def free_port() -> int:
    """The next port of this process's block that nothing listens on."""
    for _ in range(len(_BLOCK)):
        port = _BLOCK[next(_TURN) % len(_BLOCK)]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_BLOCK}")
