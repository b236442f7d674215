"""The sparse side of hybrid retrieval: BM25 (bm25s) over folded, stemmed terms.

bm25s does the scoring; tokenisation is ours (textnorm.terms) so that
"Pham Minh Chinh" matches "Phạm Minh Chính".

Keeping it in step with the store, on one machine or many (RAG_CHROMA_URL):
- Chroma holds the truth (chunks + document records). Every write replaces a
  generation token in the store's `_meta` collection (store.bump_generation).
- Each process keeps a SparseIndex labelled with the generation it was built
  at, checks the token at most every `refresh_s` (one small record read, also
  cheap over HTTP) and rebuilds when it changed. The token is read *before*
  the chunks, so a snapshot is never older than its label.
- Rebuilds are incremental per document: the snapshot keeps each document's
  (sha256, ingested_at, version) stamp and its chunks' term ids, so only added
  or changed documents are fetched from Chroma and tokenised; removed ones are
  dropped. bm25s then re-indexes the term ids (no re-tokenising).
- Only chunks of the version a document's record names are taken (a writer
  adds the next version's chunks before it switches the record, store.py);
  `versions` (doc_id -> version) is what the retriever filters dense hits by,
  so both sides show one whole version of every document.
- The snapshot is pickled under index_dir/sparse keyed by generation: a
  restart (or another process on the same disk) loads it instead of
  rebuilding; UI replicas on other machines each keep their own copy, fed
  from the Chroma server. Nothing has to be shipped between machines and a
  lost or torn snapshot only costs a rebuild.
Alternatives rejected: BM25 inside Chroma (its full-text search is not BM25
and does not fold diacritics); storing the bm25s arrays in Chroma (a blob per
write, read by every replica on every change).
"""
from __future__ import annotations

import bisect
import math
import os
import pickle
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from .locking import running
from .planted import evidence_flags
from .store import ChunkRecord, Store
from .textnorm import terms

if TYPE_CHECKING:
    from .integrity import Health


class SparseIndex:
    """BM25 over a list of chunks. `term_ids[i]` are the terms of records[i] as
    ids into `vocab`; `stamps` maps doc_id -> (sha256, ingested_at, version)."""

    def __init__(self, records: list[ChunkRecord], generation: str = "",
                 term_ids: Optional[list[np.ndarray]] = None, vocab: Optional[dict[str, int]] = None,
                 stamps: Optional[dict[str, tuple]] = None, evidence: Optional[list[bool]] = None):
        self.generation = generation
        self.records = records
        self.vocab: dict[str, int] = dict(vocab or {})
        if term_ids is None:
            term_ids = [self._ids(terms(r.text)) for r in records]
        self.term_ids = term_ids
        self.stamps = dict(stamps or {})
        self.n = len(records)
        self.doc_ids = {r.doc_id for r in records}
        self.versions = {r.doc_id: r.version for r in records}
        # Passages that are not evidence (planted.py: keyword stuffing, Q&A pages, text addressing
        # the assistant) are scored in an index of their own, after every other passage, and take
        # no part in the statistics the other passages are scored and weighted by (document
        # frequencies, IDF, average length): a page repeating the question's words cannot lower
        # those words' weight, nor reorder the reports.
        self.evidence = evidence if evidence is not None else evidence_flags(records, term_ids)
        rows = [i for i, ok in enumerate(self.evidence) if ok]
        others = [i for i, ok in enumerate(self.evidence) if not ok]
        self.n_evidence = len(rows)
        counts = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        if rows:
            np.add.at(counts, np.concatenate([np.unique(term_ids[i]) for i in rows]), 1)
        self.df: dict[str, int] = {t: int(counts[i]) for t, i in self.vocab.items() if counts[i]}
        self._parts = [part for part in (self._part(rows), self._part(others)) if part is not None]

    def _part(self, rows: list[int]):
        """(BM25 over records[rows], rows, which term ids occur in them), or None for no rows."""
        if not rows:
            return None
        import bm25s
        from bm25s.tokenization import Tokenized

        bm25 = bm25s.BM25()
        bm25.index(Tokenized(ids=[self.term_ids[i].tolist() for i in rows], vocab=self.vocab),
                   show_progress=False)
        present = np.zeros(len(self.vocab) + 1, dtype=bool)
        ids = np.concatenate([self.term_ids[i] for i in rows]).astype(np.int64)
        present[ids] = True
        return bm25, np.array(rows), present

    def _ids(self, toks: list[str]) -> np.ndarray:
        v = self.vocab
        return np.fromiter((v.setdefault(t, len(v)) for t in toks), dtype=np.int32, count=len(toks))

    def text_before(self, rec: ChunkRecord) -> Optional[str]:
        """The text of `rec`'s document just before it: the part of the previous chunk that
        ends where `rec` starts (None for a document's first chunk)."""
        by_doc = getattr(self, "_by_doc", None)
        if by_doc is None:  # built on first use (also for snapshots pickled before it existed)
            groups: dict[str, list[ChunkRecord]] = {}
            for r in self.records:
                groups.setdefault(r.doc_id, []).append(r)
            by_doc = {}
            for d, rs in groups.items():
                rs.sort(key=lambda r: r.start)
                by_doc[d] = ([r.start for r in rs], rs)
            self._by_doc = by_doc
        starts, rs = by_doc.get(rec.doc_id, ((), ()))
        i = bisect.bisect_left(starts, rec.start) - 1
        if i < 0:
            return None
        prev = rs[i]
        return prev.text[: max(0, rec.start - prev.start)]

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n_evidence - df + 0.5) / (df + 0.5))

    def query(self, q_terms: list[str], k: int) -> list[tuple[ChunkRecord, float]]:
        """The k best passages for the question's terms: those that are evidence first, by
        their BM25 score, then the others (by a BM25 of their own)."""
        out: list[tuple[ChunkRecord, float]] = []
        for bm25, rows, present in self._parts:
            if len(out) >= k:
                break
            known = [t for t in q_terms if t in self.vocab and present[self.vocab[t]] and t in bm25.vocab_dict]
            if not known:
                continue
            scores = bm25.get_scores(known)
            kk = min(k - len(out), len(rows))
            top = np.argpartition(-scores, kk - 1)[:kk]
            top = top[np.argsort(-scores[top])]
            out += [(self.records[rows[i]], float(scores[i])) for i in top if scores[i] > 0]
        return out

    def updated(self, store: Store, generation: str,
                written: Optional[dict[str, list[ChunkRecord]]] = None) -> "SparseIndex":
        """A new index at `generation`: reuse the term ids of unchanged documents,
        fetch and tokenise only added or changed ones. `written`: chunks this process has
        just committed, by document; a document's are taken from it instead of read back
        from the store when its record names their version and count (another writer's
        later commit names another version: those are read back)."""
        recs = store.document_records()
        stamps = {d: _stamp(r) for d, r in recs.items()}
        keep = {d for d, st in stamps.items() if self.stamps.get(d) == st}
        fetch = [d for d in stamps if d not in keep]
        if not fetch and len(keep) == len(self.stamps) and self._parts:
            # same documents (e.g. another writer's chunks are in, its records not yet)
            self.generation = generation
            return self
        records, term_ids, evidence = [], [], []
        for r, ids, ok in zip(self.records, self.term_ids, self.evidence):
            if r.doc_id in keep:
                records.append(r)
                term_ids.append(ids)
                evidence.append(ok)
        vocab = dict(self.vocab)
        helper = SparseIndex.__new__(SparseIndex)
        helper.vocab = vocab
        written = written or {}
        known = {d: written[d] for d in fetch if d in written and written[d]
                 and written[d][0].version == recs[d].get("version", "")
                 and len(written[d]) == int(recs[d].get("n_chunks") or 0)}
        for i in range(0, len(fetch), 500):
            part = fetch[i:i + 500]
            unknown = [d for d in part if d not in known]
            got = _current(store.chunks_of(unknown), recs) if unknown else {}
            got.update({d: known[d] for d in part if d in known})
            torn = [d for d in unknown if len(got.get(d, ())) != int(recs[d].get("n_chunks") or 0)]
            if torn:  # a writer switched these records meanwhile: read them once more
                again = store.docs.get(ids=torn, include=["metadatas"])
                now = {d: dict(m or {}) for d, m in zip(again["ids"], again["metadatas"])}
                for d in torn:
                    if d in now:
                        recs[d] = now[d]
                        stamps[d] = _stamp(now[d])
                    else:
                        recs.pop(d, None)
                        stamps.pop(d, None)
                    got.pop(d, None)
                got.update(_current(store.chunks_of([d for d in torn if d in now]), recs))
            for d in part:
                mine = sorted(got.get(d, ()), key=lambda r: r.start)
                records += mine
                ids = [helper._ids(terms(r.text)) for r in mine]
                term_ids += ids
                evidence += evidence_flags(mine, ids)
        return SparseIndex(records, generation, term_ids, vocab, stamps, evidence)


def _stamp(rec: dict) -> tuple:
    return rec.get("sha256"), rec.get("ingested_at"), rec.get("version", "")


def _current(chunks: list[ChunkRecord], recs: dict[str, dict]) -> dict[str, list[ChunkRecord]]:
    """The chunks of the version each document's record names, by document."""
    out: dict[str, list[ChunkRecord]] = {}
    for c in chunks:
        rec = recs.get(c.doc_id)
        if rec is not None and c.version == rec.get("version", ""):
            out.setdefault(c.doc_id, []).append(c)
    return out


class SparseCache:
    """Keeps a SparseIndex in step with the store, persisted under index_dir/sparse."""

    def __init__(self, store: Store, index_dir: Path, refresh_s: float = 2.0):
        self.store = store
        self.dir = Path(index_dir) / "sparse"
        self.refresh_s = refresh_s
        self._index: Optional[SparseIndex] = None
        self._checked = 0.0
        self._build_s = 0.0
        self._lock = threading.Lock()
        self._swept = False

    def torn(self) -> list[Path]:
        """Temporary snapshot files no live process is writing: what a writer killed mid-write
        left behind. Each writer names its file after its process id (bm25-<pid>-*.tmp), so
        another process's file being written now is never taken for one."""
        if not self.dir.is_dir():
            return []
        out = []
        for f in self.dir.glob("*.tmp"):
            m = re.match(r"bm25-(\d+)-", f.name)
            if m is None or not running(int(m.group(1))):
                out.append(f)
        return out

    def _sweep(self) -> None:
        """Remove torn temporary files (once per process, on first use, and after each write)."""
        for f in self.torn():
            f.unlink(missing_ok=True)

    def invalidate(self, written: Optional[dict[str, list[ChunkRecord]]] = None) -> None:
        """After a write: bring the index up to date now (and persist it), so the
        next question, and the next process to open this index, find it ready. `written`:
        the chunks the write committed (ingest_paths), used instead of reading them back."""
        self._checked = 0.0
        self.get(force=True, written=written)

    def get(self, force: bool = False, written: Optional[dict[str, list[ChunkRecord]]] = None) -> SparseIndex:
        with self._lock:
            now = time.monotonic()
            # During a long ingest elsewhere the generation changes every batch;
            # never spend more than about a quarter of the time rebuilding.
            wait = max(self.refresh_s, 3 * self._build_s)
            if self._index is not None and not force and now - self._checked < wait:
                return self._index
            if not self._swept:
                self._swept = True
                self._sweep()
            gen = self.store.generation()
            self._checked = now
            if self._index is None or self._index.generation != gen:
                t0 = time.monotonic()
                self._index = self._load(gen) or self._build(gen, written)
                self._build_s = time.monotonic() - t0
                self._checked = time.monotonic()
            return self._index

    def check(self, visible: Optional[set[str]] = None) -> "Health":
        """Read-only: torn temporary files, and whether the snapshot on disk for the
        store's current generation holds exactly the chunks readers see (`visible`,
        read from the store when not given). No snapshot yet is a note, not a problem:
        the next question builds it."""
        from .integrity import Health, Problem

        h = Health()
        if self.dir.exists():
            tmp = self.torn()
            if tmp:
                h.problems.append(Problem("sparse", None, f"{len(tmp)} torn temporary file(s) in {self.dir}"))
        idx = self._load(self.store.generation())
        if idx is None:
            h.notes.append("no BM25 cache for the current index yet (built on the next question)")
            return h
        if visible is None:
            recs = self.store.document_records()
            visible = {c.chunk_id for c in self.store.all_chunks()
                       if c.doc_id in recs and c.version == recs[c.doc_id].get("version", "")}
        cached = {r.chunk_id for r in idx.records}
        if cached != visible:
            h.problems.append(Problem("sparse", None, f"BM25 cache has {len(cached)} chunks, the store "
                                      f"shows {len(visible)} ({len(cached ^ visible)} differ)"))
        return h

    def rebuild(self) -> SparseIndex:
        """Throw away every snapshot (in memory and on disk, torn ones too) and build
        the index afresh from the store, persisted for the current generation. A temporary
        file another live process is writing now is left to it (its rename would fail)."""
        with self._lock:
            if self.dir.exists():
                for f in self.torn() + list(self.dir.glob("bm25-*.pkl")):
                    f.unlink(missing_ok=True)
            self._index = None
            self._checked = 0.0
        return self.get(force=True)

    def _path(self, gen: str) -> Path:
        return self.dir / f"bm25-{gen}.pkl"

    def _load(self, gen: Optional[str]) -> Optional[SparseIndex]:
        """The snapshot for `gen`; with gen=None the newest one on disk, whatever its generation."""
        if gen is None:
            found = sorted(self.dir.glob("bm25-*.pkl"), key=lambda p: p.stat().st_mtime) if self.dir.is_dir() else []
            if not found:
                return None
            p = found[-1]
        else:
            p = self._path(gen)
        if not p.exists():
            return None
        try:
            with p.open("rb") as f:  # our own file, written by _build below
                idx = pickle.load(f)
            ok = (isinstance(idx, SparseIndex) and hasattr(idx, "versions") and hasattr(idx, "evidence")
                  and (gen is None or idx.generation == gen))
            return idx if ok else None
        except Exception:
            return None  # a torn or stale cache file is simply rebuilt

    def _build(self, gen: str, written: Optional[dict[str, list[ChunkRecord]]] = None) -> SparseIndex:
        base = self._index or self._load(None) or SparseIndex([], "")
        idx = base.updated(self.store, gen, written)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f"bm25-{os.getpid()}-", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(idx, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._path(gen))
            for old in self.dir.glob("bm25-*.pkl"):
                if old != self._path(gen):
                    old.unlink(missing_ok=True)
            self._sweep()
        except OSError:
            pass  # a read-only index dir still answers; it just rebuilds next start
        return idx
