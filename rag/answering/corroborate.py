"""Across articles: which articles agree with the answer, and which state another value.

Each article that discusses the question is read on its own (pipeline.Answerer.article_answers:
the reader on that article's best passage, the learned decision on its candidates, as if the
article were the only one indexed). An article takes part only when, read alone, it would
answer; its answer is a verbatim span. The values are then compared after parsing
(values.py: numbers with scale and currency, quantities in base units, dates against the
article's own date, names without titles and diacritics):
- equal values corroborate ("three" and "3 workers", "Nguyễn Văn Hải" and "Nguyen Van Hai");
- different values of the same kind and unit, counting the same thing, conflict, and every
  side is shown with its article;
- values that cannot be compared (another currency, a length against a cost, a figure that
  counts something else) are left out rather than shown as a disagreement.
An article never agrees or conflicts with itself, and a copy of the same text under another
name counts once.
The reader reads an article's best passages only, so an article that gives the same value in
other words elsewhere ("The line, dating from 1911, ..." for "When was the line built?") also
agrees through the values it states (`ArticleAnswer.stated`): an equal value that counts what
was asked. A value it merely states never makes it a side of a disagreement.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

from ..lexicon import NUMBER_WORDS, ORGANISATION_WORDS, SCALES, TITLES
from ..textnorm import STOPWORDS, fold, terms
from .extract import _WORDNUM, Mention, QuestionType
from .spans import Span, same_statement
from .values import Amount, Person, Value, When, agree, comparable, parse, parse_amount


def compared_as(qtype: QuestionType, answer: str) -> QuestionType:
    """The kind of value compared across articles: the question's, or, when the question does
    not say ("What fine was imposed?", "What will the city's debt be?"), a figure's when the
    answer is one: a sum of money, a share, a quantity with its unit, or a figure with its
    scale ("€1.2 million", "9 percent", "1.9 billion"). The other articles' figures are then
    compared with it by value, as for "how much" questions. A bare number stays free text:
    "Boeing 737" and "Airbus A320" are not two counts."""
    if qtype.kind != "other" or not re.search(r"\d", answer):
        return qtype
    v = parse_amount(answer)
    if v is None or not (v.unit or re.search(r"\b(?:" + "|".join(SCALES) + r")\b", answer, re.I)):
        return qtype
    return replace(qtype, kind="number")


def value_of(mention: str, kind: str, article_date: Optional[str] = None) -> Optional[Value]:
    """The comparable value of an answer phrase (values.parse); None when it states none."""
    return parse(mention, kind, article_date)


def same_value(a: Optional[Value], b: Optional[Value]) -> bool:
    return agree(a, b)


_PARTICIPLES = frozenset("sent hurt killed died missing injured rescued taken held built".split())


def measure(mention_text: str) -> frozenset[str]:
    """What a figure counts: its noun words ("over 400 cooperation agreements" ->
    {cooper, agreement}); empty when the figure stands alone."""
    text = re.sub(r"\b(?:" + _WORDNUM + r"|" + "|".join(SCALES) + r"|over|more|than|less|fewer|nearly|almost|"
                  r"about|around|approximately|roughly|some|up|at|least|most|under|close|just|out|of)\b",
                  " ", mention_text, flags=re.I)
    # what happened to them ("12 killed", "31 injured") is the predicate's business, not the noun's
    text = re.sub(r"\b(?:\w+ed|dead|" + "|".join(_PARTICIPLES) + r")\b", " ", text, flags=re.I)
    return frozenset(t for t in terms(text) if not t[0].isdigit())


_AUX = frozenset("""were was are is been be being had have has reportedly also still now later then
all either both each already initially officially""".split())


def predicate(sentence: str, start: int, end: int) -> Optional[str]:
    """The stem of the word that says what happened to what a figure counts: "31 *injured*",
    "40 firefighters were *sent*", "Twelve people *died*"; None when none follows closely.
    After a figure (a mention: start < end) the search stops at the first function word that
    is not an auxiliary: a participle beyond it belongs to another clause or phrase ("heard 61
    witnesses before it *ended*", "210 of their *combined* 1,050 branches")."""
    tokens = re.findall(r"[A-Za-z]+|\d[\d,.]*", sentence[start:end + 60])
    stops = end > start  # a question ("how many miners died") has no figure: no clause to end
    seen_figure = False
    kept = 0
    for w in tokens:
        lw = w.lower()
        if lw[0].isdigit() or lw in NUMBER_WORDS or lw in SCALES:
            seen_figure = True
            continue
        if lw in _AUX:
            continue
        if stops and seen_figure and lw in STOPWORDS:
            return None
        if lw.endswith("ed") or lw in _PARTICIPLES:
            return next(iter(terms(lw)), None)
        kept += 1
        if kept == 5:
            break
    return None


def looks_like_person(v: Person, text: str) -> bool:
    """A name of a person, not of a council or an outlet ("Commendation Council", "VOV.VN")."""
    words = set(re.findall(r"[a-z0-9]+", fold(text)))
    return (len(v.names) >= 2 or bool(words & TITLES)) and not words & ORGANISATION_WORDS


_RATE = re.compile(r"^\W*(?:(?:a|an|per|each|every)\s+(day|week|month|year|hour|minute|second)\b|"
                   r"(daily|weekly|monthly|yearly|annually|hourly))", re.I)


def rate(sentence: str, after: int) -> Optional[str]:
    """"per day", "a year", "annually" right after a figure: a rate is not a total."""
    m = _RATE.search(sentence[after:after + 30])
    if not m:
        return None
    word = (m.group(1) or m.group(2)).lower()
    return {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year", "annually": "year",
            "hourly": "hour"}.get(word, word)


def _same_kind(a: "ArticleAnswer", v: Value, best: "ArticleAnswer", best_value: Value, asks_role: bool) -> bool:
    """Both name people (not a council or an outlet) holding the same post, or both are not names."""
    if isinstance(v, Person) and isinstance(best_value, Person):
        if not (looks_like_person(v, a.mention.text) and looks_like_person(best_value, best.mention.text)):
            return False
        if asks_role and v.titles and best_value.titles and set(v.titles) != set(best_value.titles):
            return False  # "Deputy Mayor Brandt" is not another answer to "who is the mayor"
    return True


def _agrees(a: "ArticleAnswer", best: "ArticleAnswer", best_value: Value, kind: str,
            best_rate: Optional[str], asked: frozenset[str], q_pred: Optional[str]) -> bool:
    v = value_of(a.mention.text, kind, a.date)
    if v is None or rate(a.sentence.text, a.mention.end) != best_rate:
        return False
    if a.stated:
        return agree(v, best_value) and _counts_what_was_asked(a, v, best, best_value, asked, q_pred)
    if kind not in ("number", "date", "time", "person") and same_statement(a.sentence.text, best.sentence.text):
        return True
    return agree(v, best_value)


def _counts_what_was_asked(a: "ArticleAnswer", v: Value, best: "ArticleAnswer", best_value: Value,
                           asked: frozenset[str], q_pred: Optional[str]) -> bool:
    """A value the article states (not its reader's answer) is the same fact as the answer only
    when it is a value of what was asked: "built in 1911" beside "dating from 1911" is, but
    "12 wagons" is not the same fact as "12 people died" because the figures are equal.
    - a sum of money or a quantity with a unit: the equal value in the same currency or
      dimension ("two-kilometre radius" and "2 km") is specific enough;
    - a bare count or a share: when the question says what happened ("how many miners *died*"),
      the sentence must say it too ("147 miners were underground" is not a death toll); what
      happened to the figure, when the sentence says, must be a word of the question or of the
      answer's own phrase (never "12 people were injured" for "how many died"); otherwise what
      it counts must be ("60 divers" for "how many divers");
    - a date: the equal date;
    - a person: the answer's own person (stated_values finds only those), when the answer
      reads as a person's name, not a council's or an outlet's."""
    if isinstance(v, Person) and isinstance(best_value, Person):
        return looks_like_person(best_value, best.mention.text)
    if isinstance(v, Amount) and isinstance(best_value, Amount):
        if v.unit and v.unit != "%":
            return True
        pred = predicate(a.sentence.text, a.mention.start, a.mention.end)
        if q_pred is not None and pred != q_pred and q_pred not in terms(a.sentence.text):
            return False
        links = asked | measure(best.mention.text)
        if pred is not None and pred not in links:
            return False  # "12 people were injured" is not "12 people died"
        return bool(measure(a.mention.text) & links) or pred is not None
    return isinstance(v, When)


@dataclass
class Side:
    span: Span                  # the sentence quoted for this article
    mention: Optional[Mention]  # the value phrase within it (typed questions)
    other_measure: bool = False  # kept for the renderer: always False for cross-article sides
    value: Optional[Value] = None


@dataclass
class ArticleAnswer:
    """One article's own answer, read alone: the sentence holding it and the value phrase."""
    doc_id: str
    sentence: Span
    mention: Mention            # offsets within the sentence
    text_key: str = ""          # identity of the article's text (copies count once)
    date: Optional[str] = None  # the article's own date (relative dates are read against it)
    answers: bool = True        # over the decision's threshold: the article, read alone, would give it
    # not the reader's answer but a value of the asked kind that the article states in a
    # sentence sharing a word with the question (pipeline.Answerer.stated_values): it can only
    # agree, only when it counts what was asked, and is never a side of a disagreement
    stated: bool = False


def cross_check(question: str, qtype: QuestionType, best: ArticleAnswer,
                others: list[list[ArticleAnswer]], own: list[ArticleAnswer] = (),
                asked_as: Optional[QuestionType] = None) -> tuple[list[Side], list[Side]]:
    """(agreeing sides, disagreeing sides), the answer's own article first. `others` holds, per
    other article, its own answers best first: the article agrees when one of them states the
    answer's value, and conflicts when its best one, over the decision's threshold, states
    another value of the same kind.
    `own` are the answer's article's other answers: one that counts something else with a
    figure of the same kind ("over 400 cooperation agreements" beside "over 600 international
    agreements") is shown as a different count (other_measure), never as a disagreement.
    `asked_as` is the question's own type when `qtype` is the answer's (compared_as): an
    article then also agrees as it would under the question's type ("5.5%" and "from 4.5 to 5.5
    per cent" by their words), and none disagrees: a "what" question answered with a figure
    ("What pay rise were the dockers demanding?") does not say which figure would be another
    answer to it (the demand, the offer, the settlement)."""
    kind = qtype.kind
    best_value = value_of(best.mention.text, kind, best.date)
    agree_sides = [Side(best.sentence, best.mention, value=best_value)]
    differ: list[Side] = []
    seen_docs, seen_texts = {best.doc_id}, {best.text_key}
    best_measure = measure(best.mention.text) if kind == "number" else frozenset()
    q_terms = set(terms(question))
    best_pred = predicate(best.sentence.text, best.mention.start, best.mention.end) if kind == "number" else None
    head = set(qtype.head)
    asks_role = bool(set(re.findall(r"[a-z]+", fold(question))) & TITLES)
    if best_value is None:
        return agree_sides, differ
    best_rate = rate(best.sentence.text, best.mention.end)
    best_pred_set = {best_pred} if best_pred else set()
    asked = frozenset(q_terms | head | best_pred_set)
    q_pred = predicate(question, 0, 0) if kind == "number" else None  # "how many miners *died*"
    asked_value = value_of(best.mention.text, asked_as.kind, best.date) if asked_as is not None else None
    for answers in others:
        answers = [a for a in answers if a.doc_id not in seen_docs and not (a.text_key and a.text_key in seen_texts)]
        if not answers:
            continue  # an article never corroborates or contradicts itself (nor its copy)
        # a person an article merely names agrees only when its own reading gives no other
        # answer: "Stary Wądół" named in passing must not outvote the judge that article names
        reads_other = answers[0].answers and not answers[0].stated
        same = next((a for a in answers if not (a.stated and kind == "person" and reads_other)
                     and _agrees(a, best, best_value, kind, best_rate, asked, q_pred)), None)
        same_kind = kind
        if same is None and asked_as is not None and asked_value is not None:
            same_kind = asked_as.kind
            same = next((a for a in answers if not a.stated and _agrees(a, best, asked_value, same_kind, best_rate,
                                                                        asked, None)), None)
        if same is not None:
            seen_docs.add(same.doc_id)
            seen_texts.add(same.text_key)
            agree_sides.append(Side(same.sentence, same.mention, value=value_of(same.mention.text, same_kind, same.date)))
            continue
        if asked_as is not None:
            continue
        a = answers[0]
        if not a.answers or a.stated:
            # the article, read alone, would not answer: no side in a disagreement (a figure it
            # merely states was tried as a side on 2026-11-26: no conflict more flagged on three
            # corpora, one more false one on two; see the README)
            continue
        v = value_of(a.mention.text, kind, a.date)
        if v is None or not _same_kind(a, v, best, best_value, asks_role):
            continue
        if not comparable(v, best_value) or rate(a.sentence.text, a.mention.end) != best_rate:
            continue  # another currency, unit or rate, or free text: not a disagreement one can show
        if isinstance(v, Amount):
            m = measure(a.mention.text)
            if m and best_measure and not (m <= best_measure or best_measure <= m):
                continue  # the figure counts something else ("600 international agreements" vs
                # "400 cooperation agreements", "four decades old" vs "12 people")
            pred = predicate(a.sentence.text, a.mention.start, a.mention.end)
            if pred and pred not in q_terms and pred != best_pred and (best_pred is None or best_pred in q_terms):
                continue  # what happened to them is not what was asked ("40 firefighters were sent")
        seen_docs.add(a.doc_id)
        seen_texts.add(a.text_key)
        differ.append(Side(a.sentence, a.mention, value=v))
    if kind == "number" and best_measure and asked_as is None:
        for a in own:
            v = value_of(a.mention.text, kind, a.date)
            m = measure(a.mention.text)
            if (v is not None and comparable(v, best_value) and not agree(v, best_value) and m
                    and m != best_measure and m & (best_measure | head)
                    and rate(a.sentence.text, a.mention.end) == best_rate):
                differ.append(Side(a.sentence, a.mention, other_measure=True, value=v))
                break
    return agree_sides, differ
