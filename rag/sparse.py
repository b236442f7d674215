"""The sparse side of hybrid retrieval: BM25 (bm25s) over folded, stemmed terms.

bm25s does the scoring; tokenisation is ours (textnorm.terms) so that
"Pham Minh Chinh" matches "Phạm Minh Chính". The index is derived from the
store: it is rebuilt when the store's generation changes and cached on disk
beside the index (keyed by generation), so a restart does not rebuild it and
several processes sharing one Chroma server each keep theirs current.
"""
from __future__ import annotations

import math
import os
import pickle
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np

from .store import ChunkRecord, Store
from .textnorm import terms


class SparseIndex:
    def __init__(self, records: list[ChunkRecord], generation: str = ""):
        import bm25s

        self.generation = generation
        self.records = records
        tokens = [terms(r.text) for r in records]
        self.df: Counter[str] = Counter(t for toks in tokens for t in set(toks))
        self.n = len(records)
        self.doc_ids = {r.doc_id for r in records}
        self.bm25: Optional[bm25s.BM25] = None
        if records:
            self.bm25 = bm25s.BM25()
            self.bm25.index(tokens, show_progress=False)
            # bm25s keeps its own vocabulary; queries are mapped through it.
            self._vocab = self.bm25.vocab_dict

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def query(self, q_terms: list[str], k: int) -> list[tuple[ChunkRecord, float]]:
        if self.bm25 is None:
            return []
        known = [t for t in q_terms if t in self._vocab]
        if not known:
            return []
        scores = self.bm25.get_scores(known)
        k = min(k, self.n)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.records[i], float(scores[i])) for i in top if scores[i] > 0]


class SparseCache:
    """Keeps a SparseIndex in step with the store, persisted under index_dir/sparse."""

    def __init__(self, store: Store, index_dir: Path, refresh_s: float = 2.0):
        self.store = store
        self.dir = Path(index_dir) / "sparse"
        self.refresh_s = refresh_s
        self._index: Optional[SparseIndex] = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._checked = 0.0

    def get(self) -> SparseIndex:
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked < self.refresh_s:
                return self._index
            gen = self.store.generation()
            self._checked = now
            if self._index is None or self._index.generation != gen:
                self._index = self._load(gen) or self._build(gen)
            return self._index

    def _path(self, gen: str) -> Path:
        return self.dir / f"bm25-{gen}.pkl"

    def _load(self, gen: str) -> Optional[SparseIndex]:
        p = self._path(gen)
        if not p.exists():
            return None
        try:
            with p.open("rb") as f:  # our own file, written by _build below
                idx = pickle.load(f)
            return idx if isinstance(idx, SparseIndex) and idx.generation == gen else None
        except Exception:
            return None  # a torn or stale cache file is simply rebuilt

    def _build(self, gen: str) -> SparseIndex:
        visible = set(self.store.document_records())
        records = [r for r in self.store.all_chunks() if r.doc_id in visible]
        idx = SparseIndex(records, gen)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(idx, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._path(gen))
            for old in self.dir.glob("bm25-*.pkl"):
                if old != self._path(gen):
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only index dir still answers; it just rebuilds next start
        return idx
