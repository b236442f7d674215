"""The answering stage: from retrieved chunks to a typed Answer.

    answerer = Answerer(settings, embedder, quote_source)
    ev = answerer.evidence(question, q_vec, hits, sparse_index)   # sentences, reader candidates
    answer = answerer.extractive(ev)                               # the short answer + quotes, or why not

Evidence: the sentences of the retrieved chunks are scored (spans.py, lazily:
lazyspans.py); the span reader (reader.py) reads the chunks holding the best
sentences; each reader answer becomes a Candidate with features (evidence.py); the
learned decision (decide.py) picks the candidate and decides whether to answer.
Cross-source checks (corroborate.py) compare the value with the other articles.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Protocol

import numpy as np

from ..answer import AbstainReason, Answer, Conflict, Quote, ReadChunk, SupportGroup
from ..chunking import split_sentences
from ..documents import Document
from ..embeddings import CachedEmbedder
from ..planted import is_layout_token, is_question_shaped, screen_hits
from ..provenance import lead_by_provenance
from ..retrieve import Hit
from ..textnorm import terms
from .corroborate import ArticleAnswer, compared_as, cross_check, looks_like_person
from .decide import DecisionModel, load_decision, rank_candidates
from .evidence import (Candidate, Evidence, candidate_features, passages_to_read, read_key, reading_window,
                       unknown_key_terms)
from .extract import Mention, QuestionType, best_mention, mentions, question_type, value_phrase
from .lazyspans import score_spans_lazily
from .reader import ReadSpan, SpanReader, get_reader
from .values import Person, agree, parse_amount, parse_person
from .verifier import VERIFIER_FOLDER, AnswerVerifier, get_verifier, marked_context
from .render import abstain_words, abstention_text, answer_text
from .spans import Span, candidate_spans, score_spans
from .tuning import TUNING, Tuning


def _with_unit(sentence: str, m: Mention) -> bool:
    """The figure is a sum of money or a quantity with its unit ("R$540 million", "420-kg");
    not a duration: "nine years" and "five days" recur for unrelated things in one article."""
    v = parse_amount(sentence[slice(*value_phrase(sentence, m.start, m.end, "number"))])
    return v is not None and (v.money or v.unit.startswith("[") and v.unit != "[time]")


class QuoteSource(Protocol):
    """Where quotes are sliced from (the store)."""

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, Document]: ...


def quotes_for(source: QuoteSource, spans: list) -> list[Quote]:
    """Quotes sliced from the stored documents: verbatim by construction.
    `spans` are anything with doc_id, start, end."""
    docs = source.get_documents(sp.doc_id for sp in spans)
    return [Quote.from_document(docs[sp.doc_id], sp.start, sp.end) for sp in spans if sp.doc_id in docs]


def _of_docs_covering(spans: list[Span], bar: float) -> list[Span]:
    """The spans of every document with a span covering the question at `bar`."""
    docs = {sp.doc_id for sp in spans if sp.coverage >= bar}
    return [sp for sp in spans if sp.doc_id in docs]


def merge_nested(ranked: list[Candidate]) -> list[Candidate]:
    """One candidate per answer: a span nested in another of the same article ("$900 million"
    in "more than US$900 million") is the same answer, given as the longer span with the better
    probability. Without this, small changes in the collection's word statistics flip between
    the two when both are close."""
    kept: list[Candidate] = []
    for c in ranked:
        host = next((k for k in kept if k.doc_id == c.doc_id and (
            k.start <= c.start and c.end <= k.end or c.start <= k.start and k.end <= c.end)), None)
        if host is None:
            kept.append(c)
        elif c.from_rules != host.from_rules:
            # one is the typed phrase the rules read ("more than US$900 million"): a span that
            # does not move with small changes of the scores; keep the better probability
            if c.from_rules:
                host.start, host.end, host.text = c.start, c.end, c.text
                host.sentence, host.from_rules = c.sentence or host.sentence, True
        elif c.end - c.start > host.end - host.start and len(c.text.split()) <= len(host.text.split()) + 3:
            # c contains host and adds at most a qualifier: keep host's probability, c's span
            host.start, host.end, host.text, host.sentence = c.start, c.end, c.text, c.sentence or host.sentence
    return kept


_UNSET = object()
VERIFY_BEFORE, VERIFY_AFTER = 1500, 800  # characters around a candidate where its sentences are cut


class Answerer:
    def __init__(self, settings, embedder, quotes: QuoteSource, reader: Optional[SpanReader] = None,
                 decision: Optional[DecisionModel] = None, tuning: Tuning = TUNING):
        # the answer path's sentences repeat within a question and across a conversation
        self.settings, self.quotes = settings, quotes
        self.embedder = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
        self._reader = reader
        self._decision = decision
        self._verifier = _UNSET
        self.tuning = tuning

    @property
    def reader(self) -> SpanReader:
        if self._reader is None:
            self._reader = get_reader(self.settings.reader.path, self.settings)
        return self._reader

    @property
    def decision(self) -> DecisionModel:
        if self._decision is None:
            self._decision = load_decision(self.settings.reader.path)
        return self._decision

    @property
    def verifier(self) -> Optional[AnswerVerifier]:
        """The answer verifier kept beside the reader (`<reader>/verifier`), or None when the
        reader folder has none; a decision that uses its score refuses to run without it."""
        if self._verifier is _UNSET:
            folder = Path(self.settings.reader.path) / VERIFIER_FOLDER
            if (folder / "config.json").exists():
                self._verifier = get_verifier(folder, self.reader.bf16)
            elif self.decision.uses_verifier:
                from ..errors import ConfigError
                raise ConfigError(f"The answer decision in {self.settings.reader.path} uses the answer verifier, "
                                  f"but {folder} holds none: write it with `rag train-verifier --out {folder}` "
                                  "or reinstall the package.")
            else:
                self._verifier = None
        return self._verifier

    def verify(self, ev: Evidence, cands: list[Candidate]) -> None:
        """The verifier's logit of each candidate, read in its sentence and the one before
        (one batch per question), as the decision feature "verifier"."""
        v = self.verifier
        if v is None or not cands:
            return
        docs = self.quotes.get_documents({c.doc_id for c in cands})
        keep = [c for c in cands if c.doc_id in docs]
        contexts = []
        for c in keep:
            text = docs[c.doc_id].text
            # sentences looked for near the candidate only (the one before it and its own)
            contexts.append(marked_context(text, c.start, c.end, max(0, c.start - VERIFY_BEFORE),
                                           min(len(text), c.end + VERIFY_AFTER)))
        for c, logit in zip(keep, v.score(ev.question, contexts)):
            c.features["verifier"] = float(logit)

    # -- evidence -------------------------------------------------------------------------
    def evidence(self, question: str, q_vec: np.ndarray, hits: list[Hit], sparse) -> Evidence:
        qtype = question_type(question)
        hits, set_aside = screen_hits(hits)  # passages that are not evidence (planted.py)
        held = [h for h in hits if getattr(h, "held", False)]  # read only on their own (provenance.py)
        further = [h for h in hits if getattr(h, "further", False)]  # likewise: corroboration only
        hits = [h for h in hits if not getattr(h, "held", False) and not getattr(h, "further", False)]
        spans = [sp for sp in candidate_spans(hits) if not is_question_shaped(sp.text)]
        ranked: list[Span] = []
        if spans:
            # embeds only sentences whose similarity can change the result (lazyspans.py)
            ranked = score_spans_lazily(question, spans, q_vec, self.embedder, sparse.idf, qtype)
        unknown = unknown_key_terms(question, sparse.df, [h.record.text for h in hits + set_aside])
        ev = Evidence(question, qtype, hits, ranked, unknown, sparse.idf, set_aside=set_aside, held=held,
                      q_vec=q_vec, further=further)
        if ranked:
            ev.candidates = self.read(ev)
            if ev.candidates:  # a file cannot outvote the outlet it claims to be (provenance.py)
                ev.candidates = lead_by_provenance(ev.candidates, self.quotes.get_documents(
                    {c.doc_id for c in ev.candidates}), self.decision.accepts)
        return ev

    def read(self, ev: Evidence, hits: Optional[list[Hit]] = None) -> list[Candidate]:
        """Answer candidates, ranked by the learned decision: the reader's best span in each of
        the best passages, and (for figure, date, time and name questions) the typed mention
        that the rules pick in each of the best sentences, scored by the reader too. A passage
        is read once per question (ev.reads), however often it is asked for."""
        if hits is None:
            hits = self.windows(ev, passages_to_read(ev, self.tuning.reader_passages))
        self.prefetch(ev, hits)
        reads = [ev.reads[read_key(h)][0] for h in hits]
        scorers = [ev.reads[read_key(h)][1] for h in hits]
        # a candidate's chunk rank is that of the chunk its reading window is cut from
        rank_of = {h.record.chunk_id: i for i, h in reversed(list(enumerate(ev.hits)))}
        cands: list[Candidate] = []
        for h, r in zip(hits, reads):
            if r is None or not r.text.strip() or is_layout_token(r.text):
                continue
            start = h.record.start + r.start
            cands.append(Candidate(h.record.doc_id, start, h.record.start + r.end, r.text,
                                   self._sentence_at(ev, h.record.doc_id, start), r,
                                   rank_of.get(h.record.chunk_id, len(ev.hits))))
        if ev.qtype.kind in ("number", "date", "time", "person"):
            cands += self._rule_candidates(ev, hits, scorers, rank_of, cands)
        candidate_features(ev, cands)
        self.verify(ev, cands)
        return merge_nested(rank_candidates(self.decision, cands))

    def prefetch(self, ev: Evidence, hits: list[Hit]) -> None:
        """Read the passages not read yet for this question, in one reader call (one batch
        costs less than a call per article: fewer, larger matrix products)."""
        todo = list({read_key(h): h for h in hits if read_key(h) not in ev.reads}.values())
        if todo:
            fresh, fresh_scorers = self.reader.read_scored([(ev.question, h.record.text) for h in todo])
            for h, r, sc in zip(todo, fresh, fresh_scorers):
                ev.reads[read_key(h)] = (r, sc)

    def windows(self, ev: Evidence, hits: list[Hit]) -> list[Hit]:
        """Each chunk cut to the part the reader reads (evidence.reading_window)."""
        return [reading_window(ev, h, self.tuning.reader_window, self.tuning.reader_passages) for h in hits]

    def _rule_candidates(self, ev: Evidence, hits, scorers, rank_of, reader_cands) -> list[Candidate]:
        seen = {(c.doc_id, c.start, c.end) for c in reader_cands}
        out = []
        for sp in ev.ranked[:self.tuning.rule_sentences]:
            m = best_mention(ev.question, sp.text, ev.qtype, ev.idf)
            if m is None:
                continue
            start, end = sp.start + m.start, sp.start + m.end
            if (sp.doc_id, start, end) in seen:
                for c in reader_cands:
                    if (c.doc_id, c.start, c.end) == (sp.doc_id, start, end):
                        c.from_rules = True
                continue
            for h, scorer in zip(hits, scorers):
                r = h.record
                if r.doc_id != sp.doc_id or not (r.start <= start and end <= r.end):
                    continue
                score = scorer.score(start - r.start, end - r.start)
                if score is None:
                    continue
                read = ReadSpan(-1, start - r.start, end - r.start, r.text[start - r.start:end - r.start],
                                score, scorer.null)
                out.append(Candidate(sp.doc_id, start, end, read.text, sp, read,
                                     rank_of.get(h.record.chunk_id, len(ev.hits)),
                                     from_rules=True))
                seen.add((sp.doc_id, start, end))
                break
        return out

    @staticmethod
    def _sentence_at(ev: Evidence, doc_id: str, pos: int) -> Optional[Span]:
        return next((sp for sp in ev.ranked if sp.doc_id == doc_id and sp.start <= pos < sp.end), None)

    # -- the extractive answer ------------------------------------------------------------
    def extractive(self, ev: Evidence) -> Answer:
        read = [ReadChunk(h.record.chunk_id, h.record.doc_id, h.record.start, h.record.end, h.record.text,
                          h.dense_rank, h.sparse_rank) for h in ev.hits]
        if not ev.ranked:
            reason = AbstainReason("nothing-retrieved", abstain_words("nothing-retrieved"))
            return Answer(ev.question, abstention_text(reason.words), abstained=True, abstain_reason=reason,
                          read=read)
        best = ev.candidates[0] if ev.candidates else None
        threshold = self.decision.threshold
        if best is None or not self.decision.answers(ev.candidates):
            code = "unknown-terms" if ev.unknown_terms else "no-answer-found"
            words = abstain_words(code, ev.unknown_terms, ev.qtype.kind)
            detail = {"p_correct": round(best.p_correct, 4) if best else None, "threshold": threshold,
                      "gate": self.decision.gate,
                      "gate_value": round(self.decision.score(best), 4) if best else None,
                      "unknown_terms": list(ev.unknown_terms),
                      "best_coverage": round(ev.ranked[0].coverage, 4),
                      "best_similarity": round(ev.ranked[0].similarity, 4),
                      "reader_margin": round(best.read.margin, 3) if best else None}
            reason = AbstainReason(code, words, detail)
            return Answer(ev.question, abstention_text(words), abstained=True, abstain_reason=reason,
                          closest=quotes_for(self.quotes, ev.ranked[:3]), read=read,
                          confidence=round(self.decision.confidence(best), 4) if best else None)
        return self._answer(ev, best, read)

    def _answer(self, ev: Evidence, best: Candidate, read: list[ReadChunk]) -> Answer:
        sentence = self._quoted_sentence(ev, best)
        read_alone = self.article_answers(ev, best)
        # values are compared across articles as the question's kind, or as figures when the
        # question does not say and the answer is one ("What fine ...?" -> "€1.2 million")
        asked_as = ev.qtype
        ev = replace(ev, qtype=compared_as(ev.qtype, best.text))
        docs = self.quotes.get_documents({sp.doc_id for sp in ev.ranked} | {best.doc_id}
                                         | {sub.hits[0].record.doc_id for sub, _, _ in read_alone if sub.hits})
        # identity of each article's text, hashed once: a copy under another name counts once
        keys = {d: hashlib.sha1(doc.text[doc.body_start:].encode("utf-8", "surrogatepass")).hexdigest()
                for d, doc in docs.items()}
        mine = self._article_answer(ev, best, sentence, docs, keys)
        person = self._answer_person(ev.qtype, mine)  # looked for in each other article
        others = [[replace(self._article_answer(ev, c, self._quoted_sentence(sub, c), docs, keys),
                           answers=answers) for c in cands]
                  + self._stated_in(ev, sub, docs, keys, person)
                  for sub, cands, answers in read_alone]
        own = [self._article_answer(ev, c, self._quoted_sentence(ev, c), docs, keys) for c in ev.candidates
               if c.doc_id == best.doc_id and c is not best and self.decision.accepts(c)
               and (c.end <= best.start or c.start >= best.end)][: self.tuning.article_answers]
        agree, differ = cross_check(ev.question, ev.qtype, mine, others, own,
                                    asked_as=asked_as if ev.qtype != asked_as else None)
        spans = [s.span for s in agree[:1] + differ + agree[1:]]
        max_q = max(self.settings.answer.max_quotes, len(spans))
        quotes = quotes_for(self.quotes, spans[:max_q])
        short = quotes_for(self.quotes, [best])[0]
        by_span = {(q.doc_id, q.start): q for q in quotes}

        def quote_of(sp: Span) -> Quote:
            return by_span[(sp.doc_id, sp.start)]

        def source_of(sp: Span) -> str:
            q = quote_of(sp)
            return q.source_label  # the outlet, qualified when only a .jsonl field or upload claims it

        # "reported by N of M": M counts the articles that discuss the question (a sentence
        # covering as much of it as a cross-source passage must), not every article retrieved;
        # a further article (ev.further) only when it agrees: counted whenever its sentences
        # passed that lexical bar, articles about other events turned "2 of 5" into "2 of 9" on
        # the measuring sets (eval/candidates/2026-11-27-further-stated.md)
        n_docs = len(self._discussing(ev, sentence) | self._held_discussing(ev, sentence)
                     | {s.span.doc_id for s in agree + differ})
        first = quotes[0] if quotes else None
        holds = (first is not None and first.doc_id == short.doc_id
                 and first.start <= short.start and short.end <= first.end)
        lead, sentence_part, text = answer_text(short.text, agree, differ, source_of, n_docs, first.text if holds else None)
        support = []
        if len(agree) > 1:
            support = [SupportGroup(short.text, tuple(quote_of(s.span) for s in agree))]
        conflicts = []
        if differ:
            conflicts = [Conflict(s.mention.text if s.mention else short.text, quote_of(s.span).outlet,
                                  quote_of(s.span).date, "other-measure" if s.other_measure else "value",
                                  quote_of(s.span)) for s in agree[:1] + differ]
        return Answer(ev.question, text, quotes=quotes, support=support, conflicts=conflicts, short=short,
                      confidence=round(self.decision.confidence(best), 4), read=read, lead=lead,
                      context=sentence_part)

    def _quoted_sentence(self, ev: Evidence, c: Candidate) -> Span:
        """The sentence quoted for an answer: the one holding it, and the next when the answer
        runs over a sentence break."""
        sentence = c.sentence or self._sentence_of(ev, c)
        if c.end > sentence.end:  # an answer running over a sentence break: quote both
            nxt = next((sp for sp in ev.ranked if sp.doc_id == sentence.doc_id and sp.start >= sentence.end
                        and sp.start < c.end), None)
            end = max(c.end, nxt.end if nxt else c.end)
            merged = quotes_for(self.quotes, [replace(sentence, end=end)])
            if merged:
                sentence = replace(sentence, end=end, text=merged[0].text)
        return sentence

    @staticmethod
    def _article_answer(ev: Evidence, c: Candidate, sentence: Span, docs: dict, keys: dict) -> ArticleAnswer:
        # the value compared across sources carries its noun or title ("31 injured", "Mayor Elena Varga")
        m0, m1 = value_phrase(sentence.text, c.start - sentence.start, c.end - sentence.start, ev.qtype.kind)
        doc = docs.get(c.doc_id)
        key = keys.get(c.doc_id, "")
        return ArticleAnswer(c.doc_id, sentence, Mention(m0, m1, sentence.text[m0:m1]), key,
                             doc.date if doc else None)

    @staticmethod
    def _answer_person(qtype: QuestionType, answer: ArticleAnswer) -> Optional[Person]:
        """For a "who" question, the answer's person when it reads as a person's name."""
        if qtype.kind != "person":
            return None
        p = parse_person(answer.mention.text)
        return p if p is not None and looks_like_person(p, answer.mention.text) else None

    def _stated_in(self, ev: Evidence, sub: Evidence, docs: dict, keys: dict,
                   person: Optional[Person] = None) -> list[ArticleAnswer]:
        """An article's stated values (stated_values) as answers that can only agree; for a
        "who" question, its mentions of the answer's `person` (_answer_person)."""
        doc = docs.get(sub.hits[0].record.doc_id) if sub.hits else None
        if doc is None:
            return []
        out = []
        # rank: after every retrieved chunk (the sentence may lie in none of them)
        for sp, m in self.stated_values(ev.question, ev.qtype, doc, len(ev.hits), person):
            m0, m1 = value_phrase(sp.text, m.start, m.end, ev.qtype.kind)  # "two" -> "two-kilometre radius"
            out.append(ArticleAnswer(sp.doc_id, sp, Mention(m0, m1, sp.text[m0:m1]), keys.get(sp.doc_id, ""),
                                     doc.date, answers=False, stated=True))
        return out

    def _discussing_bar(self, sentence: Span) -> float:
        """The coverage a sentence needs for its article to discuss the question (as much of it
        as a cross-source passage must cover, relative to the answer's sentence)."""
        return self.tuning.related_coverage * sentence.coverage

    def _discussing(self, ev: Evidence, sentence: Span) -> set[str]:
        """Articles with a sentence covering as much of the question as a cross-source passage must."""
        bar = self._discussing_bar(sentence)
        return {sp.doc_id for sp in ev.ranked if sp.coverage >= bar}

    def article_answers(self, ev: Evidence, best: Candidate) -> list[tuple[Evidence, list[Candidate], bool]]:
        """Each other article that discusses the question, read on its own: the reader on its
        best passages and the learned decision on its candidates, as if it were the only article
        indexed. Its answers (best first, at most `Tuning.article_answers`) are verbatim spans of
        it; cross_check counts it as a conflict only when, read alone, it would answer (its best
        answer over the decision's own threshold, fitted on training data), and as support when
        one of them states the answer's value (an equal value is itself evidence that it reports
        the same fact). Articles with no passage among those read for the answer (ev.further)
        that discuss the question come last, unread and with no answers: they can only agree,
        through the values they state (_stated_in)."""
        sentence = best.sentence or self._sentence_of(ev, best)
        discussing = self._discussing(ev, sentence)
        order: list[str] = []
        for sp in ev.ranked:
            if sp.doc_id in discussing and sp.doc_id != best.doc_id and sp.doc_id not in order:
                order.append(sp.doc_id)
        # then the documents held out for claiming an outlet a stronger one speaks for: read
        # alone like the others, they can agree or be a side of a disagreement, never lead
        bar = self._discussing_bar(sentence)
        room = self.tuning.max_articles - len(order)
        covering = [sp for sp in self._held_covering(ev, bar) if sp.doc_id != best.doc_id] if room > 0 else []
        held: list[Span] = []
        if covering:
            # which of them are read, and in what order, goes by their full scores: embedded
            # only here, when some held document discusses the question and there is room
            held = self._held_ranked(ev, covering)
            for sp in held:
                if sp.coverage >= bar and sp.doc_id not in order:
                    order.append(sp.doc_id)
        # then the articles that no read passage is from (retrieved further down, Hit.further)
        # when one of their sentences discusses the question: not read (a reader pass each cost
        # +18% ask() time at 10k chunks), they can only agree, through the values they state
        # (stated_values; eval/candidates/2026-11-27-further-stated.md)
        room = self.tuning.max_articles - len(order)
        further = self._further_covering(ev, bar) if room > 0 else []
        for sp in further:
            if sp.coverage >= bar and sp.doc_id not in order:
                order.append(sp.doc_id)
        held_ids = {sp.doc_id for sp in held}
        reached = {sp.doc_id for sp in further}
        subs = []
        for doc_id in order[: self.tuning.max_articles]:
            pool = ev.hits if doc_id in discussing else ev.held if doc_id in held_ids else ev.further
            spans = ev.ranked if doc_id in discussing else held if doc_id in held_ids else further
            sub = Evidence(ev.question, ev.qtype, [h for h in pool if h.record.doc_id == doc_id],
                           [sp for sp in spans if sp.doc_id == doc_id], ev.unknown_terms, ev.idf,
                           reads=ev.reads)
            read = [] if doc_id in reached else passages_to_read(sub, self.tuning.article_passages)
            subs.append((doc_id, sub, self.windows(sub, read)))
        self.prefetch(ev, [h for _, _, hits in subs for h in hits])  # every article's passages in one call
        out = []
        for doc_id, sub, hits in subs:
            cands = [] if doc_id in reached else self.read(sub, hits)
            # and whether, read alone, the article would answer at all (an article without any
            # candidate stays: it can still agree through a value it states, stated_values)
            alone = bool(cands) and self.decision.answers(cands)
            out.append((sub, cands[: self.tuning.article_answers], alone))
        return out

    @staticmethod
    def stated_values(question: str, qtype: QuestionType, doc: Document, rank: int = 0,
                      person: Optional[Person] = None) -> list[tuple[Span, Mention]]:
        """The values of the asked kind (figures, dates, times) that an article states in a
        sentence sharing a word with the question, in the article's order. The article was read
        on its best passages only; an equal value elsewhere in it is the article reporting the
        same fact in other words ("The line, dating from 1911, ..." beside an answer "built in
        1911", in a passage retrieval ranked too low to read). corroborate.cross_check counts
        one only when it measures what was asked, and never as a side of a disagreement.
        Names only as the answer's own `person`, by at least two of its names ("Juergen
        Massmann" for "Dr. Jürgen Maßmann"): not any capitalised run, which may be a place
        ("Stary Wądół"); cross_check also takes one only from an article whose own reading
        gives no other answer."""
        if qtype.kind == "person":
            return [] if person is None else Answerer._people_named(doc, person, rank)
        if qtype.kind not in ("number", "date", "time"):
            return []
        q_terms = set(terms(question))
        out = []
        for s, e in split_sentences(doc.text, doc.body_start):
            text = doc.text[s:e]
            shares = bool(q_terms & set(terms(text)))
            # a sum of money or a quantity with its unit counts wherever the article gives it
            # ("The 420-kg satellite ..." for "How heavy is Carcará-1?"): an equal one is the
            # same fact (cross_check still needs the same currency or dimension)
            out += [(Span(doc.doc_id, s, e, text, rank), m) for m in mentions(text, qtype.kind)
                    if shares or qtype.kind == "number" and _with_unit(text, m)]
        return out

    @staticmethod
    def _people_named(doc: Document, person: Person, rank: int) -> list[tuple[Span, Mention]]:
        """The mentions of `person` in the article: name runs that agree with it and share at
        least two of its names (all of them when it has fewer)."""
        need = min(2, len(person.names))

        def spelt(names) -> set[str]:  # German transliteration: "Juergen" is "Jürgen" ("Jurgen" folded)
            return {re.sub(r"([aou])e", r"\1", n) for n in names}

        from unidecode import unidecode

        wanted = spelt(person.names)
        names = {n for n in wanted if len(n) > 1}
        out = []
        for s, e in split_sentences(doc.text, doc.body_start):
            text = doc.text[s:e]
            folded = set(spelt(re.findall(r"[a-z0-9]+", unidecode(text).lower())))
            if len(names & folded) < min(need, len(names)):
                continue  # names none of them: not parsed (nameparser costs ~0.1 ms a run)
            for m in mentions(text, "person"):
                v = parse_person(m.text)
                if v is not None and agree(v, person) and len(spelt(v.names) & wanted) >= need:
                    out.append((Span(doc.doc_id, s, e, text, rank), m))
        return out

    def _held_covering(self, ev: Evidence, bar: float) -> list[Span]:
        """The held-out documents' sentences (not question-shaped) of every document with a
        sentence covering the question at `bar`. Coverage is lexical, so this embeds nothing."""
        if ev.held_spans is None:
            ev.held_spans = self._coverage_pass(ev, ev.held)
        return _of_docs_covering(ev.held_spans, bar)

    def _further_covering(self, ev: Evidence, bar: float) -> list[Span]:
        """_held_covering for the further articles' passages (Hit.further)."""
        if ev.further_spans is None:
            ev.further_spans = self._coverage_pass(ev, ev.further)
        return _of_docs_covering(ev.further_spans, bar)

    @staticmethod
    def _coverage_pass(ev: Evidence, hits: list[Hit]) -> list[Span]:
        """The sentences (not question-shaped) of `hits`, scored with similarity 0 for all: only
        the coverage of this pass is used."""
        spans = [sp for sp in candidate_spans(hits) if not is_question_shaped(sp.text)]
        if spans:
            score_spans(ev.question, spans, np.zeros(1, np.float32), np.zeros((len(spans), 1), np.float32),
                        ev.idf, ev.qtype)
        return spans

    def _held_ranked(self, ev: Evidence, spans: list[Span]) -> list[Span]:
        """Those sentences scored in full (similarity too), best first. Only the sentences of
        held documents that discuss the question get embedded (embedding every held
        sentence cost ~130 ms a question on corpora with many same-outlet claims)."""
        key = frozenset(sp.doc_id for sp in spans)
        if key not in ev.held_ranked:
            q_vec = self.embedder.embed([ev.question])[0] if ev.q_vec is None else ev.q_vec
            fresh = [replace(sp) for sp in spans]  # the coverage pass's spans stay as they are
            ev.held_ranked[key] = score_spans_lazily(ev.question, fresh, q_vec, self.embedder, ev.idf, ev.qtype)
        return ev.held_ranked[key]

    def _held_discussing(self, ev: Evidence, sentence: Span) -> set[str]:
        return {sp.doc_id for sp in self._held_covering(ev, self._discussing_bar(sentence))}

    def _sentence_of(self, ev: Evidence, c: Candidate) -> Span:
        """The sentence of the candidate's chunk that holds its start (when not among the scored)."""
        for h in ev.hits:
            r = h.record
            if r.doc_id == c.doc_id and r.start <= c.start < r.end:
                for s, e in split_sentences(r.text):
                    if r.start + s <= c.start < r.start + e:
                        return Span(r.doc_id, r.start + s, r.start + e, r.text[s:e], c.chunk_rank)
        return Span(c.doc_id, c.start, c.end, c.text, c.chunk_rank)
