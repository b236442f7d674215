"""One writer per index: a second writer gets a clear error naming the holder; readers go on."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant
from rag.errors import IndexLockedError
from rag.locking import WriteLock

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_second_writer_is_refused_by_name_and_readers_keep_answering(tmp_path, articles_copy):
    idx = tmp_path / "idx"
    a = Assistant(index_dir=idx)
    assert a.ingest([articles_copy]).ok
    more = tmp_path / "more.txt"
    more.write_text("Harbour news\n\nThe harbour expansion will add 14 berths by 2027.\n", encoding="utf-8")

    with WriteLock(idx):  # this process is now "the writer"
        r = cli("ingest", str(more), "--index", str(idx))
        assert r.returncode == 4, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        assert f"process {os.getpid()} on {socket.gethostname()}" in r.stderr, r.stderr
        assert "pytest" in r.stderr or "py.test" in r.stderr or sys.argv[0] in r.stderr, r.stderr
        assert "questions still work" in r.stderr
        r = cli("doctor", "--repair", "--index", str(idx))
        assert r.returncode == 4 and "being written by" in r.stderr, r.stderr
        with pytest.raises(IndexLockedError):
            Assistant(index_dir=idx).remove("harbour")
        # a second writer in this very process is refused too (flock is per open file)
        other = Assistant(index_dir=idx)
        with pytest.raises(IndexLockedError, match=f"process {os.getpid()}"):
            other.ingest([more])
        # readers: another process asks, this process asks
        r = cli("ask", "How much did vaccine diplomacy save the state budget?", "--index", str(idx))
        assert r.returncode == 0 and "900" in r.stdout, r.stdout + r.stderr
        assert not a.ask("How much did vaccine diplomacy save the state budget?").abstained
        r = cli("doctor", "--index", str(idx))  # checking is reading: allowed, and says who writes
        assert r.returncode == 0 and "an ingest is running" in r.stdout, r.stdout + r.stderr

    # once released, writing works again
    assert Assistant(index_dir=idx).ingest([more]).added == ["more"]
    assert "14 berths" in a.ask("How many berths will the harbour expansion add?").short.text


def test_lock_is_released_when_the_holder_dies(tmp_path):
    idx = tmp_path / "idx"
    code = ("import os, sys; from rag.locking import WriteLock; l = WriteLock(sys.argv[1]); l.__enter__(); "
            "print('held', flush=True); os.kill(os.getpid(), 9)")
    r = subprocess.run([sys.executable, "-c", code, str(idx)], capture_output=True, text=True, timeout=60,
                       cwd=ROOT)
    assert "held" in r.stdout
    with WriteLock(idx):  # the kernel dropped the dead holder's lock
        pass
