"""The Python face of the product: `from rag import Assistant`."""
from __future__ import annotations

import re
import time
from pathlib import Path

from typing import Callable, Iterable, Iterator, Optional, Union

from dataclasses import asdict

from .answer import Answer, SourceWarning
from .answering import Answerer, Evidence
from .answering.extract import question_type
from .answering.render import ABSTAIN_TEXT, with_warnings  # noqa: F401  (ABSTAIN_TEXT re-exported)
from .answering.tuning import TUNING
from .documents import Document, Provenance
from .provenance import clashes_of, outlet_claims, same_title_claims
from .embeddings import Embedder, get_embedder
from .errors import QuestionError
from .ingest import IngestReport, Progress, ingest_paths
from .retrieve import HybridRetriever
from .serverlock import write_lock
from .settings import Settings
from .sparse import SparseCache
from .store import Store
from .textclean import has_surrogate, strip_invisible
from .textnorm import TOKEN_RE

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Assistant:
    """Grounded question answering over an index of articles.

    Assistant()                      the default index (./index), built from the
                                     bundled articles on first use
    Assistant(index_dir="other")     another index, empty until you ingest
    """

    def __init__(self, index_dir: str | Path | None = None, settings: Optional[Settings] = None,
                 bootstrap: Optional[bool] = None, embedder: Optional[Embedder] = None,
                 chat_model=None, reader=None):
        settings = settings or Settings()
        if index_dir is not None:
            settings = settings.model_copy(update={"index_dir": Path(index_dir)})
        self.settings = settings
        self.store = Store(settings)
        self.sparse = SparseCache(self.store, settings.index_dir)
        self.retriever = HybridRetriever(self.store, self.sparse, settings.retrieval, claims=self.outlet_claims,
                                         related_coverage=TUNING.related_coverage)
        self.lock = write_lock(settings, self.store)  # file lock; + a lease on a Chroma server
        self._embedder: Optional[Embedder] = embedder
        self.chat_model = chat_model  # an instance used instead of settings.llm.backend
        self._reader = reader
        self._answerer: Optional[Answerer] = None
        # (index generation, same-title clashes, the store records of the documents in them)
        self._clashes: Optional[tuple[str, list, dict]] = None
        self._claims: Optional[tuple[str, dict]] = None  # (index generation, outlet claims)
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

    @classmethod
    def open(cls, index_dir: str | Path | None = None, settings: Optional[Settings] = None,
             progress: Callable[[str], None] = lambda message: None) -> "Assistant":
        """Open an index ready to answer, saying each step: on first start the default index is
        built from the bundled articles; the embedding model and the reader are loaded."""
        settings = settings or Settings()
        t0 = time.perf_counter()
        progress(f"Opening the index in {index_dir if index_dir is not None else settings.index_dir}")
        a = cls(index_dir=index_dir, settings=settings, bootstrap=False)
        if index_dir is None and settings.bootstrap_dir and not a.documents():
            progress("First start: indexing the bundled articles")

            def step(done: int, total: int, path: str) -> None:
                if path:
                    progress(f"First start: indexing the bundled articles ({done + 1}/{total}: {Path(path).name})")

            a.ingest([settings.bootstrap_dir], progress=step)
        progress("Loading the embedding model")
        a.embedder.embed(["warm up"])
        progress("Loading the reader")
        a.answerer.reader
        from .answering.values import warm
        warm()  # the value parsers' data (currency names, units, dates): ~2 s the first answers would pay
        a.sparse.get()
        n = len(a.documents())
        progress(f"Ready in {time.perf_counter() - t0:.1f} s: {n} article{'s' if n != 1 else ''} indexed")
        return a

    @property
    def answerer(self) -> Answerer:
        if self._answerer is None:
            self._answerer = Answerer(self.settings, self.embedder, self.store, reader=self._reader)
        return self._answerer

    # -- articles -----------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], progress: Optional[Progress] = None) -> IngestReport:
        with self.lock:
            self.store.sweep_orphans()
            written: dict = {}
            report = ingest_paths(paths, self.store, self.embedder, self.settings, progress, written=written)
        self.sparse.invalidate(written)
        return report

    def remove(self, doc_id: str) -> str:
        """Remove a document. Safe to run again after an interruption: it finishes
        the job. Returns "removed", or "already removed" when an earlier removal
        had done it; raises DocumentNotFoundError for an id the index never had."""
        with self.lock:
            outcome = self.store.remove_document(doc_id)
        self.sparse.invalidate()
        return outcome

    def documents(self) -> list[dict]:
        """One dict per article: id, title, outlet, date, where those come from ("provenance",
        and "provenance_text" in words), and "clash": the words of a same-title warning
        (provenance.py) when another article claims its outlet and title with another text."""
        recs = self.store.document_records()
        clash_of = {d: c for c in self.title_clashes(recs) for d in c.doc_ids}
        out = []
        for i, r in recs.items():
            prov = Provenance.from_meta(r)
            c = clash_of.get(i)
            out.append({"doc_id": i, "title": r.get("title"), "source": r.get("source"),
                        "date": r.get("date"), "outlet": r.get("outlet"), "chunks": r.get("n_chunks"),
                        "chars": r.get("n_chars"), "provenance": asdict(prov),
                        "provenance_text": prov.describe(),
                        "clash": c.words(lambda d: self._describe(d, recs)) if c else None})
        return sorted(out, key=lambda d: (d["date"] or "", d["doc_id"]))

    def title_clashes(self, records: Optional[dict] = None) -> list:
        """Articles claiming one outlet and title with different texts (provenance.py); computed
        once per index generation (the BM25 snapshot's, checked at most every refresh_s, as
        outlet_claims does: reading the store's generation cost 11 ms a question at 100k chunks)."""
        gen = self.sparse.get().generation
        if self._clashes is None or self._clashes[0] != gen:
            recs = records if records is not None else self.store.document_records()
            clashes = same_title_claims(
                recs, lambda ids: {i: d.text for i, d in self.store.get_documents(ids).items()})
            # kept for source_warnings, which then reads nothing per answer (at 100k chunks the
            # bench corpus's shared titles made that read 48 ms of every answer)
            self._clashes = (gen, clashes, {d: recs[d] for c in clashes for d in c.doc_ids if d in recs})
        return self._clashes[1]

    def outlet_claims(self) -> dict:
        """doc_id -> (outlet claimed, origin strength) of the articles that claim an outlet
        (provenance.outlet_claims); read once per generation of the BM25 snapshot the
        retriever uses."""
        gen = self.sparse.get().generation
        if self._claims is None or self._claims[0] != gen:
            self._claims = (gen, outlet_claims(self.store.document_records()))
        return self._claims[1]

    def _describe(self, doc_id: str, records: dict) -> str:
        return f"{doc_id}: {Provenance.from_meta(records.get(doc_id) or {}).describe()}"

    def source_warnings(self, answer: Answer) -> list[SourceWarning]:
        """Warnings about the articles an answer quotes (a same-title clash)."""
        quoted = [q.doc_id for q in answer.quotes + answer.closest + [c.quote for c in answer.conflicts]]
        clashes = clashes_of(quoted, self.title_clashes()) if quoted else []
        if not clashes:
            return []
        recs = self._clashes[2]
        return [SourceWarning("same-title", c.doc_ids, c.outlet, c.title,
                              c.words(lambda d: self._describe(d, recs))) for c in clashes]

    def document(self, doc_id: str) -> Document:
        return self.store.get_document(doc_id)

    # -- questions ------------------------------------------------------------
    def check_question(self, question: str) -> str:
        if isinstance(question, (bytes, bytearray)):
            try:
                question = bytes(question).decode("utf-8")
            except UnicodeDecodeError as e:
                raise QuestionError(f"The question is not valid UTF-8 text (byte {e.start}); "
                                    "type it again or re-encode it as UTF-8.") from None
        if not isinstance(question, str):
            raise QuestionError("The question must be text.")
        limit = self.settings.answer.max_question_chars
        if len(question) > 20 * limit:  # not worth cleaning: the limit is counted after it
            raise QuestionError(
                f"The question is {len(question):,} characters long; the limit is {limit:,} "
                "(setting RAG_ANSWER__MAX_QUESTION_CHARS). Ask something shorter.")
        if has_surrogate(question):  # undecodable bytes on a command line, "\ud800" in JSON
            raise QuestionError("The question is not valid text (it holds bytes that are not UTF-8, "
                                "or a lone \\u escape); type it again or re-encode it as UTF-8.")
        # invisible characters go before matching: "7<ZWSP>5" asks about 75
        q = " ".join(strip_invisible(_CONTROL.sub(" ", question)).split())
        if not q:
            raise QuestionError("The question is empty: type a question about the articles.")
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
                   rewritten_from: Optional[str] = None,
                   model: Optional[str] = None) -> Iterator[Union[str, Answer]]:
        """Yield pieces of the answer text as they are written, then the full Answer.

        `llm` overrides settings.llm.backend for this call ("none", "local", "openai",
        "ollama"); `model` the model name sent to a server backend, for this call only. With a non-empty `history` ([{"role", "content"}, ...]) the question
        is first rewritten into a standalone one (Answer.rewritten_question). The final
        Answer's text replaces the streamed text (they differ when the LLM's answer
        failed the citation check and the extractive answer was used instead).
        """
        from .answering.llm_writer import llm_answer_stream
        from .llm import get_chat_model
        from .llm.followup import rewrite_followup

        q = self.check_question(question)
        ls = self.settings.llm
        if model:
            ls = ls.model_copy(update={"model": model})
        if llm is None and self.chat_model is not None:
            chat = self.chat_model
        else:
            chat = get_chat_model(llm if llm is not None else ls.backend, ls)  # clear error if unknown
        self.embedder  # load the model (once) outside the timed part
        self.answerer.reader
        t0 = time.perf_counter()
        if history:
            rewritten_from = q
            q = self.check_question(rewrite_followup(history, q, chat if ls.rewrite_followups else None))
        tr = time.perf_counter()
        ev = self.evidence(q, top_k)
        t1 = time.perf_counter()
        ev_own = ev
        if rewritten_from and rewritten_from != q and question_type(rewritten_from).kind != "other":
            # retrieval used the context words; the answer is read with the follow-up's own words
            # ("how much did that save the budget?" -> the money figure, not the doses counted before)
            ev_own = self.answerer.evidence(rewritten_from, self.embedder.embed([rewritten_from])[0],
                                            ev.hits + ev.held + ev.further, self.sparse.get())
        answer = self.answerer.extractive(ev_own)
        timings: dict[str, float] = {}
        if chat is None or answer.abstained:  # never ask a model to answer what the articles do not
            yield answer.text
        else:
            for item in llm_answer_stream(self.store, ev, answer, chat, ls.evidence_spans, ls.max_tokens,
                                          timings):
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
        answer.warnings = self.source_warnings(answer)
        if answer.warnings:  # streamed too, so that the streamed text stays the answer's text
            text = with_warnings(answer.text, answer.warnings)
            yield text[len(answer.text):]
            answer.text = text
        yield answer

    def evidence(self, question: str, top_k: Optional[int] = None) -> Evidence:
        """Retrieve, then hand the chunks to the answering stage (sentences, reader candidates)."""
        q_vec = self.embedder.embed([question])[0]
        hits = self.retriever.retrieve(question, q_vec, top_k, further=TUNING.further_articles)
        return self.answerer.evidence(question, q_vec, hits, self.sparse.get())


def _last_answer(items: Iterable[Union[str, Answer]]) -> Answer:
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    assert answer is not None
    return answer
