"""One writer per index: an exclusive, non-blocking file lock.

Readers never take it, so questions keep being answered while one process
ingests. The lock file records who holds it so the error can name them.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from .errors import IndexLockedError


class WriteLock:
    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / "write.lock"
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> "WriteLock":
        if self._depth:
            self._depth += 1
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                holder = {}
            os.close(fd)
            who = (f"process {holder.get('pid')} on {holder.get('host')} "
                   f"({holder.get('cmd', '?')}, since {time.ctime(holder.get('since', 0))})"
                   if holder else "another process")
            raise IndexLockedError(
                f"The index at {self.path.parent} is being written by {who}. "
                "Wait for it to finish (questions still work meanwhile), or stop that process."
            ) from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "cmd": " ".join(sys.argv)[:200], "since": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self._fd = fd
        self._depth = 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
