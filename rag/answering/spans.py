"""Evidence selection: from retrieved chunks to scored sentence spans.

Each sentence of the top chunks is scored by
  coverage   IDF-weighted share of the question's content words it contains
             (a little credit for words in the sentence before it, which
             often holds the subject a pronoun refers to),
  similarity cosine between question and sentence embeddings,
  prior      the fused retrieval rank of its chunk,
and checked against the question's type (a "how many" question needs a number).
The best sentences become quotes; weak evidence becomes an abstention.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..chunking import split_sentences
from .extract import DATE_RE, QuestionType, mentions
from .tuning import TUNING
from ..retrieve import Hit
from ..textnorm import fold, terms


@dataclass
class Span:
    doc_id: str
    start: int  # offsets in the document
    end: int
    text: str
    rank: int  # retrieval rank of its chunk
    coverage: float = 0.0
    similarity: float = 0.0
    type_ok: bool = True
    score: float = 0.0


def candidate_spans(hits: list[Hit]) -> list[Span]:
    """Sentences of the retrieved chunks, de-duplicated across overlapping chunks."""
    seen: set[tuple[str, int]] = set()
    out: list[Span] = []
    for rank, h in enumerate(hits):
        r = h.record
        for s, e in split_sentences(r.text):
            key = (r.doc_id, r.start + s)
            if key in seen:
                continue
            seen.add(key)
            out.append(Span(r.doc_id, r.start + s, r.start + e, r.text[s:e], rank))
    return out


_TYPE_WORDS = {"year", "date", "day", "month", "time", "period", "number", "amount", "figur", "total"}


def _type_ok(span: Span, qtype: QuestionType) -> bool:
    if qtype.kind == "number":
        return bool(mentions(span.text, "number"))
    if qtype.kind == "date":
        if "year" in qtype.head:  # "in what year": a day without a year does not answer
            return bool(re.search(r"\b(1[5-9]|20)\d{2}\b", span.text))
        return bool(DATE_RE.search(span.text))
    if qtype.kind == "time":
        return bool(mentions(span.text, "time"))
    return True


def score_spans(question: str, spans: list[Span], q_vec: np.ndarray, s_vecs: np.ndarray,
                idf, qtype: QuestionType) -> list[Span]:
    # words naming the kind of answer ("in what year") are matched by the answer
    # itself, checked by type_ok; requiring them in the passage would punish it
    q_terms = [t for t in dict.fromkeys(terms(question)) if t not in _TYPE_WORDS] or terms(question)
    weights = {t: idf(t) for t in q_terms}
    total = sum(weights.values()) or 1.0
    prev_terms: dict[tuple[str, int], set[str]] = {}
    by_doc_end = {(sp.doc_id, sp.end): sp for sp in spans}
    for sp, vec in zip(spans, s_vecs):
        own = set(terms(sp.text))
        before = set()
        # the sentence just before, if retrieved too (same doc, ends right before)
        for gap in range(1, 4):
            p = by_doc_end.get((sp.doc_id, sp.start - gap))
            if p is not None:
                before = prev_terms.get((p.doc_id, p.start)) or set(terms(p.text))
                break
        prev_terms[(sp.doc_id, sp.start)] = own
        got = sum(w for t, w in weights.items() if t in own)
        got += 0.5 * sum(w for t, w in weights.items() if t not in own and t in before)
        sp.coverage = got / total
        sp.similarity = float(np.dot(q_vec, vec))
        sp.type_ok = _type_ok(sp, qtype)
        prior = 1.0 / (1.0 + sp.rank)
        sp.score = (TUNING.w_coverage * sp.coverage + TUNING.w_similarity * sp.similarity
                    + TUNING.w_prior * prior) * (
            1.0 if sp.type_ok else TUNING.type_penalty)
    return sorted(spans, key=lambda x: -x.score)


def same_statement(a: str, b: str) -> bool:
    """Near-duplicate sentences (syndicated copy, different diacritics/quotes)."""
    ta, tb = set(terms(a)), set(terms(b))
    if not ta or not tb:
        return fold(a) == fold(b)
    return len(ta & tb) / len(ta | tb) >= 0.8


def pick_quotes(ranked: list[Span], max_quotes: int, ratio: float = TUNING.quote_ratio) -> list[Span]:
    """Best span first, then strong spans from other articles, then other strong spans."""
    if not ranked:
        return []
    best = ranked[0]
    chosen = [best]
    strong = [s for s in ranked[1:] if s.score >= ratio * best.score and s.type_ok]
    other_docs = [s for s in strong if s.doc_id != best.doc_id]
    for s in other_docs + [s for s in strong if s not in other_docs]:
        if len(chosen) >= max_quotes:
            break
        if any(s.doc_id == c.doc_id and s.start == c.start for c in chosen):
            continue
        if any(s.doc_id == c.doc_id and same_statement(s.text, c.text) for c in chosen):
            continue
        if s.doc_id in {c.doc_id for c in chosen} and len({c.doc_id for c in chosen}) < len(
                {x.doc_id for x in strong} | {best.doc_id}):
            continue  # prefer a quote from an article not yet quoted
        chosen.append(s)
    return chosen
