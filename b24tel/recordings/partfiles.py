"""Files being written (``*.part``): a staging file for an incoming recording, or a local
object on its way into place.

The writer holds an advisory lock (``flock``) on its file for as long as it lives, so
``recordings verify`` and ``gc`` can tell a file someone is writing from one a crashed or
interrupted writer left behind — whatever its age.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path

# a file must be this quiet before gc takes it: covers the instant between a writer
# creating its file and taking the lock
GRACE = dt.timedelta(seconds=60)


class PartFile:
    """A new file open for writing, locked until ``release``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("wb")
        self._lock: int | None = os.open(path, os.O_RDONLY)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        if self._lock is not None:
            os.close(self._lock)  # the lock goes with its last descriptor
            self._lock = None


def in_use(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def abandoned(
    paths: list[Path], now: dt.datetime, grace: dt.timedelta = GRACE
) -> list[tuple[Path, int]]:
    """The files no writer holds and nobody touched within ``grace`` (path, size)."""
    out = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        quiet = now - dt.datetime.fromtimestamp(st.st_mtime, dt.UTC) >= grace
        if quiet and not in_use(path):
            out.append((path, st.st_size))
    return out
