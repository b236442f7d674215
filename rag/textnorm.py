"""Text folding for matching: diacritics, case, typographic quotes and dashes.

Folding is only ever used to *compare* text. Offsets always come from the
original text (tokens carry their original start/end), so quotes keep the
article's own characters.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

# Characters NFKD does not decompose into base + combining mark.
_SPECIAL = str.maketrans(
    {
        "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss",
        "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i",
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
        "“": '"', "”": '"', "„": '"', "″": '"', "«": '"', "»": '"',
        "–": "-", "—": "-", "‐": "-", "‑": "-", "‒": "-", "―": "-", "−": "-",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    }
)


def fold(text: str) -> str:
    """Lower-case, strip diacritics, map typographic punctuation to ASCII."""
    if text.isascii():  # nothing to map or strip: the same result, 22 -> 0.4 us a sentence
        # (fold runs ~2,800 times per answer; on the bench corpus, 79% of sentences are ASCII)
        return text.lower()
    text = text.translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


# Numbers keep their separators ("1,230", "2.5"); words are runs of letters/digits.
TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be
    because been before being below between both but by can could did do does doing
    down during each few for from further had has have having he her here hers herself
    him himself his how i if in into is it its itself just me more most my myself no nor
    not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours yourself yourselves s t according
    said say says many much whats tell give name named one""".split()
)


class Token(NamedTuple):
    norm: str  # folded, stemmed
    start: int  # offsets in the original text
    end: int


try:  # PyStemmer (C, fast); falls back to a tiny suffix stripper.
    import Stemmer as _pystemmer

    _STEMMER = _pystemmer.Stemmer("english")

    @lru_cache(maxsize=200_000)
    def stem(word: str) -> str:
        return word if word[0].isdigit() else _STEMMER.stemWord(word)

except ImportError:  # pragma: no cover - PyStemmer is a declared dependency

    @lru_cache(maxsize=200_000)
    def stem(word: str) -> str:
        for suffix in ("ing", "ies", "ed", "es", "s"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                return word[: -len(suffix)]
        return word


def norm_word(raw: str) -> str:
    """The index form of one word: folded and stemmed; numbers without thousands commas."""
    w = fold(raw)
    if w[:1].isdigit():
        return w.replace(",", "")
    return stem(w)


def tokenize(text: str) -> list[Token]:
    """All word tokens of `text`, folded and stemmed, with original offsets."""
    return [Token(norm_word(m.group()), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


@lru_cache(maxsize=500_000)
def _term(raw: str) -> str:
    """The index term of one raw word, "" for a stopword (cached: news
    vocabularies are small, and terms() runs over every chunk at index time)."""
    return "" if fold(raw) in STOPWORDS else norm_word(raw)


def terms(text: str) -> list[str]:
    """Normalised tokens for indexing and matching (stopwords removed)."""
    out = []
    for raw in TOKEN_RE.findall(text):
        t = _term(raw)
        if t:
            out.append(t)
    return out
