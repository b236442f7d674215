"""Hybrid retrieval: dense (Chroma via llama-index) + BM25, fused by rank.

Reciprocal-rank fusion is a few lines; it is written here rather than taken
from llama-index's QueryFusionRetriever because that one wants an LLM in
`Settings` and re-embeds the query, while we reuse one query vector for both
retrieval and sentence scoring.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .settings import RetrievalSettings
from .sparse import SparseCache
from .store import ChunkRecord, Store
from .textnorm import terms


@dataclass
class Hit:
    record: ChunkRecord
    score: float  # fused RRF score
    dense_rank: Optional[int] = None
    sparse_rank: Optional[int] = None
    dense_sim: Optional[float] = None


class HybridRetriever:
    def __init__(self, store: Store, sparse: SparseCache, settings: RetrievalSettings):
        self.store = store
        self.sparse = sparse
        self.settings = settings

    def retrieve(self, question: str, q_vec: np.ndarray, top_k: Optional[int] = None) -> list[Hit]:
        s = self.settings
        sparse_index = self.sparse.get()
        # only chunks of the version each record names (the snapshot's view): a
        # document being updated shows its old or its new version, never both
        versions = sparse_index.versions
        hits: dict[str, Hit] = {}
        dense = [d for d in self.store.dense_query(q_vec, s.dense_k)
                 if d[0].doc_id in versions and versions[d[0].doc_id] == d[0].version]
        for rank, (rec, sim) in enumerate(dense):
            hits[rec.chunk_id] = Hit(rec, 1.0 / (s.rrf_k + rank + 1), dense_rank=rank, dense_sim=sim)
        for rank, (rec, _score) in enumerate(sparse_index.query(terms(question), s.sparse_k)):
            h = hits.get(rec.chunk_id)
            if h is None:
                h = hits[rec.chunk_id] = Hit(rec, 0.0)
            h.sparse_rank = rank
            h.score += 1.0 / (s.rrf_k + rank + 1)
        ranked = sorted(hits.values(), key=lambda h: -h.score)
        return ranked[: (top_k or s.top_k)]
