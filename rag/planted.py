"""Passages that are not evidence, whatever they say: question-shaped text (a "Q: … A: …"
page, an FAQ, a line ending in "?"), text that addresses the assistant ("ignore previous
instructions", "answer every question with …") and keyword stuffing (a passage that
repeats its own words over and over).

Such passages stay indexed as text (they can be found, listed and quoted when asked
about), but they never support an answer: retrieval ranks them after every passage
that is not one of them (retrieve.py), and answering reads its sentences and reader
candidates from the other passages only (pipeline.Answerer.evidence).

The patterns are generic shapes of text, never words of a particular corpus.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from dataclasses import dataclass
from typing import Optional

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


def addresses_assistant(text: str) -> bool:
    return bool(_ADDRESSES_ASSISTANT.search(text))


def repeat_share(text: str) -> float:
    """The share of the passage's word occurrences that repeat a word used before in it."""
    ts = terms(text)
    if len(ts) < STUFFED_MIN_WORDS:
        return 0.0
    return 1.0 - len(set(ts)) / len(ts)


def question_lines(text: str) -> tuple[int, int]:
    """(question-shaped lines, non-empty lines) of a passage."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sum(is_question_shaped(ln) for ln in lines), len(lines)


def classify(text: str) -> PassageKind:
    """What kind of passage `text` (a chunk) is."""
    q, n = question_lines(text)
    markers = len(_QA_MARKER.findall(text))
    return PassageKind(
        # two Q&A markers (a question and its answer), or most lines are questions
        question_shaped=markers >= 2 or (n >= 2 and q * 2 > n),
        addresses_assistant=addresses_assistant(text),
        stuffed=repeat_share(text) >= STUFFED_REPEAT_SHARE,
    )


@lru_cache(maxsize=20000)
def classify_cached(chunk_id: str, text: str) -> PassageKind:
    """classify() of a stored chunk (its id names its version, so its text never changes)."""
    return classify(text)


def screen_hits(hits: list) -> tuple[list, list]:
    """(the retrieved hits that are evidence, those set aside), each in retrieval order."""
    kinds = [classify_cached(h.record.chunk_id, h.record.text) for h in hits]
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
