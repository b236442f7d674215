"""Citing verified spans: the prompt, `[n]` parsing and the support check. Pure functions.

The model sees the question and numbered evidence spans and must cite them as
`[1]`, `[2]`. It never retypes a quote: each valid number maps back to a span
the product sliced from the document itself. Then every answer sentence is
checked against what it cites:

- citations to numbers that do not exist are dropped;
- a sentence without its own citation is checked against the citations of the
  next cited sentence (else the previous one);
- every number in the sentence must appear in a cited span;
- every capitalised name must appear in a cited span (or in the question, which
  sets the topic: "Vietnam secured ..." for a question about Vietnam);
- at least half of the sentence's content words that the question does not
  already contain must appear in the cited spans, and at least one must.

Matching folds diacritics and case (``Viet Nam`` == ``Việt Nam``; ``Vietnam``
also matches ``Việt Nam``). One failed sentence fails the whole answer; the
caller then falls back to the extractive answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ..lexicon import NUMBER_WORDS, number_from_words
from ..textnorm import STOPWORDS, TOKEN_RE, fold, terms

SYSTEM_PROMPT = (
    "You answer questions about news articles using only the numbered sources. "
    "Answer in one or two short sentences. End each sentence with the number of the "
    "source it comes from in square brackets, like [1]. If the sources do not say, "
    "answer: The sources do not say."
)

# [1]  [1, 2]  [1][2]  [source 1]  [Source 2, 3]
CITE_RE = re.compile(r"\s*\[(?:(?:source|src|span|evidence|doc)\s*)?(\d{1,2}(?:\s*[,;&]\s*(?:and\s+)?\d{1,2})*)\]",
                     re.I)
_NUM_RE = re.compile(r"\d+(?:[.,]\d+)*")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÝĐ\[])")
_QWORDS = {"how", "what", "which", "who", "whom", "whose", "when", "where", "why"}


def format_sources(span_texts: list[str]) -> str:
    return "\n".join(f"[{i}] {' '.join(t.split())}" for i, t in enumerate(span_texts, start=1))


# One worked example: small models copy its format (a plain sentence ending in [n]).
EXAMPLE = [
    {"role": "user", "content": "Sources:\n[1] The company sold 12,000 cars in 2024, its best year.\n"
                                "[2] Its chief executive is Anna Berg.\n\n"
                                "Question: How many cars did the company sell in 2024?"},
    {"role": "assistant", "content": "12,000 cars were sold in 2024 [1]."},
]


def build_messages(question: str, span_texts: list[str], hint: Optional[str] = None,
                   hint_source: Optional[int] = None, example: bool = True) -> list[dict]:
    """Chat messages: the numbered sources, the question and (optionally) the likely figure."""
    user = f"Sources:\n{format_sources(span_texts)}\n\nQuestion: {question}"
    if hint:
        src = f" (source [{hint_source}])" if hint_source else ""
        user += f"\nKey fact{src}: {hint}"
    return ([{"role": "system", "content": SYSTEM_PROMPT}] + (EXAMPLE if example else [])
            + [{"role": "user", "content": user}])


@dataclass
class Sentence:
    text: str  # the sentence with its citation markers removed
    cites: list[int]  # valid 1-based source numbers, in order of appearance
    invalid: list[int] = field(default_factory=list)  # numbers with no such source


def split_answer(text: str) -> list[str]:
    """Sentences of the answer; a citation standing after the full stop stays with its sentence."""
    parts = [p for p in _SENT_SPLIT.split(text.strip()) if p.strip()]
    out: list[str] = []
    for p in parts:
        if out and not CITE_RE.sub("", p).strip(" .;,"):
            out[-1] = f"{out[-1]} {p.strip()}"
        else:
            out.append(p.strip())
    return out


def _numbers_in(group: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", group)]


def parse_citations(text: str, n_sources: int) -> list[Sentence]:
    sentences = []
    for raw in split_answer(text):
        cites, invalid = [], []
        for m in CITE_RE.finditer(raw):
            for k in _numbers_in(m.group(1)):
                if 1 <= k <= n_sources:
                    if k not in cites:
                        cites.append(k)
                elif k not in invalid:
                    invalid.append(k)
        clean = " ".join(CITE_RE.sub("", raw).split())
        clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
        sentences.append(Sentence(clean, cites, invalid))
    return sentences


def _norm_num(s: str) -> str:
    s = s.replace(",", "")
    return s[:-2] if s.endswith(".0") else s


# number words and their values from the one lexicon ("one" and "zero" left out: too often
# not a figure, as in "one of the ...")
_WORD_NUMS = {w: _norm_num(str(number_from_words(w))) for w in NUMBER_WORDS if w not in ("one", "zero")}
_WORD_NUM_RE = re.compile(r"\b(" + "|".join(_WORD_NUMS) + r")\b")


def numbers(text: str) -> set[str]:
    """Figures in `text`, digits or number words ("nine" == "9")."""
    t = fold(text)
    return ({_norm_num(m.group()) for m in _NUM_RE.finditer(t)}
            | {_WORD_NUMS[m.group(1)] for m in _WORD_NUM_RE.finditer(t)})


def _words(text: str) -> list[str]:
    return [fold(m.group()) for m in TOKEN_RE.finditer(text)]


def _word_set(text: str) -> set[str]:
    """Folded words plus adjacent pairs joined ("viet nam" -> "vietnam")."""
    ws = _words(text)
    return set(ws) | {a + b for a, b in zip(ws, ws[1:])}


def names(sentence: str) -> list[str]:
    """Capitalised words that are not common words (the first word of a sentence included)."""
    out = []
    for m in TOKEN_RE.finditer(sentence):
        w = m.group()
        if w[0].isupper() and fold(w) not in STOPWORDS and fold(w) not in _QWORDS and len(w) > 1:
            out.append(w)
    return out


def check_sentence(sentence: str, cited_texts: list[str], question: str,
                   min_overlap: float = 0.5) -> Optional[str]:
    """Why `sentence` is not supported by `cited_texts`, or None when it is."""
    if not cited_texts:
        return "no citation"
    evidence = " ".join(cited_texts)
    missing_nums = sorted(numbers(sentence) - numbers(evidence))
    if missing_nums:
        return f"number(s) {', '.join(missing_nums)} not in the cited source(s)"
    ev_words, q_words = _word_set(evidence), _word_set(question)
    missing_names = [n for n in names(sentence) if fold(n) not in ev_words and fold(n) not in q_words]
    if missing_names:
        return f"name(s) {', '.join(dict.fromkeys(missing_names))} not in the cited source(s)"
    def _terms(text: str) -> list[str]:
        return [_WORD_NUMS.get(t, t) for t in terms(text)]

    q_terms, ev_terms = set(_terms(question)), set(_terms(evidence))
    novel = [t for t in dict.fromkeys(_terms(sentence)) if t not in q_terms]
    if not novel:
        return "restates the question without any fact from the sources"
    hit = [t for t in novel if t in ev_terms]
    if not hit or len(hit) / len(novel) < min_overlap:
        return f"only {len(hit)} of {len(novel)} content words are in the cited source(s)"
    return None


@dataclass
class Checked:
    ok: bool
    text: str  # answer text with citations renumbered to the order of `used`
    used: list[int]  # 0-based indices of the cited sources, in order of first citation
    reason: Optional[str] = None  # why the check failed
    dropped: list[int] = field(default_factory=list)  # cited numbers that do not exist


_ABSTAIN_RE = re.compile(r"\b(do(es)? not|don't|doesn't|cannot|can't)\s+(say|know|answer|mention|state)", re.I)


def check_answer(text: str, span_texts: list[str], question: str, min_overlap: float = 0.5,
                 expected: Optional[str] = None) -> Checked:
    """Parse citations, check each sentence, renumber; `ok` is False when the answer must fall back.

    `expected`: the value the extractive reader found (a figure or date); when given,
    the answer must contain its numbers, or the two readers disagree and the answer
    falls back (a tiny model easily picks the wrong number of a sentence).
    """
    sents = parse_citations(text, len(span_texts))
    dropped = sorted({k for s in sents for k in s.invalid})
    if not sents:
        return Checked(False, "", [], "empty answer", dropped)
    if _ABSTAIN_RE.search(text):
        return Checked(False, "", [], "the model said the sources do not answer", dropped)
    if not any(s.cites for s in sents):
        why = f"cites only source numbers that do not exist: {dropped}" if dropped else "no citation"
        return Checked(False, "", [], why, dropped)
    # sentences without a citation borrow the next cited sentence's (else the previous one's)
    effective: list[list[int]] = []
    for i, s in enumerate(sents):
        if s.cites:
            effective.append(s.cites)
            continue
        after = next((t.cites for t in sents[i + 1:] if t.cites), None)
        before = next((t.cites for t in reversed(sents[:i]) if t.cites), None)
        effective.append(after or before or [])
    for s, cites in zip(sents, effective):
        if not s.text.strip(" .;,"):
            continue
        why = check_sentence(s.text, [span_texts[k - 1] for k in cites], question, min_overlap)
        if why:
            return Checked(False, "", [], f"{why}: {s.text!r}", dropped)
    if expected:
        missing = sorted(numbers(expected) - numbers(" ".join(s.text for s in sents)))
        if missing:
            return Checked(False, "", [], f"does not state the figure found in the sources "
                           f"({expected}; missing {', '.join(missing)})", dropped)
    order: list[int] = []
    for s in sents:
        for k in s.cites:
            if k not in order:
                order.append(k)
    new = {k: i + 1 for i, k in enumerate(order)}
    out = []
    for s in sents:
        body = s.text
        if s.cites:
            marks = "".join(f"[{new[k]}]" for k in s.cites)
            body = body[:-1] + f" {marks}" + body[-1] if body[-1:] in ".!?" else f"{body} {marks}"
        out.append(body)
    return Checked(True, " ".join(out), [k - 1 for k in order], None, dropped)
