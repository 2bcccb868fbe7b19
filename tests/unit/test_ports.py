"""Each test process takes its servers' ports from a block of its own (tests/ports.py)."""

from __future__ import annotations

import socket

from tests import ports


def test_the_workers_blocks_are_apart_and_below_the_kernels_range() -> None:
    blocks = [ports.block(f"gw{n}", 4, 32768) for n in range(4)]
    taken = [set(b) for b in blocks]
    assert sum(map(len, taken)) == len(set().union(*taken)) == ports.SPACE
    assert min(blocks[0]) >= 1024 and max(blocks[-1]) < 32768
    assert ports.block("gw0", 1, 32768) == range(32768 - ports.SPACE, 32768)


def test_a_port_freed_is_not_handed_out_again_at_once() -> None:
    seen = [ports.free_port() for _ in range(50)]
    assert len(set(seen)) == 50 and all(p in ports._BLOCK for p in seen)


def test_a_port_in_use_is_passed_over() -> None:
    first = ports.free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", first + 1 if first + 1 in ports._BLOCK else first))
        busy.listen()
        taken = busy.getsockname()[1]
        assert all(ports.free_port() != taken for _ in range(len(ports._BLOCK)))
