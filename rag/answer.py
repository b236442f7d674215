"""What the product returns: an Answer that carries its evidence as typed fields.

Text for people (`Answer.text`) is rendered once from these fields by
`rag.answering.render`; nothing downstream parses it back.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from .documents import Document, Provenance, public_source


@dataclass(frozen=True)
class Quote:
    """A verbatim span of one document: document.text[start:end] == text.

    `source` is the article's URL or file name (documents.public_source), never
    an absolute path on the machine that answered."""

    doc_id: str
    title: str
    source: str
    start: int
    end: int
    text: str
    outlet: Optional[str] = None
    date: Optional[str] = None
    provenance: Optional[Provenance] = None  # where outlet, date and title come from

    @classmethod
    def from_document(cls, doc: Document, start: int, end: int) -> "Quote":
        """The only way quotes are made: by slicing the document itself."""
        if not (0 <= start < end <= len(doc.text)):
            raise ValueError(f"span {start}:{end} outside document {doc.doc_id}")
        return cls(doc.doc_id, doc.title, public_source(doc.source), start, end, doc.text[start:end],
                   doc.outlet, doc.date, doc.provenance)

    @property
    def source_label(self) -> str:
        """The outlet as an answer may name it (qualified when only a .jsonl field or an upload
        claims it), else the title."""
        from .provenance import source_label

        return source_label(self.outlet, self.title, self.provenance)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AbstainReason:
    """Why the assistant did not answer: a code for programs, plain words for people,
    and the figures behind the decision (for the eval and the API)."""

    code: str    # nothing-retrieved | unknown-terms | no-answer-found
    words: str   # shown to people
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"code": self.code, "words": self.words, "detail": dict(self.detail)}


@dataclass(frozen=True)
class SupportGroup:
    """Articles that report the same value, each with its quote."""

    value: Optional[str]
    quotes: tuple[Quote, ...]

    def to_dict(self) -> dict:
        return {"value": self.value, "quotes": [q.to_dict() for q in self.quotes]}


@dataclass(frozen=True)
class Conflict:
    """One side of a disagreement between sources: the value it states and where."""

    value: str
    outlet: Optional[str]
    date: Optional[str]
    kind: str  # "value" (a different value for the same thing) | "other-measure" (counts something else)
    quote: Quote

    def to_dict(self) -> dict:
        return {"value": self.value, "outlet": self.outlet, "date": self.date, "kind": self.kind,
                "quote": self.quote.to_dict()}


@dataclass(frozen=True)
class SourceWarning:
    """Something about the sources of an answer that readers must know: "same-title" when
    articles claim the same outlet and title with different texts (provenance.py)."""

    kind: str
    doc_ids: tuple[str, ...]
    outlet: Optional[str]
    title: Optional[str]
    words: str  # shown to people

    def to_dict(self) -> dict:
        return {"kind": self.kind, "doc_ids": list(self.doc_ids), "outlet": self.outlet, "title": self.title,
                "words": self.words}


@dataclass(frozen=True)
class ReadChunk:
    """A retrieved chunk the answer was made from, in retrieval order."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    dense_rank: Optional[int] = None
    sparse_rank: Optional[int] = None


@dataclass
class Answer:
    question: str
    text: str
    quotes: list[Quote] = field(default_factory=list)
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    closest: list[Quote] = field(default_factory=list)  # offered when abstaining
    path: str = "extractive"  # which path wrote `text`: extractive | llm | extractive-fallback
    rewritten_question: Optional[str] = None  # standalone form of a follow-up
    support: list[SupportGroup] = field(default_factory=list)  # groups of agreeing quotes
    conflicts: list[Conflict] = field(default_factory=list)  # disagreeing values + quotes
    fallback_reason: Optional[str] = None  # why an LLM answer was replaced by the extractive one
    llm_text: Optional[str] = None  # what the LLM wrote, before the citation check
    short: Optional[Quote] = None  # the answer phrase itself, a verbatim span (None for whole sentences)
    abstain_reason: Optional[AbstainReason] = None
    # how sure the answer decision is that `short` is right, 0-1: its probability, or with a
    # verified gate (decide.DecisionModel.confidence) the logistic of the value its threshold cuts
    confidence: Optional[float] = None
    read: list[ReadChunk] = field(default_factory=list)  # what retrieval gave answering
    warnings: list[SourceWarning] = field(default_factory=list)  # about the sources (provenance.py)
    # the first part of an extractive `text`: the short answer and who reports it; `text` goes on
    # to quote the sentence that holds it (the UI shows that part smaller, above quote [1])
    lead: Optional[str] = None
    # the rest of that `text`: the sentence holding the short answer, quoted and marked [1]
    context: Optional[str] = None

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "lead": self.lead,
            "context": self.context,
            "short": self.short.to_dict() if self.short else None,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason.to_dict() if self.abstain_reason else None,
            "confidence": self.confidence,
            "quotes": [q.to_dict() for q in self.quotes],
            "closest": [q.to_dict() for q in self.closest],
            "timings": dict(self.timings),
            "path": self.path,
            "rewritten_question": self.rewritten_question,
            "support": [g.to_dict() for g in self.support],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "fallback_reason": self.fallback_reason,
            "llm_text": self.llm_text,
            "warnings": [w.to_dict() for w in self.warnings],
        }
