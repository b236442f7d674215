"""The Python face of the product: `from rag import Assistant`."""
from __future__ import annotations

import re
import time
from pathlib import Path
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Optional, Union

from .answer import Answer, Quote
from .corroborate import cross_check, describe
from .documents import Document
from .embeddings import Embedder, get_embedder
from .errors import QuestionError
from .extract import QuestionType, best_mention, question_type
from .ingest import IngestReport, Progress, ingest_paths
from .serverlock import write_lock
from .lazyspans import score_spans_lazily
from .retrieve import Hit, HybridRetriever
from .settings import Settings
from .sparse import SparseCache
from .spans import Span, abstain_reason, candidate_spans, pick_quotes, score_spans
from .store import Store
from .textnorm import STOPWORDS, TOKEN_RE, fold

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ABSTAIN_TEXT = "The articles do not answer this question."


class Assistant:
    """Grounded question answering over an index of articles.

    Assistant()                      the default index (./index), built from the
                                     bundled articles on first use
    Assistant(index_dir="other")     another index, empty until you ingest
    """

    def __init__(self, index_dir: str | Path | None = None, settings: Optional[Settings] = None,
                 bootstrap: Optional[bool] = None):
        settings = settings or Settings()
        if index_dir is not None:
            settings = settings.model_copy(update={"index_dir": Path(index_dir)})
        self.settings = settings
        self.store = Store(settings)
        self.sparse = SparseCache(self.store, settings.index_dir)
        self.retriever = HybridRetriever(self.store, self.sparse, settings.retrieval)
        self.lock = write_lock(settings, self.store)  # file lock; + a lease on a Chroma server
        self._embedder: Optional[Embedder] = None
        if bootstrap is None:
            bootstrap = index_dir is None
        if bootstrap and settings.bootstrap_dir and self.store.docs.count() == 0:
            self.ingest([settings.bootstrap_dir])

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            e = self.settings.embedding
            self._embedder = get_embedder(e.provider, e.model, e.device, e.batch_size, e.kernel_cache)
        return self._embedder

    # -- articles -----------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], progress: Optional[Progress] = None) -> IngestReport:
        with self.lock:
            self.store.sweep_orphans()
            report = ingest_paths(paths, self.store, self.embedder, self.settings, progress)
        self.sparse.invalidate()
        return report

    def remove(self, doc_id: str) -> None:
        with self.lock:
            self.store.get_document(doc_id)  # raises DocumentNotFoundError
            self.store.delete_document(doc_id)
        self.sparse.invalidate()

    def documents(self) -> list[dict]:
        recs = self.store.document_records()
        out = [{"doc_id": i, "title": r.get("title"), "source": r.get("source"),
                "date": r.get("date"), "outlet": r.get("outlet"), "chunks": r.get("n_chunks"),
                "chars": r.get("n_chars")} for i, r in recs.items()]
        return sorted(out, key=lambda d: (d["date"] or "", d["doc_id"]))

    def document(self, doc_id: str) -> Document:
        return self.store.get_document(doc_id)

    # -- questions ------------------------------------------------------------
    def check_question(self, question: str) -> str:
        if not isinstance(question, str):
            raise QuestionError("The question must be text.")
        q = " ".join(_CONTROL.sub(" ", question).split())
        if not q:
            raise QuestionError("The question is empty: type a question about the articles.")
        limit = self.settings.answer.max_question_chars
        if len(q) > limit:
            raise QuestionError(
                f"The question is {len(q):,} characters long; the limit is {limit:,} "
                "(setting RAG_ANSWER__MAX_QUESTION_CHARS). Ask something shorter.")
        if not TOKEN_RE.search(q):
            raise QuestionError("The question has no words in it: type a question about the articles.")
        return q

    def ask(self, question: str, top_k: Optional[int] = None, llm: Optional[str] = None) -> Answer:
        """Answer one question; the answer carries its verbatim quotes."""
        return _last_answer(self.ask_stream(question, top_k=top_k, llm=llm))

    def chat(self, history: Optional[list[dict]], question: str, **kw) -> Answer:
        """Answer a question in a conversation (gradio "messages" history)."""
        return _last_answer(self.chat_stream(history, question, **kw))

    def chat_stream(self, history: Optional[list[dict]], question: str,
                    **kw) -> Iterator[Union[str, Answer]]:
        return self.ask_stream(question, history=history, **kw)

    def ask_stream(self, question: str, top_k: Optional[int] = None,
                   history: Optional[list[dict]] = None, llm: Optional[str] = None,
                   rewritten_from: Optional[str] = None) -> Iterator[Union[str, Answer]]:
        """Yield pieces of the answer text as they are written, then the full Answer.

        `llm` overrides settings.llm.backend for this call ("none", "local", "openai",
        "ollama"). With a non-empty `history` ([{"role", "content"}, ...]) the question
        is first rewritten into a standalone one (Answer.rewritten_question). The final
        Answer's text replaces the streamed text (they differ when the LLM's answer
        failed the citation check and the extractive answer was used instead).
        """
        from .llm import get_chat_model
        from .llm.answering import llm_answer_stream
        from .llm.followup import rewrite_followup

        q = self.check_question(question)
        ls = self.settings.llm
        chat = get_chat_model(llm if llm is not None else ls.backend, ls)  # clear error if unknown
        self.embedder  # load the model (once) outside the timed part
        t0 = time.perf_counter()
        if history:
            rewritten_from = q
            q = self.check_question(rewrite_followup(history, q, chat if ls.rewrite_followups else None))
        tr = time.perf_counter()
        ev = self.evidence(q, top_k)
        t1 = time.perf_counter()
        ev_own = ev
        if rewritten_from and rewritten_from != q and question_type(rewritten_from).kind != "other":
            # retrieval used the context words; the figure is picked by the follow-up's own words
            # ("how much did that save the budget?" -> the money figure, not the doses counted before)
            ev_own = replace(ev, question=rewritten_from, qtype=question_type(rewritten_from))
        answer = self.extractive_answer(ev_own)
        timings: dict[str, float] = {}
        if chat is None or answer.abstained:  # never ask a model to answer what the articles do not
            yield answer.text
        else:
            for item in llm_answer_stream(self, ev, answer, chat, ls.evidence_spans, ls.max_tokens, timings):
                if isinstance(item, Answer):
                    answer = item
                else:
                    yield item
        t2 = time.perf_counter()
        answer.timings = {"retrieve_ms": round((t1 - tr) * 1000, 1),
                          "answer_ms": round((t2 - t1) * 1000, 1),
                          "total_ms": round((t2 - t0) * 1000, 1), **timings}
        if history:
            answer.timings["rewrite_ms"] = round((tr - t0) * 1000, 1)
        if rewritten_from is not None:
            answer.question, answer.rewritten_question = rewritten_from, q
        yield answer

    def evidence(self, question: str, top_k: Optional[int] = None) -> Evidence:
        """Retrieve, then score the sentences of the retrieved chunks."""
        q_vec = self.embedder.embed([question])[0]
        hits = self.retriever.retrieve(question, q_vec, top_k)
        sparse = self.sparse.get()
        qtype = question_type(question)
        spans = candidate_spans(hits)
        ranked: list[Span] = []
        if spans:
            # embeds only sentences whose similarity can change the answer (lazyspans.py)
            ranked = score_spans_lazily(question, spans, q_vec, self.embedder, sparse.idf, qtype)
        s = self.settings.answer
        reason = abstain_reason(ranked[0] if ranked else None, s.min_coverage, s.min_similarity,
                                unknown_key_terms(question, sparse.df, [h.record.text for h in hits]),
                                s.strong_similarity)
        return Evidence(question, qtype, hits, ranked, reason, sparse.idf)

    def quotes_for(self, spans: list[Span]) -> list[Quote]:
        """Quotes sliced from the stored documents: verbatim by construction."""
        docs = self.store.get_documents(sp.doc_id for sp in spans)
        return [Quote.from_document(docs[sp.doc_id], sp.start, sp.end) for sp in spans if sp.doc_id in docs]

    def extractive_answer(self, ev: Evidence) -> Answer:
        if ev.abstain_reason:
            return Answer(ev.question, f"{ABSTAIN_TEXT} ({ev.abstain_reason}.)", abstained=True,
                          closest=self.quotes_for(ev.ranked[:3]))
        if not ev.ranked:
            return Answer(ev.question, f"{ABSTAIN_TEXT} (no evidence.)", abstained=True)
        best = ev.ranked[0]
        mention = best_mention(ev.question, best.text, ev.qtype, ev.idf)
        agree, differ = cross_check(ev.question, ev.qtype, best, mention, ev.ranked, ev.idf)
        # quotes: the answer, every other side, every agreeing article, then other strong spans
        spans = [s.span for s in agree[:1] + differ + agree[1:]]
        max_q = max(self.settings.answer.max_quotes, len(spans))
        spans += [s for s in pick_quotes(ev.ranked, max_q) if s not in spans]
        quotes = self.quotes_for(spans[:max_q])
        by_span = {(q.doc_id, q.start): q for q in quotes}

        def quote_of(sp: Span) -> Quote:
            return by_span[(sp.doc_id, sp.start)]

        def source_of(sp: Span) -> str:
            q = quote_of(sp)
            return q.outlet or q.title

        n_docs = len({h.record.doc_id for h in ev.hits})
        text = describe(mention.text if mention else quotes[0].text, agree, differ, source_of, n_docs)
        support = []
        if len(agree) > 1:
            support = [{"value": mention.text if mention else None,
                        "quotes": [quote_of(s.span).to_dict() for s in agree]}]
        conflicts = []
        if differ:
            conflicts = [{"value": s.mention.text, "outlet": quote_of(s.span).outlet,
                          "date": quote_of(s.span).date,
                          "kind": "other-measure" if s.other_measure else "value",
                          "quote": quote_of(s.span).to_dict()} for s in agree[:1] + differ]
        return Answer(ev.question, text, quotes=quotes, support=support, conflicts=conflicts)


def _last_answer(items: Iterable[Union[str, Answer]]) -> Answer:
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    assert answer is not None
    return answer


@dataclass
class Evidence:
    """Everything answering knows about one question before writing the answer."""

    question: str
    qtype: QuestionType
    hits: list[Hit]
    ranked: list[Span]  # candidate sentences, best first
    abstain_reason: Optional[str]  # None when the evidence is strong enough
    idf: Callable[[str], float]


def unknown_key_terms(question: str, df, passages: Iterable[str] = ()) -> list[str]:
    """Names and numbers of the question that the retrieved passages never contain.

    "How many doses came from the United States?" over passages that never say
    "United" cannot be answered, however similar the rest of the question is.
    Names are checked as folded words, not stems ("United" is not "unite"),
    also against two words run together ("Vietnam" in "Việt Nam", "Hanoi" in
    "Hà Nội"); numbers against the index vocabulary.
    """
    from .textnorm import _norm_word

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
            if _norm_word(raw) not in df:
                out.append(raw)
        elif i > 0 and raw[0].isupper():
            base = re.sub(r"['’]s$", "", w)
            if _norm_word(raw) not in df or (words and w not in words and base not in words):
                out.append(raw)
    return out
