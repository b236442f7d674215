"""Who may write when the index lives on a Chroma server (RAG_CHROMA_URL).

The file lock (locking.WriteLock, a flock in index_dir) only sees processes
on the same machine; UI replicas on other machines share the server, not the
disk. So in server mode a writer also takes a *lease*: a record
"writer-lease" in the collection's `_meta` collection naming its holder (host,
boot, pid, start time) and an expiry, renewed by a background thread every
ttl/5 while it writes, and deleted when it is done.

A holder that died is taken over:
- at once when it ran on this machine and its pid is gone (locking.holder_gone),
- otherwise once its lease expired: at most `settings.lease_ttl_s` (15 s)
  after its last renewal (the machines' clocks are assumed to be in sync).

Chroma has no compare-and-set, so taking the lease is write-then-verify: the
writer upserts its claim, waits a moment, reads it back and backs off (with
IndexLockedError, as for the file lock) unless its own claim survived. Two
writers starting within that moment could in theory both see their claim,
and a writer stalled for longer than the ttl could have its lease taken
over; so right before each commit (the record switch, store.add_documents)
the writer checks that the lease is still its own (`verify`, the store's
`fence`) and stops otherwise. What it wrote until then is chunks of a new
version that no record names: invisible, and swept by the next write.
Deployments that need a hard guarantee run ingestion from a single worker
(one `rag ingest` job, or one UI replica with uploads enabled) — see README
"Deployment".
"""
from __future__ import annotations

import threading
import time
import uuid

from .errors import IndexLockedError
from .locking import WriteLock, holder_gone, me

LEASE_ID = "writer-lease"


class ServerLease:
    def __init__(self, store, ttl_s: float = 15.0, settle_s: float = 0.3):
        self.store = store
        self.ttl_s = ttl_s
        self.settle_s = settle_s
        self.ident = me()
        self.me = f"{self.ident['host']}:{self.ident['pid']}:{uuid.uuid4().hex[:8]}"
        self._since = 0.0
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def _read(self, raw: bool = False) -> dict:
        meta = getattr(self.store.meta, "raw", self.store.meta) if raw else self.store.meta
        got = meta.get(ids=[LEASE_ID], include=["metadatas"])
        return dict(got["metadatas"][0] or {}) if got["ids"] else {}

    def _write(self, raw: bool = False) -> None:
        meta = getattr(self.store.meta, "raw", self.store.meta) if raw else self.store.meta
        now = time.time()
        meta.upsert(ids=[LEASE_ID], documents=[self.me], embeddings=[[1.0]], metadatas=[{
            "holder": self.me, "until": now + self.ttl_s, "since": self._since or now,
            **{k: str(v) for k, v in self.ident.items()}}])

    def _refuse(self, cur: dict) -> None:
        left = max(0.0, float(cur.get("until", 0)) - time.time())
        raise IndexLockedError(
            f"The index on the Chroma server {self.store.settings.chroma_url} is being written by "
            f"{cur.get('holder', 'another process')} ({cur.get('cmd', '?')}, since "
            f"{time.ctime(float(cur.get('since', 0)))}). Wait for it to finish (questions still work "
            f"meanwhile); if that process died on another machine, its claim expires within "
            f"{left:.0f} s (on this machine it is taken over at once).")

    def acquire(self) -> None:
        cur = self._read()
        if (cur and cur.get("holder") != self.me and float(cur.get("until", 0)) > time.time()
                and not holder_gone(cur)):
            self._refuse(cur)
        self._since = time.time()
        self._write()
        time.sleep(self.settle_s)  # let a racing claim land, then see who won
        cur = self._read()
        if cur.get("holder") != self.me:
            self._refuse(cur)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="rag-lease")
        self._thread.start()

    def verify(self) -> None:
        """Raise IndexLockedError unless this process still holds the lease."""
        cur = self._read()
        if cur.get("holder") != self.me:
            raise IndexLockedError(
                f"This writer lost its lease on the index on {self.store.settings.chroma_url} "
                f"(now held by {cur.get('holder', 'nobody')}): it was not renewed for "
                f"{self.ttl_s:.0f} s. Nothing it wrote became visible; run the command again.")

    def _renew(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(self.ttl_s / 5):
            try:
                if self._read(raw=True).get("holder") == self.me:
                    self._write(raw=True)
            except Exception:
                pass  # the server is briefly unreachable: the write itself will report it

    def release(self) -> None:
        if self._stop is not None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
        self._stop = self._thread = None
        try:  # no retries: a server that went away lets the claim expire (or be taken over)
            if self._read(raw=True).get("holder") == self.me:
                getattr(self.store.meta, "raw", self.store.meta).delete(ids=[LEASE_ID])
        except Exception:
            pass


class IndexWriteLock:
    """The file lock, plus the server lease when the index is on a Chroma server."""

    def __init__(self, settings, store):
        self.file = WriteLock(settings.index_dir)
        self.store = store
        self.lease = ServerLease(store, ttl_s=settings.lease_ttl_s) if settings.chroma_url else None
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
            self.store.fence = self.lease.verify
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self.lease is not None:
            self.store.fence = None
            self.lease.release()
        self.file.__exit__(*exc)


def write_lock(settings, store):
    return IndexWriteLock(settings, store)
