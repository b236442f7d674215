"""What the product returns: an Answer that carries its evidence."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from .documents import Document, public_source


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

    @classmethod
    def from_document(cls, doc: Document, start: int, end: int) -> "Quote":
        """The only way quotes are made: by slicing the document itself."""
        if not (0 <= start < end <= len(doc.text)):
            raise ValueError(f"span {start}:{end} outside document {doc.doc_id}")
        return cls(doc.doc_id, doc.title, public_source(doc.source), start, end, doc.text[start:end],
                   doc.outlet, doc.date)

    def to_dict(self) -> dict:
        return asdict(self)


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
    support: list[dict] = field(default_factory=list)  # groups of agreeing quotes
    conflicts: list[dict] = field(default_factory=list)  # disagreeing values + quotes
    fallback_reason: Optional[str] = None  # why an LLM answer was replaced by the extractive one
    llm_text: Optional[str] = None  # what the LLM wrote, before the citation check

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "quotes": [q.to_dict() for q in self.quotes],
            "closest": [q.to_dict() for q in self.closest],
            "timings": dict(self.timings),
            "path": self.path,
            "rewritten_question": self.rewritten_question,
            "support": self.support,
            "conflicts": self.conflicts,
            "fallback_reason": self.fallback_reason,
            "llm_text": self.llm_text,
        }
