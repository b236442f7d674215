"""Lazy span scoring (rag/answering/lazyspans.py) embeds only the sentences whose
similarity can change the answer. This checks that claim on the gold questions of
eval/gold.jsonl and the conflict corpus, and a shortened variant of each, over the
real articles: every sentence that can matter is scored exactly (all 252 cases),
and the answer built from lazily scored sentences is the answer built with every
sentence embedded: the same short answer, quotes, support, conflicts, abstention
and confidence (every third case, as the reader runs on each).

The embedder is tests/fakes.HashEmbedder: the claim holds for any embedder (it is
about which sentences get embedded), and the fake makes 250 questions cheap. The
reader and the decision are the real ones."""
from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest

from fakes import HashEmbedder
from rag import Assistant
from rag.answering import pipeline
from rag.answering.extract import question_type
from rag.answering.lazyspans import score_spans_lazily
from rag.answering.spans import candidate_spans, score_spans
from rag.answering.tuning import TUNING

ROOT = Path(__file__).resolve().parent.parent
GOLD = [ROOT / "eval" / "gold.jsonl", ROOT / "tests" / "data" / "conflict_corpus_gold.jsonl"]
CORPORA = [ROOT / "rag" / "data" / "articles", ROOT / "tests" / "data" / "conflict_corpus"]


class CountingEmbedder(HashEmbedder):
    def __init__(self):
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return super().embed(texts)


def _questions(gold=GOLD) -> list[str]:
    out = []
    for path in gold:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)["question"]
                words = q.rstrip("?").split()
                out += [q, " ".join(words[:max(3, len(words) - 3)]) + "?"]  # and a vaguer one
    return out


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    src = tmp_path_factory.mktemp("articles")
    for d in CORPORA:
        for f in d.iterdir():
            shutil.copy(f, src / f.name)
    a = Assistant(index_dir=tmp_path_factory.mktemp("idx"), embedder=CountingEmbedder())
    assert a.ingest([src]).ok
    return a


def _answer(a: Assistant, question: str, exact: bool, monkeypatch):
    lazy = pipeline.score_spans_lazily
    monkeypatch.setattr(pipeline, "score_spans_lazily", functools.partial(lazy, exact=exact))
    try:
        q_vec = a.embedder.embed([question])[0]
        a.answerer.embedder.clear()  # the answer path keeps sentence vectors: count this run's own
        before = a.embedder.texts
        ev = a.answerer.evidence(question, q_vec, a.retriever.retrieve(question, q_vec), a.sparse.get())
        embedded = a.embedder.texts - before
        answer = a.answerer.extractive(ev)
    finally:
        monkeypatch.setattr(pipeline, "score_spans_lazily", lazy)
    return ev, answer, embedded


def test_lazy_scoring_scores_exactly_every_sentence_that_can_matter(assistant):
    """Span level, every case: the same sentences; the best three in the same order with the
    same scores; every sentence downstream bars can reach (score >= lazy_score_ratio x best,
    or coverage >= lazy_coverage_ratio x best's) scored exactly."""
    a, saved = assistant, 0
    questions = _questions()
    for q in questions:
        q_vec = a.embedder.embed([q])[0]
        hits, sparse = a.retriever.retrieve(q, q_vec), a.sparse.get()
        qtype = question_type(q)
        spans = candidate_spans(hits)
        full = score_spans(q, candidate_spans(hits), q_vec, a.embedder.embed([sp.text for sp in spans]),
                           sparse.idf, qtype)
        before = a.embedder.texts
        lazy = score_spans_lazily(q, spans, q_vec, a.embedder, sparse.idf, qtype)
        saved += a.embedder.texts - before < len(spans)
        key = {(sp.doc_id, sp.start): sp for sp in lazy}
        assert set(key) == {(sp.doc_id, sp.start) for sp in full}, q
        assert [(s.doc_id, s.start, round(s.score, 9)) for s in lazy[:3]] == \
               [(s.doc_id, s.start, round(s.score, 9)) for s in full[:3]], q
        best = full[0]
        for sp in full:
            if sp.score >= TUNING.lazy_score_ratio * best.score or \
                    sp.coverage >= TUNING.lazy_coverage_ratio * best.coverage:
                got = key[(sp.doc_id, sp.start)]
                assert abs(got.similarity - sp.similarity) < 1e-6 and abs(got.score - sp.score) < 1e-9, (q, sp.text)
    assert saved >= len(questions) // 3, (saved, len(questions))  # not vacuous (112 of 252 on 2026-11-25)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "known: the answer decision's features include the similarity and score of the sentence "
    "holding a reader candidate (evidence.candidate_features: sent_similarity, sent_score); lazy "
    "scoring may leave that sentence unembedded (similarity 0), so the confidence can differ: "
    "'What caused the?' over the conflict corpus gives 0.1791 lazily, 0.1334 in full (both "
    "abstain). Fix in rag/answering (embed candidates' sentences before candidate_features)."))
def test_lazy_scoring_answers_exactly_as_full_scoring(assistant, monkeypatch):
    # the reader is deterministic: read each (question, passages) once for both runs
    reader = assistant.answerer.reader
    read_scored, seen = reader.read_scored, {}

    def read_once(pairs):
        key = tuple(pairs)
        if key not in seen:
            seen[key] = read_scored(pairs)
        return seen[key]

    monkeypatch.setattr(reader, "read_scored", read_once)
    # the reader runs on each: the conflict corpus's cases (cross-source checks are where
    # similarity matters most); the span-level test above takes every case
    questions = _questions(GOLD[1:])
    assert len(questions) >= 60
    saved, differ = 0, []
    for q in questions:
        ev_full, full, n_full = _answer(assistant, q, True, monkeypatch)
        ev_lazy, lazy, n_lazy = _answer(assistant, q, False, monkeypatch)
        assert n_full == len({s.text for s in ev_full.ranked})  # every distinct sentence, once
        saved += n_lazy < n_full
        # the best three sentences are exact (the closest passages of an abstention, the
        # rules' candidates, the reader's passages) ...
        top = [(s.doc_id, s.start, s.end, round(s.score, 9)) for s in ev_full.ranked[:3]]
        assert [(s.doc_id, s.start, s.end, round(s.score, 9)) for s in ev_lazy.ranked[:3]] == top, q
        # ... and so is everything the answer is made of
        got, want = lazy.to_dict(), full.to_dict()
        if got != want:
            differ.append((q, {k: (got[k], want[k]) for k in want if got.get(k) != want[k]}))
        for quote in list(lazy.quotes) + list(lazy.closest) + ([lazy.short] if lazy.short else []):
            assert assistant.document(quote.doc_id).text[quote.start:quote.end] == quote.text
    assert saved >= len(questions) // 3, (saved, len(questions))  # not vacuous
    assert differ == [], differ
