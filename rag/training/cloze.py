"""Cloze questions from unlabelled text: a first training stage for the span reader.

The training set has 1,847 answerable questions, 3% of SQuAD; the reader's F1 is flat after
three epochs on it (MODEL_CARD.md). Text without questions is free, so before the SQuAD
epochs the reader first learns the task's core skill on questions made from text:

- a span that recurs in another paragraph of the same document (a name, a number, a
  capitalised phrase) is cut out of one sentence and replaced by a wh-word ("when" for a
  year, "how many" for a number, "what" otherwise): "The dynasty was founded by what in
  1271?";
- the context is another paragraph of the document that holds the span and shares the most
  content words with that question; the target is the span there;
- for a share of the questions the context is instead the paragraph that shares the most words
  but does not hold the span: the target is "no answer", as for SQuAD 2.0's unanswerable
  questions.

This is the recurring-span selection of Ram et al. (2021, "Few-Shot Question Answering by
Pretraining Span Selection") with the wh-word cloze of Dhingra et al. (2018, "Simple and
Effective Semi-Supervised Question Answering") and Lewis et al. (2019, "Unsupervised Question
Answering by Cloze Translation"), on the training articles' own text and the news development
sets (task-adaptive pretraining, Gururangan et al. 2020). It needs no labels, so nothing here is
fitted to the sets the product is measured on, which must never be passed as text.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

# scikit-learn's English stop list (318 words, with the prepositions and adverbs "across",
# "within", "however" that the index's short list keeps): a lower-case span to ask for should be
# a content word, and a maintained list beats one written here
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from ..chunking import split_sentences
from ..textnorm import terms
from .squad import Example

# spans worth asking for: numbers (with a scale word), and capitalised phrases (which may hold
# "of", "the", "de" ...); at most six words, so the target stays short like SQuAD's answers
_NUMBER = r"\d[\d,.]*\d|\d"
_SCALE = r"(?:\s(?:percent|per\scent|million|billion|thousand|hundred))?"
_CAP = r"[A-Z][\w'\u2019-]*(?:\s(?:(?:of|the|de|la|von|van|and|du|al|bin)\s)*[A-Z][\w'\u2019-]*){0,5}"
SPAN_RE = re.compile(rf"(?<![\w.,])(?:(?:{_NUMBER}){_SCALE}|{_CAP})(?![\w'\u2019-])")
# and common nouns and their pairs ("gravity", "trade routes"): SQuAD's answers are often lower-case
_LOWER_RE = re.compile(r"(?<![\w-])[a-z][a-z-]{3,}(?:\s[a-z][a-z-]{3,})?(?![\w-])")
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})$")


def wh_word(span: str) -> str:
    """The wh-word standing for a cut-out span: a data-making choice (Lewis et al. 2019 found
    the exact word matters little), not a rule of the product."""
    if _YEAR.match(span):
        return "when"
    if span[0].isdigit():
        return "how many"
    return "what"


def paragraphs_of(text: str, max_sentences: int = 6) -> list[str]:
    """Paragraphs (blank-line separated); a long one is cut into runs of sentences."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        sents = split_sentences(block)
        for i in range(0, len(sents), max_sentences):
            group = sents[i:i + max_sentences]
            out.append(block[group[0][0]:group[-1][1]])
    return out


def _occurs(span: str, paragraph: str) -> int:
    m = re.search(rf"(?<![\w]){re.escape(span)}(?![\w]|[.,]\d)", paragraph)
    return -1 if m is None else m.start()


def cloze_examples(documents: Iterable[tuple[str, list[str]]], seed: int = 13, negatives: float = 0.33,
                   per_sentence: int = 3, min_shared: int = 2, limit: int | None = None) -> list[Example]:
    """Cloze questions from (document name, paragraphs) pairs. Each question is asked of one
    other paragraph of its document: the span is its answer there, or, for a `negatives`
    share, a paragraph without the span (no answer). A question must share at least
    `min_shared` content words with its paragraph, so that the context says something about it."""
    rng = random.Random(seed)
    out: list[Example] = []
    for name, paras in documents:
        para_terms = [Counter(terms(p)) for p in paras]
        for pi, para in enumerate(paras):
            for s0, s1 in split_sentences(para):
                sent = para[s0:s1]
                if len(sent.split()) < 6:
                    continue
                spans = list(dict.fromkeys(m.group() for m in SPAN_RE.finditer(sent)
                                           if m.start() > 0 or len(m.group().split()) > 1 or m.group()[0].isdigit()))
                lower = [m.group() for m in _LOWER_RE.finditer(sent)
                         if not any(w in ENGLISH_STOP_WORDS for w in m.group().split())]
                rng.shuffle(spans)
                rng.shuffle(lower)
                spans += lower[:3]  # after the names and numbers: tried when those found no paragraph
                made = 0
                for span in spans:
                    if made >= per_sentence:
                        break
                    if not terms(span):
                        continue  # "The", "In": nothing to find
                    q = sent.replace(span, wh_word(span), 1).rstrip(" .;:!") + "?"
                    qt = Counter(terms(q))
                    holding, other = [], []
                    for pj, p2 in enumerate(paras):
                        if pj == pi:
                            continue
                        shared = sum((qt & para_terms[pj]).values())
                        if shared < min_shared:
                            continue
                        (holding if _occurs(span, p2) >= 0 else other).append((shared, pj))
                    if not holding:
                        continue
                    negative = bool(other) and rng.random() < negatives
                    shared, pj = max(other if negative else holding)
                    ctx = paras[pj]
                    answers = [] if negative else [(span, _occurs(span, ctx))]
                    out.append(Example(f"cloze-{name}-{pi}-{s0}-{len(out)}", name, q, ctx, answers))
                    made += 1
    rng.shuffle(out)
    return out[:limit] if limit else out


def squad_documents(data: Path, exclude: Iterable[str]) -> list[tuple[str, list[str]]]:
    """The training set's articles as unlabelled paragraphs, without the held-out ones."""
    import json

    skip = set(exclude)
    js = json.loads(Path(data).read_text(encoding="utf-8"))
    return [(a["title"], [p["context"] for p in a["paragraphs"]]) for a in js["data"] if a["title"] not in skip]


def folder_documents(folder: Path) -> tuple[str, list[str]]:
    """Every article the product can read in `folder` (its own loaders: .txt .md .html .jsonl),
    as one document: reports of one event by several outlets repeat its names and figures, so
    a question from one report is answered by another's paragraph, as in corroboration."""
    from ..loaders import LOADERS, load_file

    paras = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in LOADERS:
            continue
        for d in load_file(path, 10_000_000).documents:
            paras += paragraphs_of(d.text[d.body_start:])  # without a leading dateline
    return Path(folder).name, paras
