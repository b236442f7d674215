"""Across articles: which sources agree with the answer, and which give other values.

For a figure or date, the same kind of value is read from the best passage of
every other article that discusses the question; equal values corroborate,
different ones are a conflict, reported side by side with each source instead
of silently picking one. Each side keeps its own noun ("400 cooperation
agreements" vs "600 international agreements"), so the reader sees what each
source counts. For other questions, near-identical statements corroborate.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from .extract import _WORDNUM, Mention, QuestionType, best_mention
from .spans import Span, same_statement
from .tuning import TUNING
from ..lexicon import ORGANISATION_WORDS, SCALES, TITLES, number_from_words
from ..textnorm import fold, terms

_TITLES = TITLES
_ORG_WORDS = ORGANISATION_WORDS
_SCALE = SCALES


def value_of(mention: str, kind: str) -> Optional[object]:
    """A comparable value: a float (or ("%", float)) for figures, a DateValue for
    dates, a PersonValue for names, a folded string for times; None when the
    mention states no value ("hundreds")."""
    t = fold(mention)
    if kind == "person":
        # the name without titles: "Mayor Elena Varga" and "Elena Varga" agree,
        # "Varga" and "Vargas" or "Varga" and "Okafor" do not
        toks = tuple(w for w in re.findall(r"[a-z0-9]+", t) if w not in _TITLES)
        return PersonValue(toks, frozenset(re.findall(r"[a-z0-9]+", t)) & _TITLES) if toks else None
    if kind == "date":
        return _date_value(t)
    if kind == "time":
        return re.sub(r"[^a-z0-9]+", " ", t).strip()
    m = re.search(r"(\d+(?:[.,]\d+)*)", t)
    if m:
        raw = m.group(1)
        raw = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw.replace(",", ".")
        try:
            num = float(raw)
        except ValueError:
            return None
    else:
        num = number_from_words(t)
        if num is None:
            return None
    s = re.search(r"\b(thousand|million|billion|trillion|bn|k|m)\b", t)
    if s:
        num *= _SCALE[s.group(1)]
    if re.search(r"%|percent|per cent", t):
        return ("%", num)
    return num


@dataclass(frozen=True)
class PersonValue:
    """A name without its titles, and the titles ("Mayor Elena Varga")."""
    names: tuple[str, ...]
    titles: frozenset[str]

    def agrees(self, other: "PersonValue") -> bool:
        a, b = set(self.names), set(other.names)
        return self.names[-1] == other.names[-1] or a <= b or b <= a

    def looks_like_person(self) -> bool:
        return bool(self.titles or len(self.names) >= 2) and not set(self.names) & _ORG_WORDS

    def same_role(self, other: "PersonValue") -> bool:
        """Both name a holder of the same post (or one gives no post)."""
        return not self.titles or not other.titles or self.titles == other.titles


_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                        "oct", "nov", "dec"], start=1)}


@dataclass(frozen=True)
class DateValue:
    """A date as far as the text gives it; None where it says nothing."""
    year: Optional[int] = None
    month: Optional[int] = None
    day: Optional[int] = None
    until: Optional[int] = None  # end year of a period ("2025-2030")

    def agrees(self, other: "DateValue") -> bool:
        pairs = [(a, b) for a, b in zip((self.year, self.month, self.day, self.until),
                                        (other.year, other.month, other.day, other.until))
                 if a is not None and b is not None]
        return bool(pairs) and all(a == b for a, b in pairs) and (self.until is None) == (other.until is None)


def _date_value(t: str) -> Optional[DateValue]:
    t = re.sub(r"^the\s+", "", t.strip())
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", t)
    if iso:
        return DateValue(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    rng = re.search(r"\b(\d{4})\s?[-–—/]\s?(\d{2,4})\b", t)
    if rng:
        end = rng.group(2)
        end = int(end) if len(end) == 4 else int(rng.group(1)[:2] + end)
        return DateValue(int(rng.group(1)), until=end)
    month = next((i for m, i in _MONTHS.items() if re.search(rf"\b{m}[a-z]*\b", t)), None)
    year = re.search(r"\b(1[5-9]\d{2}|20\d{2})\b", t)
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", re.sub(r"\b\d{4}\b", " ", t))
    if not (month or year):
        return None
    return DateValue(int(year.group(1)) if year else None, month, int(day.group(1)) if day and month else None)


def same_value(a, b) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, PersonValue) and isinstance(b, PersonValue):
        return a.agrees(b)
    if isinstance(a, DateValue) and isinstance(b, DateValue):
        return a.agrees(b)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 0.01 * max(abs(a), abs(b))
    return a == b


def _measure(mention_text: str) -> frozenset[str]:
    """What a figure counts: its noun words ("over 400 cooperation agreements" ->
    {cooper, agreement}); empty when the figure stands alone."""
    text = re.sub(r"\b(?:" + _WORDNUM + r"|" + "|".join(_SCALE) + r"|over|more|than|less|fewer|nearly|almost|"
                  r"about|around|approximately|roughly|some|up|at|least|most|under|close|just|out|of)\b",
                  " ", mention_text, flags=re.I)
    return frozenset(t for t in terms(text) if not t[0].isdigit())


@dataclass
class Side:
    span: Span
    mention: Optional[Mention]  # the value read from this span (typed questions)
    other_measure: bool = False  # counts something else than the answer's figure


def cross_check(question: str, qtype: QuestionType, best: Span, best_mention_: Optional[Mention],
                ranked: list[Span], idf: Callable[[str], float]) -> tuple[list[Side], list[Side]]:
    """(agreeing sides, disagreeing sides), best passage first.

    Agreeing sides come from other articles (one per article). A disagreeing side
    is a close passage with another value: from another article, or from the
    same article when it counts something else ("400 cooperation agreements"
    beside "600 international agreements").
    """
    agree: list[Side] = [Side(best, best_mention_)]
    differ: list[Side] = []
    seen_docs = {best.doc_id}
    typed = qtype.kind in ("number", "date", "time", "person") and best_mention_ is not None
    best_value = value_of(best_mention_.text, qtype.kind) if typed else None
    best_measure = _measure(best_mention_.text) if typed and qtype.kind == "number" else frozenset()
    seen_values = {(best.doc_id, best_value)}
    head = set(qtype.head)
    asks_role = bool(set(re.findall(r"[a-z]+", fold(question))) & _TITLES)
    # content words of the answer phrase the question does not already contain
    answer_terms = set(terms(best_mention_.text)) - set(terms(question)) if best_mention_ else set()
    for sp in ranked[1:]:
        # only passages about the same thing as the best one. The bar is lower for
        # a passage that states the same value (the equal value is itself evidence
        # that it reports the same fact, often in other words: "worth" vs "valued
        # at") than for one that would be reported as a conflict.
        close = sp.coverage >= 0.7 * best.coverage and sp.score >= 0.8 * best.score
        related = sp.coverage >= TUNING.related_coverage * best.coverage and (
            sp.similarity >= best.similarity - 0.25 or sp.score >= 0.6 * best.score)
        if not related or not sp.type_ok:
            continue
        same_doc = sp.doc_id in seen_docs
        if typed:
            m = best_mention(question, sp.text, qtype, idf)
            if m is None:
                continue
            v = value_of(m.text, qtype.kind)
            if v is None:
                continue  # "hundreds", "dozens": no value to compare
            if isinstance(v, PersonValue) and isinstance(best_value, PersonValue):
                if asks_role and not v.same_role(best_value):
                    continue  # "Deputy Mayor Brandt" is not another answer to "who is the mayor"
                if not (v.looks_like_person() and best_value.looks_like_person()):
                    continue  # "Commendation Council", "VOV.VN": a name, but not a person's
            if same_value(v, best_value):
                if not same_doc:
                    agree.append(Side(sp, m))
                    seen_docs.add(sp.doc_id)
                continue
            measure = _measure(m.text) if qtype.kind == "number" else frozenset()
            other = bool(measure and best_measure and measure != best_measure)
            if other and not measure & (best_measure | head):
                continue  # a figure about something else entirely ("four decades old")
            if other and head and head <= best_measure and not head <= measure:
                continue  # the question names what it counts; this figure counts something else
            if not close or (sp.doc_id, v) in seen_values or (same_doc and not other):
                continue
            seen_values.add((sp.doc_id, v))
            differ.append(Side(sp, m, other))
        elif not same_doc and (same_statement(sp.text, best.text) or answer_terms and answer_terms <= set(
                terms(sp.text)) or (sp.similarity >= 0.9 * best.similarity and sp.coverage >= 0.9 * best.coverage)):
            # another article states the same thing: near-identical sentence, or one that holds every
            # word of the answer phrase
            seen_docs.add(sp.doc_id)
            agree.append(Side(sp, None))
    return agree, differ
