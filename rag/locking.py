"""One writer per index: an exclusive, non-blocking file lock.

Readers never take it, so questions keep being answered while one process
ingests. The lock file records who holds it so the error can name them. The
kernel drops a flock when its holder dies, so a killed writer's lock is free
at once; `holder_gone` lets the server lease (serverlock.py) do the same.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Optional

from .errors import IndexLockedError


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> Optional[str]:
    """The process's start time (clock ticks since boot), None where /proc is missing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2:].split()[0]


def me() -> dict:
    """Who this process is, in a form `holder_gone` can check from another process."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "boot": _boot_id(),
            "start": _start_ticks(os.getpid()) or "", "cmd": " ".join(sys.argv)[:200]}


def running(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # runs, as another user
    return _state(pid) not in ("Z", "X")


def holder_gone(holder: dict) -> bool:
    """True only when the holder provably no longer runs: it was on this machine
    (same host name and boot) and its pid is not running, is a zombie, or is
    now another process (a reused pid has another start time)."""
    try:
        pid = int(holder.get("pid"))
    except (TypeError, ValueError):
        return False
    if holder.get("host") != socket.gethostname() or holder.get("boot", "") != _boot_id() or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    if not running(pid):
        return True
    start = _start_ticks(pid)
    return bool(holder.get("start")) and start is not None and start != str(holder["start"])


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
        info = json.dumps({**me(), "since": time.time()}).encode()
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
