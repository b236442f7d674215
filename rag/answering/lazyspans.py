"""Score candidate sentences while embedding only those that can matter.

Embedding the ~30 candidate sentences of the top chunks is most of the cost
of an extractive answer. A span's score is affine in its question similarity
(score = a + (u - a) * sim, with a its score at sim 0 and u at sim 1; true of
spans.score_spans), so `u` bounds what the span can reach. Sentences are
embedded best bound first, and a sentence is left out only when its bound is
below every threshold where its similarity could matter:
  - below the 3rd best exact score (so ranked[:3], the best span and the
    "closest passages" of an abstention, are exact), and
  - below 0.6 x the best exact score (pick_quotes keeps spans >= 0.75 x best), and
  - its coverage below 0.4 x the best span's (cross_check compares
    similarities only for spans with coverage >= 0.45 x best's).
Left-out spans get similarity 0 in the final score_spans call, which keeps
them below those thresholds, so answers, quotes, conflicts and abstentions are
the same as with every sentence embedded; only the order of weak spans
beyond the top may differ. `exact=True` (or a score that is not affine in
similarity) falls back to embedding everything.
"""
from __future__ import annotations

import numpy as np

from .spans import Span, score_spans
from .tuning import TUNING

FIRST_BATCH = 8



def score_spans_lazily(question: str, spans: list[Span], q_vec: np.ndarray, embedder, idf, qtype,
                       exact: bool = False) -> list[Span]:
    n = len(spans)
    if n == 0:
        return []
    if exact or n <= FIRST_BATCH:
        return score_spans(question, spans, q_vec, embedder.embed([sp.text for sp in spans]), idf, qtype)
    dim = q_vec.shape[0]
    ids = {id(sp): i for i, sp in enumerate(spans)}
    score_spans(question, spans, q_vec, np.zeros((n, dim), np.float32), idf, qtype)
    a = np.array([sp.score for sp in spans])
    cov = np.array([sp.coverage for sp in spans])
    score_spans(question, spans, q_vec, np.tile(q_vec, (n, 1)), idf, qtype)
    u = np.array([sp.score for sp in spans])
    slope = (u - a) / float(q_vec @ q_vec)  # score = a + slope * similarity

    vecs = np.zeros((n, dim), np.float32)
    done = np.zeros(n, bool)
    todo = list(np.argsort(-u)[:FIRST_BATCH])
    while todo:
        vecs[todo] = embedder.embed([spans[i].text for i in todo])
        done[todo] = True
        exact_scores = np.where(done, a + slope * (vecs @ q_vec), -np.inf)
        order = np.argsort(-exact_scores)
        b1 = exact_scores[order[0]]
        b3 = exact_scores[order[min(2, int(done.sum()) - 1)]]
        threshold = min(TUNING.lazy_score_ratio * b1, b3)
        cov_bar = TUNING.lazy_coverage_ratio * cov[order[0]]
        todo = [i for i in range(n) if not done[i] and (u[i] >= threshold or cov[i] >= cov_bar)]
    ranked = score_spans(question, spans, q_vec, vecs, idf, qtype)
    # the bound assumed score affine in similarity; if score_spans changed, embed all
    expect = a + slope * (vecs @ q_vec)
    if not all(abs(sp.score - expect[ids[id(sp)]]) < 1e-6 for sp in ranked):
        left = [i for i in range(n) if not done[i]]
        if left:
            vecs[left] = embedder.embed([spans[i].text for i in left])
        ranked = score_spans(question, spans, q_vec, vecs, idf, qtype)
    return ranked
