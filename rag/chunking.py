"""Sentence-aware chunking with exact character offsets.

Written here rather than taken from llama-index: its SentenceSplitter re-joins
and strips whitespace and recovers offsets with ``str.find``, which goes wrong
for repeated sentences. Every span below is a (start, end) into the document
text, so ``text[start:end]`` is the chunk, always.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .textnorm import STOPWORDS

# Words after which a period does not end a sentence.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "st", "no", "vs", "etc", "inc", "ltd", "co",
    "jr", "sr", "gen", "gov", "sen", "rep", "u.s", "u.k", "e.g", "i.e", "approx",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "fig", "mt", "ft", "km", "mi", "lt", "col", "capt", "corp", "dept", "est",
}

# A candidate boundary: terminal punctuation, optional closing quotes/brackets,
# then whitespace. Newlines are always boundaries (paragraphs, headlines).
_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n")
_WORD_RE = re.compile(r"([\w.]+)[.!?…]*[\"'”’)\]]*$")
_NEXT_RE = re.compile(r"\s*(\S)")


# Plain text wrapped at a fixed column (e-mail, terminal and newsletter exports): a line break
# inside a paragraph is a space, not a sentence end. Such text has no line longer than this.
_WRAP_MAX = 120
_LINE_END_WORD = re.compile(r"(\w+)\W*$")


def wrap_width(text: str, start: int = 0, end: int | None = None) -> int:
    """The column text[start:end] is hard-wrapped at, or 0 when it is not: at least three lines,
    none over _WRAP_MAX characters, and most of them within a fifth of the longest (prose broken
    at a fixed width, not a list of short lines)."""
    lengths = [len(line.rstrip()) for line in text[start:end].split("\n") if line.strip()]
    if len(lengths) < 3:
        return 0
    width = max(lengths)
    if width > _WRAP_MAX or sum(n >= 0.8 * width for n in lengths) * 2 < len(lengths):
        return 0
    return width


def _soft_break(text: str, at: int, end: int, width: int) -> bool:
    """Whether the line break at text[at] only wraps a sentence: the line is as long as the
    text's wrap width allows and the sentence plainly goes on (the next line starts in lower
    case or with a figure, or this one ends with a comma or a function word: "the Bank of" / "England
    reopened"). A headline followed by its first sentence stays apart."""
    line_start = text.rfind("\n", 0, at) + 1
    line = text[line_start:at].rstrip()
    if not width or len(line) < 0.6 * width or at + 1 >= end or text[at + 1] in "\r\n":
        return False
    nxt = _NEXT_RE.match(text, at + 1, end)
    if nxt is None or nxt.start(1) > text.find("\n", at + 1, end) >= 0:
        return False  # a blank line follows: a paragraph break
    first = nxt.group(1)
    if first.islower() or first.isdigit():
        return True
    last = _LINE_END_WORD.search(line)
    return line.endswith(",") or (last is not None and last.group(1).lower() in STOPWORDS)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], trimmed of surrounding whitespace. A line break is
    a sentence end, except inside a paragraph of text hard-wrapped at a fixed column."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    seg_start = start
    width = wrap_width(text, start, end) if text.find("\n", start, end) >= 0 else 0
    for m in _END_RE.finditer(text, start, end):
        stop = m.end()
        if m.group() == "\n":
            if _soft_break(text, m.start(), end, width):
                continue
        else:
            # Look only at the tail of the segment and match the next character in
            # place: slicing the whole segment / the rest of the text here made
            # splitting quadratic (minutes for a 100 KB text with no capitals).
            word = _WORD_RE.search(text[max(seg_start, stop - 80):stop])
            w = word.group(1).rstrip(".").lower() if word else ""
            # "U.S." / "Mr." / single initials ("J. Smith") do not end sentences,
            # nor does a period followed by a lower-case word.
            nxt = _NEXT_RE.match(text, stop, end)
            if w in _ABBREV or (len(w) == 1 and w.isalpha() and text[stop - 1] == "."):
                continue
            if nxt and nxt.group(1).islower():
                continue
        _add_trimmed(text, seg_start, stop, spans)
        seg_start = stop
    _add_trimmed(text, seg_start, end, spans)
    return spans


def _add_trimmed(text: str, s: int, e: int, out: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        out.append((s, e))


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    index: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc_id}::{self.index}"


_TAIL = re.compile(r"\S*+\Z")  # the run of non-space characters ending a window


@lru_cache(maxsize=8)
def _first_words(n: int) -> re.Pattern:
    """The first n words from a position (possessive: no backtracking, linear)."""
    return re.compile(r"(?:\s*+\S++){%d}" % n)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


MAX_CHARS = 1200  # default hard bound on a chunk's length (settings.chunking.max_chars)


def bound_spans(text: str, spans: list[tuple[int, int]], max_words: int,
                max_chars: int) -> list[tuple[int, int]]:
    """Spans no longer than `max_words` words and `max_chars` characters.

    A sentence over either bound (a text with no sentence breaks is one
    sentence) is cut after its last whole word that fits; a single "word"
    longer than `max_chars` (no spaces at all) is cut inside, never between a
    letter and its combining marks. Linear in the length of the text: each
    piece looks at no more than `max_chars` characters, with regular
    expressions rather than a Python loop over words.
    """
    out: list[tuple[int, int]] = []
    words = _first_words(max(1, max_words))
    for s, e in spans:
        if e - s <= max_chars and len(text[s:e].split()) <= max_words:
            out.append((s, e))
            continue
        while s < e:
            while s < e and text[s].isspace():
                s += 1
            if s >= e:
                break
            stop = min(e, s + max_chars)
            if stop < e and not text[stop].isspace():  # the window ends inside a word
                tail = max(text.rfind(" ", s, stop), text.rfind("\n", s, stop)) + 1
                if tail <= s:  # other whitespace (tabs, no-break spaces), or none at all
                    tail = _TAIL.search(text, s, stop).start()
                if tail > s:
                    stop = tail  # cut before that word
                else:  # one "word" longer than max_chars: cut inside it, but keep
                    back = stop  # a letter together with the marks that follow it
                    while back > max(s + 1, stop - 32) and _is_mark(text[back]):
                        back -= 1
                    stop = stop if _is_mark(text[back]) else back
            m = words.match(text, s, stop)
            cut = m.end() if m else s + len(text[s:stop].rstrip())
            out.append((s, cut))
            s = cut
    return out


def chunk_document(doc_id: str, text: str, max_words: int, overlap_sentences: int,
                   max_chars: int = MAX_CHARS, body_start: int = 0) -> list[Chunk]:
    """Pack whole sentences into chunks of about `max_words`, with overlap.

    A chunk never crosses a paragraph break (blank line) unless a paragraph is
    a single short sentence, so chunks stay on one topic. Whatever the
    punctuation, no chunk is longer than `max_words` words or `max_chars`
    characters: longer sentences are split at a word boundary (bound_spans),
    and every chunk is still text[start:end]. Sentences start at `body_start`
    (Document.body_start): a leading dateline is in no chunk; sentences are split
    and packed as if there were no body_start, then the first is clipped, so reading
    a dateline moves where the first chunk starts and nothing else.
    """
    sents = bound_spans(text, split_sentences(text), max_words, max_chars)
    words = [len(text[s:e].split()) for s, e in sents]
    if body_start > 0:
        clipped = []
        for (s, e), n in zip(sents, words):
            if e <= body_start:
                continue  # a sentence wholly inside the dateline
            s = max(s, body_start)
            while s < e and text[s].isspace():
                s += 1
            clipped.append(((s, e), n))
        sents, words = [c[0] for c in clipped], [c[1] for c in clipped]
    if not sents:
        return []
    chunks: list[Chunk] = []
    i = 0
    while i < len(sents):
        j, total = i, 0
        while j < len(sents) and (j == i or (total + words[j] <= max_words
                                             and sents[j][1] - sents[i][0] <= max_chars)):
            total += words[j]
            j += 1
        s, e = sents[i][0], sents[j - 1][1]
        chunks.append(Chunk(doc_id, len(chunks), s, e, text[s:e]))
        if j >= len(sents):
            break
        i = max(i + 1, j - overlap_sentences)
    return chunks
