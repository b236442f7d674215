"""Hybrid retrieval: dense (Chroma via llama-index) + BM25, fused by rank.

Reciprocal-rank fusion is a few lines; it is written here rather than taken
from llama-index's QueryFusionRetriever because that one wants an LLM in
`Settings` and re-embeds the query, while we reuse one query vector for both
retrieval and sentence scoring.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping, Optional

import numpy as np

from .planted import PassageKind, classify_in_context
from .provenance import held_claimants
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
    held: bool = False  # its document claims an outlet another document speaks for (provenance.py)
    # retrieved for an article that no top_k passage is from: answering never reads it for the
    # answer; the article can only agree with the answer, through the values it states
    further: bool = False


class HybridRetriever:
    def __init__(self, store: Store, sparse: SparseCache, settings: RetrievalSettings,
                 claims: Optional[Callable[[], Mapping[str, tuple[str, int]]]] = None,
                 related_coverage: float = 0.45):
        self.store = store
        self.sparse = sparse
        self.settings = settings
        self.claims = claims  # doc_id -> (outlet claimed, origin strength): provenance.outlet_claims
        # a claimant is held out when the stronger document covers this share of what it covers:
        # the bar of a cross-source passage, passed in by the assistant from answering's Tuning
        self.related_coverage = related_coverage

    def retrieve(self, question: str, q_vec: np.ndarray, top_k: Optional[int] = None,
                 further: int = 0) -> list[Hit]:
        """The top_k passages answering reads, best first; then, flagged `held`, the passages of
        documents held out for this question (provenance.held_claimants), for answering to read
        each of them on its own; then, flagged `further`, the fused candidates' passages of at most
        `further` more articles that no top_k passage is from (best first), through which those
        articles can corroborate the answer (pipeline.Answerer.article_answers)."""
        s = self.settings
        sparse_index = self.sparse.get()
        # only chunks of the version each record names (the snapshot's view): a
        # document being updated shows its old or its new version, never both
        versions = sparse_index.versions
        kinds: dict[str, PassageKind] = {}

        def kind(rec: ChunkRecord) -> PassageKind:
            if rec.chunk_id not in kinds:
                kinds[rec.chunk_id] = classify_in_context(rec.chunk_id, rec.text,
                                                          lambda: sparse_index.text_before(rec))
            return kinds[rec.chunk_id]

        q_terms = terms(question)
        dense_all = [d for d in self.store.dense_query(q_vec, 2 * s.dense_k)
                     if d[0].doc_id in versions and versions[d[0].doc_id] == d[0].version]
        sparse_all = sparse_index.query(q_terms, 2 * s.sparse_k)
        # A document claiming an outlet that a document of a stronger origin speaks for, when
        # both discuss the question (provenance.py), is held out like a passage that is not
        # evidence: it can take no report's place; answering reads it on its own.
        held: set[str] = set()
        if self.claims is not None:
            claims = self.claims()
            if claims:
                held = held_claimants({t: sparse_index.idf(t) for t in set(q_terms)},
                                      [rec for rec, _ in dense_all + sparse_all if kind(rec).evidence],
                                      claims, self.related_coverage)

        def usable(rec: ChunkRecord) -> bool:
            return kind(rec).evidence and rec.doc_id not in held

        hits: dict[str, Hit] = {}
        # Passages that are not evidence (a Q&A page, keyword stuffing, text addressing the
        # assistant: planted.py) are ranked after all the others, in each list before fusion,
        # so that they cannot push a report out of either list or shift its rank. Both lists
        # are fetched twice as deep for that, then cut to their usual depth.
        dense = _usable_first(dense_all, usable)
        for rank, (rec, sim) in enumerate(dense[:s.dense_k]):
            hits[rec.chunk_id] = Hit(rec, 1.0 / (s.rrf_k + rank + 1), dense_rank=rank, dense_sim=sim)
        sparse = _usable_first(sparse_all, usable)
        for rank, (rec, _score) in enumerate(sparse[:s.sparse_k]):
            h = hits.get(rec.chunk_id)
            if h is None:
                h = hits[rec.chunk_id] = Hit(rec, 0.0)
            h.sparse_rank = rank
            h.score += 1.0 / (s.rrf_k + rank + 1)
        for h in hits.values():
            h.kind = kind(h.record)
        ranked = sorted((h for h in hits.values() if h.record.doc_id not in held),
                        key=lambda h: (not h.kind.evidence, -h.score))[: (top_k or s.top_k)]
        out = ranked + _held_hits(dense_all, sparse_all, held, kind, s.rrf_k)
        if further > 0:
            out += _further_hits(hits.values(), {h.record.doc_id for h in ranked} | held, further)
        return out


def _further_hits(fused, taken: set[str], n_docs: int) -> list[Hit]:
    """The evidence passages among the fused candidates of the best `n_docs` articles not in
    `taken` (ranked by their best passage), best first, flagged `further`."""
    out = sorted((h for h in fused if h.kind.evidence and h.record.doc_id not in taken), key=lambda h: -h.score)
    keep = set(list(dict.fromkeys(h.record.doc_id for h in out))[:n_docs])  # documents, best first
    return [replace(h, further=True) for h in out if h.record.doc_id in keep]


def _usable_first(scored: list, usable: Callable[[ChunkRecord], bool]) -> list:
    """(record, score) pairs with the usable passages first, each part in its order."""
    ok = [usable(rec) for rec, _ in scored]
    return [d for d, u in zip(scored, ok) if u] + [d for d, u in zip(scored, ok) if not u]


def _held_hits(dense: list, sparse: list, held: set[str], kind: Callable, rrf_k: int) -> list[Hit]:
    """The evidence passages of held-out documents, each ranked in the lists as they came
    (fused the same way), best first."""
    if not held:
        return []
    hits: dict[str, Hit] = {}
    for rank, (rec, sim) in enumerate(dense):
        if rec.doc_id in held:
            hits[rec.chunk_id] = Hit(rec, 1.0 / (rrf_k + rank + 1), dense_rank=rank, dense_sim=sim, held=True)
    for rank, (rec, _score) in enumerate(sparse):
        if rec.doc_id in held:
            h = hits.setdefault(rec.chunk_id, Hit(rec, 0.0, held=True))
            h.sparse_rank = rank
            h.score += 1.0 / (rrf_k + rank + 1)
    out = [h for h in hits.values() if kind(h.record).evidence]
    for h in out:
        h.kind = kind(h.record)
    return sorted(out, key=lambda h: -h.score)
