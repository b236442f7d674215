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

from .planted import PassageKind, classify_cached
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
    kind: PassageKind = PassageKind()  # evidence, or why not (planted.py)


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
        # Passages that are not evidence (a Q&A page, keyword stuffing, text addressing the
        # assistant: planted.py) are ranked after all the others, in each list before fusion,
        # so that they cannot push a report out of either list or shift its rank. Both lists
        # are fetched twice as deep for that, then cut to their usual depth.
        dense = _evidence_first([d for d in self.store.dense_query(q_vec, 2 * s.dense_k)
                                 if d[0].doc_id in versions and versions[d[0].doc_id] == d[0].version])
        for rank, (rec, sim) in enumerate(dense[:s.dense_k]):
            hits[rec.chunk_id] = Hit(rec, 1.0 / (s.rrf_k + rank + 1), dense_rank=rank, dense_sim=sim)
        sparse = _evidence_first(sparse_index.query(terms(question), 2 * s.sparse_k))
        for rank, (rec, _score) in enumerate(sparse[:s.sparse_k]):
            h = hits.get(rec.chunk_id)
            if h is None:
                h = hits[rec.chunk_id] = Hit(rec, 0.0)
            h.sparse_rank = rank
            h.score += 1.0 / (s.rrf_k + rank + 1)
        for h in hits.values():
            h.kind = classify_cached(h.record.chunk_id, h.record.text)
        ranked = sorted(hits.values(), key=lambda h: (not h.kind.evidence, -h.score))
        return ranked[: (top_k or s.top_k)]


def _evidence_first(scored: list) -> list:
    """(record, score) pairs with the passages that are evidence first, each part in its order."""
    kinds = [classify_cached(rec.chunk_id, rec.text).evidence for rec, _ in scored]
    return [d for d, ok in zip(scored, kinds) if ok] + [d for d, ok in zip(scored, kinds) if not ok]
