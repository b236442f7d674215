"""An LLM-written answer over verified spans, with the extractive answer as the safety net.

`llm_answer_stream(quote_source, ev, extractive, chat)` yields the model's text
deltas, then the final Answer:

- path "llm": the text passed `cite.check_answer`; quotes are the cited spans,
  renumbered so `[n]` in the text is `answer.quotes[n-1]`, sliced from the
  stored documents by `quotes_for(quote_source, ...)` (the model never retypes a quote);
- path "extractive-fallback": no valid, supported citation; the extractive
  answer is returned unchanged apart from `path` and `fallback_reason`.
Support and conflicts (corroborate.py) come from the extractive answer.
"""
from __future__ import annotations

import copy
import time
from typing import Iterator, Optional, Union

from ..answer import Answer
from ..errors import LLMError
from ..llm import ChatModel, stream_cited
from ..llm.cite import build_messages, check_answer
from .evidence import Evidence
from .pipeline import QuoteSource, quotes_for
from .spans import Span, same_statement


def evidence_spans(ev: Evidence, extractive: Answer, n: int = 4) -> list[Span]:
    """The spans shown to the model: the extractive answer's quotes first, then the best others."""
    by_key = {(s.doc_id, s.start): s for s in ev.ranked}
    out: list[Span] = [by_key[(q.doc_id, q.start)] for q in extractive.quotes if (q.doc_id, q.start) in by_key]
    for s in ev.ranked:
        if len(out) >= n:
            break
        if s in out or any(s.doc_id == o.doc_id and same_statement(s.text, o.text) for o in out):
            continue
        if not s.type_ok and out:
            continue
        out.append(s)
    return out[:max(n, 1)]


def extractive_hint(ev: Evidence, extractive: Answer) -> Optional[str]:
    """The short answer the reader found, when it is a short value rather than a whole sentence."""
    if extractive.abstained or extractive.conflicts or not extractive.quotes or extractive.short is None:
        return None
    text = extractive.short.text
    if len(text) > 60 or text == extractive.quotes[0].text:
        return None
    return text


def expected_values(ev: Evidence, extractive: Answer, hint: Optional[str]) -> Optional[str]:
    """What the LLM's answer must state: every side of a conflict, else the extractive figure/date."""
    if extractive.conflicts:
        return " ".join(c.value for c in extractive.conflicts) or None
    return hint if ev.qtype.kind in ("number", "date") else None


def llm_answer_stream(source: QuoteSource, ev: Evidence, extractive: Answer, chat: ChatModel, n_spans: int = 4,
                      max_tokens: Optional[int] = None,
                      timings: Optional[dict] = None) -> Iterator[Union[str, Answer]]:
    spans = evidence_spans(ev, extractive, n_spans)
    texts = [s.text for s in spans]
    hint = extractive_hint(ev, extractive)
    messages = build_messages(ev.question, texts, hint, 1 if hint else None)
    t0 = time.perf_counter()
    first = None
    pieces: list[str] = []
    failed: Optional[str] = None
    try:
        for delta in stream_cited(chat, messages, max_tokens, len(texts)):
            if first is None:
                first = time.perf_counter()
            pieces.append(delta)
            yield delta
    except LLMError as e:  # the model stopped or its server went away: answer without it
        failed = str(e)
    t1 = time.perf_counter()
    if timings is not None:
        timings["first_token_ms"] = round(((first or t1) - t0) * 1000, 1)
        timings["llm_ms"] = round((t1 - t0) * 1000, 1)
    raw = "".join(pieces)
    if failed is not None:
        ans = copy.copy(extractive)
        ans.path, ans.fallback_reason, ans.llm_text = "extractive-fallback", failed, raw or None
        yield ans
        return
    expected = expected_values(ev, extractive, hint)
    checked = check_answer(raw, texts, ev.question, expected=expected)
    if checked.ok:
        quotes = quotes_for(source, [spans[i] for i in checked.used])
        if len(quotes) == len(checked.used):
            yield Answer(ev.question, checked.text, quotes=quotes, path="llm",
                         support=extractive.support, conflicts=extractive.conflicts,
                         llm_text=raw, short=extractive.short, confidence=extractive.confidence,
                         read=extractive.read)
            return
        checked.reason = "a cited source is no longer in the index"
    ans = copy.copy(extractive)
    ans.path = "extractive-fallback"
    ans.fallback_reason = checked.reason
    ans.llm_text = raw
    yield ans
