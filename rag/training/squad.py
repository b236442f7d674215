"""SQuAD 2.0 data for the span reader: examples, split by article, and tokenised windows.

The training set is `../shared/datasets/squad2-train/squad2-train.json` (SQuAD's own
layout). Articles, never single questions, are held out: questions about one
paragraph are near-duplicates of each other, so a split by question would leak.
"""
from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ..answering.windows import Window, make_windows  # noqa: F401  (re-exported for training)

DEFAULT_TRAIN_JSON = Path("../shared/datasets/squad2-train/squad2-train.json")

# Held out whole from reader training; the answer/no-answer decision is fitted on them.
CALIBRATION_ARTICLES = ("Imperialism", "Harvard_University")

# The corpora the product is measured on: nothing is trained or fitted on them, their text included.
MEASURING_CORPORA = ("conflict_corpus", "events_corpus", "regional_corpus", "coastal_corpus", "upland_corpus",
                     "basin_corpus")


def is_measuring_set(path: Path | str) -> bool:
    """A measuring set's gold file or article folder: eval/gold.jsonl and the bundled articles it
    asks about, the corpora in MEASURING_CORPORA, the Rhine benchmark."""
    p = Path(path).resolve()
    name = p.name
    return (name in {"gold.jsonl"} | {f"{c}_gold.jsonl" for c in MEASURING_CORPORA} | set(MEASURING_CORPORA)
            or "squad2-rhine" in str(p) or p.parts[-2:] in (("data", "articles"), ("shared", "articles")))


@dataclass
class Example:
    qid: str
    article: str
    question: str
    context: str
    answers: list[tuple[str, int]] = field(default_factory=list)  # (text, char start) in context

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_examples(path: Path | str = DEFAULT_TRAIN_JSON) -> list[Example]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass --data with the path of squad2-train.json "
            "(../shared/datasets/squad2-train/squad2-train.json from the project folder).")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for art in data["data"]:
        for para in art["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else [
                    (a["text"], int(a["answer_start"])) for a in qa["answers"]]
                answers = [(t, s) for t, s in answers if ctx[s:s + len(t)] == t]
                if not qa.get("is_impossible") and not answers:
                    continue  # a misaligned gold span cannot be learned
                out.append(Example(qa["id"], art["title"], qa["question"].strip(), ctx, answers))
    return out


def split_by_article(examples: list[Example], held_out: Iterable[str] = CALIBRATION_ARTICLES):
    held = set(held_out)
    return ([e for e in examples if e.article not in held], [e for e in examples if e.article in held])


# -- SQuAD's official answer normalisation and token F1 ------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def best_f1(prediction: Optional[str], golds: list[str]) -> float:
    """SQuAD 2.0 scoring: an unanswerable question scores 1 only for no answer."""
    if not golds:
        return float(not prediction)
    if not prediction:
        return 0.0
    return max(f1(prediction, g) for g in golds)


def distractors(examples: list[Example], rate: float, seed: int) -> list[tuple[int, str]]:
    """Negative passages for reader training: for a `rate` share of the questions (chosen with
    `seed`), the other paragraph of the same article that BM25 (bm25s, the retrieval side's own
    scorer and term normalisation) ranks first for the question, skipping any paragraph that
    holds one of the question's annotated answers. Returned as (example index, paragraph); its
    target is no answer.

    Why: in the product the reader reads the best few retrieved passages, most of which do not
    answer, and its span and no-answer scores are compared across them. SQuAD windows come only
    from the question's own paragraph, so the reader never learns to say "not here" to a passage
    that merely shares the question's words. Training on such passages as no-answer is Clark &
    Gardner's (2018) remedy for multi-paragraph reading."""
    import bm25s
    from bm25s.tokenization import Tokenized

    from ..textnorm import terms

    rng = random.Random(seed)
    by_article: dict[str, dict[str, None]] = {}  # each article's paragraphs, in order, once
    for e in examples:
        by_article.setdefault(e.article, {})[e.context] = None
    indexes = {}
    for art, seen in by_article.items():
        paras = list(seen)
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in terms(p)] for p in paras]
        bm = bm25s.BM25()
        bm.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
        indexes[art] = (bm, vocab, paras)
    out = []
    for i, e in enumerate(examples):
        if rng.random() >= rate:
            continue
        bm, vocab, paras = indexes[e.article]
        q = [vocab[t] for t in terms(e.question) if t in vocab]
        if not q:
            continue
        scores = bm.get_scores(q)
        golds = [normalize_answer(a) for a, _ in e.answers]
        for j in np.argsort(-scores, kind="stable"):
            p = paras[int(j)]
            if scores[int(j)] <= 0:
                break
            if p == e.context or any(g and g in normalize_answer(p) for g in golds):
                continue
            out.append((i, p))
            break
    return out
