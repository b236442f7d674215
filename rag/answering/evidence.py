"""Evidence for one question: the retrieved chunks, their scored sentences, and the
reader's answer candidates with the features the answer decision uses."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Optional

import numpy as np

from ..chunking import split_sentences
from ..retrieve import Hit
from ..textnorm import STOPWORDS, TOKEN_RE, fold, norm_word, terms
from .extract import DATE_RE, NAME_RE, QuestionType, mentions
from .reader import ReadSpan
from .spans import Span


@dataclass
class Candidate:
    """One answer the reader found in one passage, placed in its document."""

    doc_id: str
    start: int          # document offsets of the answer phrase
    end: int
    text: str
    sentence: Optional[Span]  # the scored sentence holding its start (None if not among candidates)
    read: ReadSpan
    chunk_rank: int
    from_rules: bool = False  # the typed mention the hand-written rules pick (extract.best_mention)
    features: dict[str, float] = field(default_factory=dict)
    p_correct: float = 0.0  # the answer decision's probability that this answer is right


@dataclass
class Evidence:
    """Everything answering knows about one question before writing the answer."""

    question: str
    qtype: QuestionType
    hits: list[Hit]
    ranked: list[Span]  # candidate sentences, best first
    unknown_terms: list[str]
    idf: Callable[[str], float]
    candidates: list[Candidate] = field(default_factory=list)  # best first once decided
    reads: dict = field(default_factory=dict)  # (chunk_id, start, end) -> (ReadSpan, SpanScorer): read once
    set_aside: list[Hit] = field(default_factory=list)  # retrieved, not evidence (planted.py)
    # passages of documents held out for this question: they claim an outlet that a document of
    # a stronger origin speaks for (provenance.held_claimants); read only on their own
    held: list[Hit] = field(default_factory=list)
    held_spans: Optional[list[Span]] = None  # their sentences, coverage only (no embedding)
    held_ranked: dict = field(default_factory=dict)  # frozenset of doc ids -> those docs' sentences, scored
    # passages of articles that no read passage is from (retrieve.Hit.further): never read; such
    # an article can agree with the answer through the values it states
    further: list[Hit] = field(default_factory=list)
    further_spans: Optional[list[Span]] = None  # their sentences, coverage only (no embedding)
    q_vec: Optional[np.ndarray] = None  # the question's embedding


def unknown_key_terms(question: str, df, passages: Iterable[str] = ()) -> list[str]:
    """Names and numbers of the question that the retrieved passages never contain.

    "How many doses came from the United States?" over passages that never say
    "United" cannot be answered, however similar the rest of the question is.
    Names are checked as folded words, not stems ("United" is not "unite"),
    also against two words run together ("Vietnam" in "Việt Nam", "Hanoi" in
    "Hà Nội"); numbers against the index vocabulary.
    """
    words: set[str] = set()
    for text in passages:
        ws = [fold(w) for w in TOKEN_RE.findall(text)]
        words.update(ws)
        words.update(a + b for a, b in zip(ws, ws[1:]))
    out = []
    for i, m in enumerate(TOKEN_RE.finditer(question)):
        raw = m.group()
        w = fold(raw)
        if w in STOPWORDS:
            continue
        if raw[0].isdigit():
            if norm_word(raw) not in df:
                out.append(raw)
        elif i > 0 and raw[0].isupper():
            base = re.sub(r"['’]s$", "", w)
            if norm_word(raw) not in df or (words and w not in words and base not in words):
                out.append(raw)
    return out


def missing_names(question: str, passage: str) -> list[str]:
    """Capitalised words (not the first) and numbers of the question absent from `passage`
    (folded; also two passage words run together: "Vietnam" in "Viet Nam")."""
    ws = [fold(w) for w in TOKEN_RE.findall(passage)]
    words = set(ws) | {a + b for a, b in zip(ws, ws[1:])}
    out = []
    for i, m in enumerate(TOKEN_RE.finditer(question)):
        raw = m.group()
        w = fold(raw)
        if w in STOPWORDS or not (raw[0].isdigit() or (i > 0 and raw[0].isupper())):
            continue
        if w not in words and re.sub(r"['’]s$", "", w) not in words:
            out.append(raw)
    return out


def passage_of(ev: "Evidence", c: "Candidate") -> str:
    if 0 <= c.chunk_rank < len(ev.hits):
        return ev.hits[c.chunk_rank].record.text
    return c.sentence.text if c.sentence else c.text


def read_key(h: Hit) -> tuple[str, int, int]:
    """What a read is kept under: the chunk and the part of it read."""
    return h.record.chunk_id, h.record.start, h.record.end


def reading_window(ev: Evidence, h: Hit, neighbours: int, top: int) -> Hit:
    """The part of a chunk the reader reads: every sentence among the question's `top` best
    that lies in the chunk, with `neighbours` sentences either side (a chunk none of them is
    in is read whole). A hit over that slice of the chunk, so offsets stay document offsets
    and its text is `record.text[a:b]`; `neighbours` < 0 reads the whole chunk."""
    r = h.record
    if neighbours < 0:
        return h
    bounds = split_sentences(r.text)
    inside = [i for i, (a, b) in enumerate(bounds)
              if any(sp.doc_id == r.doc_id and r.start + a <= sp.start < r.start + b for sp in ev.ranked[:top])]
    if not inside:
        return h
    a = bounds[max(0, min(inside) - neighbours)][0]
    b = bounds[min(len(bounds) - 1, max(inside) + neighbours)][1]
    if (a, b) == (0, len(r.text)):
        return h
    view = replace(r, start=r.start + a, end=r.start + b, text=r.text[a:b])  # same chunk_id: a part of it
    return replace(h, record=view)


def passages_to_read(ev: Evidence, n: int) -> list[Hit]:
    """The chunks holding the best sentences, best first, then the best-retrieved chunks."""
    by_doc: dict[str, list[Hit]] = {}
    for h in ev.hits:
        by_doc.setdefault(h.record.doc_id, []).append(h)
    chosen: list[Hit] = []
    for sp in ev.ranked:
        if len(chosen) >= n:
            break
        for h in by_doc.get(sp.doc_id, []):
            r = h.record
            if r.start <= sp.start and sp.end <= r.end:
                if h not in chosen:
                    chosen.append(h)
                break
    for h in ev.hits:
        if len(chosen) >= n:
            break
        if h not in chosen:
            chosen.append(h)
    return chosen


def type_match(text: str, qtype: QuestionType) -> float:
    """1 when the answer phrase is the kind of thing asked for, 0 when not, 0.5 when the
    question does not say (answer-type evidence for the decision)."""
    if qtype.kind == "number":
        return float(bool(mentions(text, "number")))
    if qtype.kind == "date":
        return float(bool(DATE_RE.search(text)) or bool(re.search(r"\b\d{3,4}\b", text)))
    if qtype.kind == "time":
        return float(bool(mentions(text, "time")))
    if qtype.kind in ("person", "place"):
        return float(bool(NAME_RE.search(text)))
    return 0.5


FEATURES = ("margin", "span_score", "null_score", "sent_score", "sent_coverage", "sent_similarity",
            "sent_type_ok", "sent_position", "chunk_position", "type_known", "type_match",
            "answer_words", "answer_in_question", "unknown_terms", "best_coverage", "best_similarity",
            "rank_among_candidates", "margin_gap", "from_rules", "from_reader", "reader_and_rules_agree",
            "names_missing_here", "span_gap", "agreeing_passages", "chunk_score", "verifier")

SPAN_GAP_CAP = 15.0  # start+end logits: a lead this large over every rival span is already certain


def span_gap(c: Candidate, cands: list[Candidate]) -> float:
    """How far the candidate's reader score leads the best rival span of its passage: for the
    reader's own span, the best span that does not overlap it (capped; the cap when there is
    none); for a span proposed by the rules, its score minus the reader's choice there."""
    if c.read.passage >= 0:
        if c.read.runner_up is None:
            return SPAN_GAP_CAP
        return min(SPAN_GAP_CAP, c.read.score - c.read.runner_up)
    own = [o for o in cands if o.read.passage >= 0 and o.doc_id == c.doc_id and o.chunk_rank == c.chunk_rank]
    return max(-SPAN_GAP_CAP, min(SPAN_GAP_CAP, c.read.score - own[0].read.score)) if own else 0.0


def same_answer(a: str, b: str) -> bool:
    """Two answer phrases say the same thing: folded word F1 of at least 0.5."""
    wa, wb = [fold(w) for w in TOKEN_RE.findall(a)], [fold(w) for w in TOKEN_RE.findall(b)]
    if not wa or not wb:
        return False
    common = sum(min(wa.count(w), wb.count(w)) for w in set(wa))
    return common > 0 and 2 * common / (len(wa) + len(wb)) >= 0.5


def agreeing_passages(c: Candidate, cands: list[Candidate]) -> float:
    """How many other passages give the same answer (the answer is corroborated)."""
    return float(len({(o.doc_id, o.chunk_rank) for o in cands
                      if (o.doc_id, o.chunk_rank) != (c.doc_id, c.chunk_rank) and same_answer(c.text, o.text)}))


def candidate_features(ev: Evidence, cands: list[Candidate]) -> None:
    """Fill each candidate's features (the decision's inputs; FEATURES names them)."""
    best = ev.ranked[0] if ev.ranked else None
    q_terms = set(terms(ev.question))
    order = sorted(range(len(cands)), key=lambda i: -cands[i].read.margin)
    reader_spans = [(c.doc_id, c.start, c.end) for c in cands if c.read.passage >= 0]
    rule_spans = [(c.doc_id, c.start, c.end) for c in cands if c.from_rules]

    def overlaps(c, spans) -> bool:
        return any(d == c.doc_id and s < c.end and c.start < e for d, s, e in spans)

    top_margin = cands[order[0]].read.margin if cands else 0.0
    pos_of = {id(sp): i for i, sp in enumerate(ev.ranked)}
    for rank, i in enumerate(order):
        c = cands[i]
        s = c.sentence
        a_terms = set(terms(c.text))
        c.features = {
            "margin": c.read.margin,
            "span_score": c.read.score,
            "null_score": c.read.null_score,
            "sent_score": s.score if s else 0.0,
            "sent_coverage": s.coverage if s else 0.0,
            "sent_similarity": s.similarity if s else 0.0,
            "sent_type_ok": float(s.type_ok) if s else 0.0,
            "sent_position": 1.0 / (1.0 + pos_of.get(id(s), 50)) if s else 0.0,
            "chunk_position": 1.0 / (1.0 + c.chunk_rank),
            "type_known": float(ev.qtype.kind != "other"),
            "type_match": type_match(c.text, ev.qtype),
            "answer_words": math.log1p(len(c.text.split())),
            "answer_in_question": (len(a_terms & q_terms) / len(a_terms)) if a_terms else 0.0,
            "unknown_terms": float(len(ev.unknown_terms)),
            "best_coverage": best.coverage if best else 0.0,
            "best_similarity": best.similarity if best else 0.0,
            "rank_among_candidates": 1.0 / (1.0 + rank),
            "margin_gap": c.read.margin - top_margin,
            "from_rules": float(c.from_rules),
            "from_reader": float(c.read.passage >= 0),
            # the reader's span and the rules' typed mention point at the same words
            "reader_and_rules_agree": float(overlaps(c, rule_spans) and overlaps(c, reader_spans)),
            # names and numbers of the question that the candidate's own passage never mentions
            "names_missing_here": float(len(missing_names(ev.question, passage_of(ev, c)))),
            # the reader's lead over the best other span of the same passage
            "span_gap": span_gap(c, cands),
            "agreeing_passages": agreeing_passages(c, cands),
            # the passage's fused retrieval score over the best passage's: like chunk_position,
            # but two passages retrieved almost alike get almost the same value (a rank jumps
            # from 1/2 to 1/3 when another document's statistics swap two near-tied passages)
            "chunk_score": chunk_score(ev, c),
            # the answer verifier's logit (answering/verifier.py), set by Answerer.verify when
            # the reader folder has a verifier; 0 without one (no decision then uses it)
            "verifier": 0.0,
        }


def chunk_score(ev: Evidence, c: Candidate) -> float:
    if not ev.hits or not 0 <= c.chunk_rank < len(ev.hits) or ev.hits[0].score <= 0:
        return 0.0
    return ev.hits[c.chunk_rank].score / ev.hits[0].score


def vector(features: dict[str, float]) -> np.ndarray:
    return np.array([features[f] for f in FEATURES], dtype=np.float64)
