"""Text for people, rendered once from an answer's typed fields (never parsed back)."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

ABSTAIN_TEXT = "The articles do not answer this question."


def abstain_words(code: str, unknown_terms: Sequence[str] = (), kind: Optional[str] = None) -> str:
    """Plain words for why there is no answer (the figures stay in AbstainReason.detail)."""
    if code == "nothing-retrieved":
        return "No article is indexed that could answer it: add articles first."
    if code == "unknown-terms":
        names = ", ".join(unknown_terms[:-1]) + (" or " if len(unknown_terms) > 1 else "") + unknown_terms[-1]
        return f"None of the articles mentions {names}."
    what = {"number": "a figure", "date": "a date", "time": "a time", "person": "a name",
            "place": "a place"}.get(kind or "", "it")
    if what == "it":
        return "The closest passages are about this topic but do not say it."
    return f"The closest passages are about this topic but do not give {what} for it."


def abstention_text(words: str) -> str:
    return f"{ABSTAIN_TEXT} {words}"


def answer_text(value: str, agree: list, differ: list, source_of: Callable, n_docs: int,
                context: Optional[str] = None) -> tuple[str, Optional[str], str]:
    """(lead, sentence, text). The lead: the value, who reports it, and who reports what else.
    The sentence: `context` (the sentence of quote [1] that holds the value) quoted and marked
    [1], or None. The text: the lead, then that sentence, so the answer reads as a statement a
    reader can check in place (the UI shows the two parts from these fields, never by cutting
    the text, and bolds the value inside the quote)."""
    same_measure = [d for d in differ if not d.other_measure]
    if same_measure:  # each side is shown with its own quote in the conflicts section
        sides = [agree[0]] + same_measure
        text = "The sources differ — " + "; ".join(
            f"{source_of(s.span)}: {s.mention.text if s.mention else value}" for s in sides) + "."
        return text, None, text
    lead = value
    if len(agree) > 1:
        lead += f" (reported by {len(agree)} of {n_docs} articles)"
    if differ:
        lead += "; " + "; ".join(f"{source_of(d.span)} also reports {d.mention.text} (a different count)"
                                 for d in differ)
    if context and context.strip() != value.strip():
        sentence = f"“{context}” [1]"
        return lead, sentence, f"{lead} — {sentence}"
    return lead, None, lead


def with_warnings(text: str, warnings: Sequence) -> str:
    """The answer text followed by the warnings about its sources (answer.SourceWarning)."""
    return text + "".join(f"\n\n⚠ {w.words}" for w in warnings)
