"""SQuAD 2.0 data for the span reader: examples, split by article, and tokenised windows.

The training set is `../shared/datasets/squad2-train/squad2-train.json` (SQuAD's own
layout). Articles, never single questions, are held out: questions about one
paragraph are near-duplicates of each other, so a split by question would leak.
"""
from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from ..answering.windows import Window, make_windows  # noqa: F401  (re-exported for training)

DEFAULT_TRAIN_JSON = Path("../shared/datasets/squad2-train/squad2-train.json")

# Held out whole from reader training; the answer/no-answer decision is fitted on them.
CALIBRATION_ARTICLES = ("Imperialism", "Harvard_University")


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
