"""Short answers: the figure, date or name inside an evidence sentence.

Given the question's type and the chosen sentence, find the typed mentions
(numbers with their qualifier, currency, scale and noun; dates; names) and pick
the one nearest to the words the question shares with the sentence. Offsets
stay in the sentence, so the short answer is itself a verbatim span.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from ..lexicon import MONTH_PATTERN, NUMBER_WORD_PATTERN, TITLES
from ..textnorm import STOPWORDS, fold, stem, terms, tokenize

_WORDNUM = NUMBER_WORD_PATTERN
_QUAL = (r"(?:(?:just\s+)?(?:over|more\s+than|less\s+than|fewer\s+than|nearly|almost|about|"
         r"around|approximately|roughly|some|up\s+to|at\s+least|at\s+most|under|close\s+to)\s+)?")


def _currency_mark() -> str:
    """What may stand before a figure to say its currency: any Unicode currency symbol, with
    the capitals some dollars and the real carry ("US$", "R$", "HK$"), or an ISO 4217 code in
    use ("PLN 3.2 billion", "CZK 120 million"; the list is Babel's CLDR data, matched in
    capitals only since "ALL", "TOP" and "CUP" are codes too). Was a hand list of dollars,
    euros, pounds, yen and dong, which cut "R$540 million" to "540 million"."""
    import unicodedata

    from .values import currencies_in_use

    symbols = "".join(ch for ch in map(chr, range(0x10000)) if unicodedata.category(ch) == "Sc")
    codes = sorted(set(currencies_in_use()) | {"VNĐ"})
    return rf"(?:(?-i:[A-Z]{{0,3}})[{re.escape(symbols)}]\s?|(?-i:(?:{'|'.join(codes)}))\s?)?"


_CUR = _currency_mark()
# a number in words may be hyphenated ("fifty-eight"): "fifty" alone would be another number
_NUMBER = (rf"(?<![\w-]){_QUAL}{_CUR}(?:\d+(?:[.,]\d+)*|(?:{_WORDNUM})(?:-(?:{_WORDNUM}))?\b)"
           r"(?:\s?(?:million|billion|trillion|thousand|bn|m|k)\b)?"
           r"(?:\s?(?:%|percent\b|per\s+cent\b))?"
           r"(?:\s+(?:out\s+)?of\s+(?:the\s+)?\d+(?:[.,]\d+)*)?")
NUMBER_RE = re.compile(_NUMBER, re.I)

_MONTH = MONTH_PATTERN
DATE_RE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|(?:the\s+)?(?:1[5-9]|20)\d{2}\s?[-–—/]\s?(?:1[5-9]|20)?\d{2}"
    r"|(?:the\s+)?(?:1[5-9]|20)\d{2}s?)\b"
)
TIME_RE = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:a\.m\.|p\.m\.|am\b|pm\b)|\b\d{1,2}:\d{2}\b", re.I)
# Capitalised runs, allowing inner particles ("Bank of Vietnam", "van der").
NAME_RE = re.compile(
    r"\b[A-ZÀ-ÝĐ][\w’'.-]*(?:\s+(?:(?:of|de|da|van|von|der|la|le|bin|al)\s+)?[A-ZÀ-ÝĐ][\w’'.-]*)*"
)

_NUMBER_Q = re.compile(
    r"\b(how\s+(many|much|long|far|large|big|old|high|tall|deep|wide|heavy|often)|"
    r"what\s+(number|percentage|percent|share|proportion|amount|sum|figure|value|total)|"
    r"(number|amount|total|count|value|cost|size|length|population)\s+of|"
    r"what\s+(?:is|was|were)\s+the\s+(?:\w+\s+)?(toll|tally|turnout|population|budget|cost|price))\b")
_DATE_Q = re.compile(r"\b(when|what\s+(year|date|month|day|period|time)|which\s+(year|date|month|period)|"
                     r"in\s+what\s+year|since\s+when)\b")
_PERSON_Q = re.compile(r"^\s*(who|whom|whose)\b|\bwho\s+(is|was|were|are|said|heads|led|leads)\b|"
                       r"\bwhat\s+(?:is|was|'s)\s+the\s+(?:full\s+|sur)?name\s+of\b")
_PLACE_Q = re.compile(r"^\s*where\b|\bin\s+which\s+(city|country|place)\b|\bwhat\s+(city|country|place)\b")

# "What was the equipment worth?", "What did the congress cost?"
_VALUE_Q = re.compile(r"^\s*what\s+(?:was|were|is|are|did|does|do)\b.*\b(worth|cost|costs|valued)\b")
_AUX = {"did", "do", "does", "was", "were", "is", "are", "has", "have", "had", "will", "can", "the", "a", "an"}


@dataclass(frozen=True)
class QuestionType:
    kind: str  # number | date | person | place | other
    head: tuple[str, ...] = ()  # stems of the counted noun ("how many doses" -> dose)
    money: Optional[bool] = None  # "how much" (money) vs "how many" (a count)


def question_type(question: str) -> QuestionType:
    q = fold(question)
    m = _NUMBER_Q.search(q)
    if m and not re.search(r"\bhow\s+long\s+(ago|before|after)\b", q):
        rest = re.findall(r"[a-z]+", q[m.end():])
        head = []
        for w in rest:
            if w in _AUX or w in STOPWORDS:
                break
            head.append(stem(w))
            if len(head) == 3:
                break
        money = None
        if m.group(2) == "much" or re.search(r"\b(cost|worth|value|budget|spend|spent|price|fund|save|saving)\b", q):
            money = not head or bool(re.search(r"(money|dollar|dong|budget|fund)", " ".join(head)))
        elif m.group(2) == "many":
            money = False
        return QuestionType("number", tuple(head), money)
    if _VALUE_Q.search(q):
        return QuestionType("number", (), True)
    if re.search(r"\b(what|which)\s+time\b|\bat\s+what\s+hour\b", q):
        return QuestionType("time")
    if _DATE_Q.search(q):
        return QuestionType("date", ("year",) if re.search(r"\byear\b", q) else ())
    if _PERSON_Q.search(q):
        # "Who is Pham Minh Chinh?" asks for a description, not for a name.
        named = re.search(r"\b(is|was)\s+[A-ZÀ-ÝĐ]", question)
        return QuestionType("other" if named else "person")
    if _PLACE_Q.search(q):
        return QuestionType("place")
    return QuestionType("other")


@dataclass(frozen=True)
class Mention:
    start: int  # offsets within the sentence
    end: int
    text: str


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and (text[s].isspace() or text[s] in ",;:"):
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] in ",;:."):
        e -= 1
    return s, e


def value_phrase(sentence: str, start: int, end: int, kind: str) -> tuple[int, int]:
    """The value at sentence[start:end] with the words that say what it is, for comparing it
    across sources: a bare figure with the noun it counts ("31" -> "31 injured"), a name with
    the titles before it ("Elena Varga" -> "Mayor Elena Varga")."""
    if kind == "number" and re.fullmatch(r"[\d.,]+|[A-Za-z]+", sentence[start:end].split()[-1] if sentence[start:end].split() else ""):
        return start, _extend_noun(sentence, end, hyphen=True)
    if kind == "person":
        while True:
            m = re.search(r"([A-Za-z][\w.]*)\s+$", sentence[:start])
            if not m or fold(m.group(1)).rstrip(".") not in TITLES:
                break
            start = m.start(1)
    return start, end


def _extend_noun(sentence: str, end: int, max_words: int = 3, hyphen: bool = False) -> int:
    """Extend a number mention over the noun it counts ("258 million doses"); with `hyphen`,
    over a unit joined to it by a hyphen first ("two-kilometre radius"), which the value
    compared across articles needs and the short answer does not ("80-year proud tradition"
    for "how long is the tradition" reads worse than "80")."""
    joined = re.match(r"-[A-Za-zÀ-ỹĐđ][\w’']*", sentence[end:]) if hyphen else None
    if joined:
        end += joined.end()
    pos = end
    count = 1 if joined else 0
    for m in re.finditer(r"\s+([A-Za-zÀ-ỹĐđ][\w’'-]*)", sentence[end:]):
        if m.start() != pos - end:
            break
        w = fold(m.group(1))
        if w in STOPWORDS or w in _AUX or count == max_words:
            break
        pos = end + m.end()
        count += 1
    return pos


def mentions(sentence: str, kind: str) -> list[Mention]:
    found: list[Mention] = []
    if kind == "number":
        # "29 November" is a date and "7:10 p.m." a time, not counts
        dates = [(d.start(), d.end()) for d in DATE_RE.finditer(sentence) if re.search(_MONTH, d.group())]
        dates += [(t.start(), t.end()) for t in TIME_RE.finditer(sentence)]
        for m in NUMBER_RE.finditer(sentence):
            if any(ds < m.end() and m.start() < de for ds, de in dates):
                continue
            raw = m.group()
            if not re.search(r"\d|" + _WORDNUM, raw, re.I):
                continue
            if DATE_RE.fullmatch(raw.strip()) and re.fullmatch(r"(1[5-9]|20)\d{2}", raw.strip()):
                continue  # a bare year is a date, not a count
            s, e = _trim(sentence, m.start(), _extend_noun(sentence, m.end()))
            found.append(Mention(s, e, sentence[s:e]))
    elif kind in ("date", "time"):
        for m in (TIME_RE if kind == "time" else DATE_RE).finditer(sentence):
            s, e = _trim(sentence, m.start(), m.end())
            found.append(Mention(s, e, sentence[s:e]))
    elif kind == "person":
        for m in NAME_RE.finditer(sentence):
            s, e = _trim(sentence, m.start(), m.end())
            if e > s:
                found.append(Mention(s, e, sentence[s:e]))
    return found


def best_mention(question: str, sentence: str, qtype: QuestionType,
                 idf: Callable[[str], float]) -> Optional[Mention]:
    """The typed mention closest to the question's words, or None."""
    if qtype.kind == "other":
        return None
    cands = mentions(sentence, qtype.kind)
    if not cands:
        return None
    q_terms = set(terms(question))
    q_fold = fold(question)
    toks = tokenize(sentence)
    anchors = [(t.start, idf(t.norm)) for t in toks if t.norm in q_terms]

    def score(m: Mention) -> float:
        m_terms = set(terms(m.text))
        # Names/values the question already states are not the answer.
        if m_terms and m_terms <= q_terms:
            return float("-inf")
        if qtype.kind in ("person", "place") and fold(m.text) in q_fold:
            return float("-inf")
        sc = 0.0
        for pos, w in anchors:
            if m.start <= pos < m.end:
                continue
            lo, hi = (pos, m.start) if pos < m.start else (m.end, pos)
            dist = hi - lo
            # a word across a clause boundary ("...2020-2021; ASEAN Chair in 2020")
            # belongs to the other clause's value
            between = sentence[lo:hi]
            damp = 0.25 ** between.count(";") * 0.5 ** len(re.findall(r"[(),–—]", between))
            sc += damp * w / (1.0 + dist / 12.0)
        # The words governing the value, back to the clause or list delimiter
        # ("..., comprehensive partnerships with [four]"): the question's own
        # phrase there binds the value more than words further off, and words
        # the question lacks ("strategic") count against it.
        if qtype.kind == "number" and all(t[0].isdigit() for t in m_terms):  # a bare value: its phrase is its noun
            cut = max(sentence.rfind(d, 0, m.start) for d in (",", ";", "(", ")", " and ", " but "))
            local = [t.norm for t in toks if cut < t.start and t.end <= m.start
                     and fold(sentence[t.start:t.end]) not in STOPWORDS][-3:]
            if local:
                shared = sum(1 for t in local if t in q_terms)
                sc += 3.0 * shared * shared / len(local)
        if qtype.kind == "number":
            # question words inside the mention: its noun ("19 of 27 [EU member
            # states]") or predicate ("31 [injured]"), rarer words weighing more
            sc += 2.0 * sum(idf(t) for t in m_terms & (q_terms | set(qtype.head)) if not t[0].isdigit())
        elif qtype.kind == "date":
            # "what date" wants a day, "what year" a year, "what period" a range
            if re.search(r"\b(date|day)\b", q_fold) and re.search(_MONTH + r"|\d{4}-\d{2}-\d{2}", m.text):
                sc += 2.0
            elif re.search(r"\bperiod\b", q_fold) and re.search(r"\d\s?[-–—/]\s?\d", m.text):
                sc += 2.0
            elif re.search(r"\byear\b", q_fold) and re.fullmatch(r"(the\s+)?\d{4}", m.text):
                sc += 1.0
        if qtype.kind == "person" and len(m.text.split()) >= 2:
            sc += 1.0
        if qtype.money is not None:
            has_cur = bool(re.search(r"[$€£¥₫]|US\s?\$|USD|VND|EUR|dollar|dong", m.text, re.I))
            sc += 1.5 if has_cur == qtype.money else 0.0
        return sc

    best = max(cands, key=score)
    return best if score(best) > float("-inf") else None
