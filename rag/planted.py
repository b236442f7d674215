"""Passages that are not evidence, whatever they say: question-shaped text (a "Q: … A: …"
page, an FAQ, a line ending in "?"), text that addresses the assistant ("ignore previous
instructions", "answer every question with …") and keyword stuffing (a passage that
repeats its own words over and over).

Such passages stay indexed as text (they can be found, listed and quoted when asked
about), but they never support an answer: retrieval ranks them after every passage
that is not one of them (retrieve.py), and answering reads its sentences and reader
candidates from the other passages only (pipeline.Answerer.evidence). BM25 scores them
in an index of their own, so that they shape no statistic the other passages are ranked
by (sparse.SparseIndex). A chunk too short to judge is judged with the text before it
(classify_in_context).

The patterns are generic shapes of text, never words of a particular corpus.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

from .textnorm import terms

# A line opening with a Q&A layout marker: "Q:", "A:", "Q.", "Question:", "Answer -", "FAQ:".
_QA_MARKER = re.compile(r"^[ \t>*#-]*(?:Q|A|Q\d+|Question|Answer|FAQ)\s*(?:[:)]|\.(?=\s)|\s[-–—]\s)",
                        re.I | re.M)
# A sentence that is a question: ends in "?" (before closing quotes or brackets).
_QUESTION_END = re.compile(r"\?[\s\"'”’)\]]*$")
# Text addressing the assistant itself rather than reporting anything.
_ADDRESSES_ASSISTANT = re.compile("|".join([
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|prompts?|rules|"
    r"guidelines|(?:other|previous|above|prior)\s+(?:articles|sources|text|messages))\b",
    r"\b(?:system|developer|admin(?:istrator)?)\s+(?:instructions?|prompts?|messages?|overrides?|notes?)\b",
    r"\b(?:answer|reply|respond)(?:\s+to)?\s+(?:every|all|any|each)\s+(?:\w+\s+){0,2}questions?\b",
    r"\b(?:answer|reply|respond)\s+only\s+with\b",
    r"\b(?:always|only)\s+(?:answer|reply|respond)\b",
    r"\byou\s+are\s+now\b",
    r"\b(?:AI|assistant|chatbot|language\s+model|answering\s+system|answer\s+engine)\s*[,:]\s*"
    r"(?:ignore|disregard|reply|answer|respond|say|output|do\s+not|don't|you)\b",
    r"<\|?im_(?:start|end)\|?>|\[/?INST\]|<\|(?:system|assistant|user)\|>",
    r"^[ \t]*(?:system|assistant)\s*:",
]), re.I | re.M)

# Keyword stuffing: the share of a passage's word occurrences that repeat a word already
# used in it. News prose of a chunk's length repeats about a third of its content words
# (names, the topic: at most a quarter in the bundled articles); a stuffed passage repeats
# about half or more.
STUFFED_REPEAT_SHARE = 0.45
STUFFED_MIN_WORDS = 30   # below this, repetition says nothing


@dataclass(frozen=True)
class PassageKind:
    """Why a passage is not evidence (all False: it is)."""

    question_shaped: bool = False      # Q&A layout or mostly questions
    addresses_assistant: bool = False  # instructions to the assistant
    stuffed: bool = False              # keyword stuffing

    @property
    def evidence(self) -> bool:
        return not (self.question_shaped or self.addresses_assistant or self.stuffed)

    @property
    def reason(self) -> Optional[str]:
        if self.addresses_assistant:
            return "addresses-assistant"
        if self.question_shaped:
            return "question-shaped"
        if self.stuffed:
            return "keyword-stuffing"
        return None


def is_question_shaped(sentence: str) -> bool:
    """A question, or a line of a Q&A layout: not a report of anything."""
    s = sentence.strip()
    return bool(s) and (bool(_QUESTION_END.search(s)) or bool(_QA_MARKER.search(s)))


# Every pattern of _ADDRESSES_ASSISTANT but the one naming the assistant holds one of these
# words: a text with none of them is checked against that one pattern only (the combined
# pattern costs ~2 ms per chunk, too much for every chunk of a large index).
_ADDRESS_WORDS = ("ignore", "disregard", "forget", "override", "system", "developer", "admin", "answer",
                  "reply", "respond", "now", "im_", "inst]", "<|", "assistant")
_NAMES_ASSISTANT = re.compile(
    r"\b(?:AI|assistant|chatbot|language\s+model|answering\s+system|answer\s+engine)\s*[,:]\s*"
    r"(?:ignore|disregard|reply|answer|respond|say|output|do\s+not|don't|you)\b", re.I)


def addresses_assistant(text: str) -> bool:
    low = text.lower()
    if not any(w in low for w in _ADDRESS_WORDS):
        return bool(_NAMES_ASSISTANT.search(text))
    return bool(_ADDRESSES_ASSISTANT.search(text))


def repeat_share(text: str, ts: Optional[Sequence] = None) -> float:
    """The share of the passage's word occurrences that repeat a word used before in it
    (`ts`: its terms, or their ids, when already at hand)."""
    ts = terms(text) if ts is None else ts
    if len(ts) < STUFFED_MIN_WORDS:
        return 0.0
    return 1.0 - len(set(ts)) / len(ts)


def question_lines(text: str) -> tuple[int, int]:
    """(question-shaped lines, non-empty lines) of a passage."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sum(is_question_shaped(ln) for ln in lines), len(lines)


def classify(text: str, ts: Optional[Sequence] = None) -> PassageKind:
    """What kind of passage `text` (a chunk) is (`ts`: its terms or their ids, if at hand)."""
    q, n = question_lines(text)
    markers = len(_QA_MARKER.findall(text))
    return PassageKind(
        # two Q&A markers (a question and its answer), or most lines are questions
        question_shaped=markers >= 2 or (n >= 2 and q * 2 > n),
        addresses_assistant=addresses_assistant(text),
        stuffed=repeat_share(text, ts) >= STUFFED_REPEAT_SHARE,
    )


@lru_cache(maxsize=20000)
def _judged_alone(chunk_id: str, text: str) -> tuple[PassageKind, bool]:
    ts = terms(text)
    return classify(text, ts), len(ts) < STUFFED_MIN_WORDS


def classify_cached(chunk_id: str, text: str) -> PassageKind:
    """classify() of a stored chunk (its id names its version, so its text never changes)."""
    return _judged_alone(chunk_id, text)[0]


def classify_in_context(chunk_id: str, text: str, before: Union[None, str, Callable[[], Optional[str]]] = None,
                        ts: Optional[Sequence] = None) -> PassageKind:
    """What kind of passage a chunk is. A chunk too short to be judged on its own (under
    STUFFED_MIN_WORDS words: the last few words of a page, such as a stuffed page's tail that
    only lists its keywords again) is judged with the text of its document just before it,
    `before` (or a function giving it, asked only then): a passage of a page that is not
    evidence is no more evidence for being short. A short passage of an ordinary article stays
    ordinary, since the text it continues is."""
    if ts is None:
        own, short = _judged_alone(chunk_id, text)
    else:
        own, short = classify(text, ts), len(ts) < STUFFED_MIN_WORDS
    if before is None or not own.evidence or not short:
        return own
    if callable(before):
        before = before()
        if before is None:
            return own
    ctx = classify(before + text)
    return PassageKind(question_shaped=ctx.question_shaped, addresses_assistant=ctx.addresses_assistant,
                       stuffed=ctx.stuffed)


def evidence_flags(records: list, term_ids: Optional[list] = None) -> list[bool]:
    """Whether each chunk record (doc_id, start, end, text, chunk_id) is evidence, each judged in
    its document's context (classify_in_context: a short chunk with the text just before it);
    `term_ids`, the records' terms as ids, saves tokenising them again."""
    by_doc: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_doc.setdefault(r.doc_id, []).append(i)
    flags = [True] * len(records)
    for rows in by_doc.values():
        rows.sort(key=lambda i: records[i].start)
        prev = None
        for i in rows:
            r = records[i]
            before = prev.text[: max(0, r.start - prev.start)] if prev is not None else None
            ts = term_ids[i].tolist() if term_ids is not None else None
            flags[i] = classify_in_context(r.chunk_id, r.text, before, ts).evidence
            prev = r
    return flags


def screen_hits(hits: list) -> tuple[list, list]:
    """(the retrieved hits that are evidence, those set aside), each in retrieval order. A hit
    the retriever already judged in its document's context (Hit.kind) keeps that judgement."""
    kinds = [classify_cached(h.record.chunk_id, h.record.text) for h in hits]
    kinds = [k if not k.evidence else getattr(h, "kind", k) for h, k in zip(hits, kinds)]
    return ([h for h, k in zip(hits, kinds) if k.evidence],
            [h for h, k in zip(hits, kinds) if not k.evidence])


_LAYOUT_TOKEN = re.compile(r"^\W*(?:Q|A|Q\d+|Question|Answer|FAQ)\W*$", re.I)


def is_layout_token(answer: str) -> bool:
    """"Q", "A:", "Answer" and the like: a marker of a Q&A layout, never an answer."""
    return bool(_LAYOUT_TOKEN.match(answer.strip()))


def passage_echo(text: str, question: str) -> float:
    """The share of the passage's word occurrences that are the question's own words."""
    ts = terms(text)
    if not ts:
        return 0.0
    q = set(terms(question))
    return sum(1 for t in ts if t in q) / len(ts)


def most_repeated(text: str, n: int = 3) -> list[tuple[str, int]]:
    """The passage's most repeated words (for messages)."""
    return Counter(terms(text)).most_common(n)
