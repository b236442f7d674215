"""Who may write when the index lives on a Chroma server (RAG_CHROMA_URL).

The file lock (locking.WriteLock, a flock in index_dir) only sees processes
on the same machine; UI replicas on other machines share the server, not the
disk. So in server mode a writer also takes a *lease*: a record
"writer-lease" in the collection's `_meta` collection naming its holder and
an expiry, renewed by a background thread every ttl/4 while it writes, and
deleted when it is done. A crashed writer's lease expires after `ttl_s`.

Chroma has no compare-and-set, so taking the lease is write-then-verify: the
writer upserts its claim, waits a moment, reads it back and backs off (with
IndexLockedError, as for the file lock) unless its own claim survived. Two
writers starting within that moment could in theory both see their claim;
that window is milliseconds, and even then the store stays consistent:
chunks are written before their document record (the commit marker), ids are
deterministic so repeated writes are idempotent upserts, and every write
replaces the generation token so all readers' BM25 snapshots catch up.
Deployments that need a hard guarantee run ingestion from a single worker
(one `rag ingest` job, or one UI replica with uploads enabled) — see README
"Deployment".
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid

from .errors import IndexLockedError
from .locking import WriteLock

LEASE_ID = "writer-lease"


class ServerLease:
    def __init__(self, store, ttl_s: float = 60.0, settle_s: float = 0.3):
        self.store = store
        self.ttl_s = ttl_s
        self.settle_s = settle_s
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def _read(self) -> dict:
        got = self.store.meta.get(ids=[LEASE_ID], include=["metadatas"])
        return dict(got["metadatas"][0] or {}) if got["ids"] else {}

    def _write(self) -> None:
        self.store.meta.upsert(ids=[LEASE_ID], documents=[self.me], embeddings=[[1.0]], metadatas=[{
            "holder": self.me, "until": time.time() + self.ttl_s, "since": time.time(),
            "cmd": " ".join(sys.argv)[:200]}])

    def _refuse(self, cur: dict) -> None:
        raise IndexLockedError(
            f"The index on the Chroma server {self.store.settings.chroma_url} is being written by "
            f"{cur.get('holder', 'another process')} ({cur.get('cmd', '?')}, since "
            f"{time.ctime(cur.get('since', 0))}). Wait for it to finish (questions still work "
            f"meanwhile); a crashed writer's claim expires within {self.ttl_s:.0f} s.")

    def acquire(self) -> None:
        cur = self._read()
        if cur and cur.get("holder") != self.me and float(cur.get("until", 0)) > time.time():
            self._refuse(cur)
        self._write()
        time.sleep(self.settle_s)  # let a racing claim land, then see who won
        cur = self._read()
        if cur.get("holder") != self.me:
            self._refuse(cur)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="rag-lease")
        self._thread.start()

    def _renew(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(self.ttl_s / 4):
            try:
                if self._read().get("holder") == self.me:
                    self._write()
            except Exception:
                pass  # the server is briefly unreachable: the write itself will report it

    def release(self) -> None:
        if self._stop is not None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
        self._stop = self._thread = None
        try:
            if self._read().get("holder") == self.me:
                self.store.meta.delete(ids=[LEASE_ID])
        except Exception:
            pass  # it expires on its own


class IndexWriteLock:
    """The file lock, plus the server lease when the index is on a Chroma server."""

    def __init__(self, settings, store):
        self.file = WriteLock(settings.index_dir)
        self.lease = ServerLease(store) if settings.chroma_url else None
        self._depth = 0

    def __enter__(self) -> "IndexWriteLock":
        self.file.__enter__()
        self._depth += 1
        if self._depth == 1 and self.lease is not None:
            try:
                self.lease.acquire()
            except BaseException:
                self._depth -= 1
                self.file.__exit__(None, None, None)
                raise
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self.lease is not None:
            self.lease.release()
        self.file.__exit__(*exc)


def write_lock(settings, store):
    return IndexWriteLock(settings, store)
