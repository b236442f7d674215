"""A learned answer-type model: does a candidate's form fit the question's form?

"What time did the strike begin?" is not answered by "six days", "How many pupils ...?" not by
"81 per cent", "Who is the spokesman?" not by "Czech Republic". The decision's hand-written
`type_match` feature says little (fitted on Wikipedia, its weight is about zero), so this model
learns the fit from data instead: a logistic regression over the question's form (its wh-word,
the word after it, the product's question kind) crossed with the candidate's form (what the
product's value parser makes of it, the date and time patterns, capitalisation, length),
fitted on the candidates the real pipeline proposes for squad2-train questions (`rag fit-answer-type`, rag/training/fit_answer_type.py). Its logit vetoes candidates under a
threshold fitted on held-out training and development data (`Answerer.read`).

The model is a feature -> weight table (JSON in the reader folder, `answer_type.json`): no
pickle, no hashing, readable. Scoring a candidate is a few dictionary lookups.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..textnorm import TOKEN_RE, fold
from .extract import DATE_RE, TIME_RE, question_type

FILE = "answer_type.json"

_WH = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


def question_form(question: str) -> list[str]:
    """The question's form: its first wh-word, that word and the next ("how many", "what time"),
    and the product's question kind (extract.question_type)."""
    words = [fold(w) for w in TOKEN_RE.findall(question)]
    i = next((k for k, w in enumerate(words) if w in _WH), None)
    wh = words[i] if i is not None else "none"
    nxt = words[i + 1] if i is not None and i + 1 < len(words) else ""
    qt = question_type(question)
    money = "" if qt.money is None else ("money" if qt.money else "count")
    return [f"wh={wh}", f"wh2={wh} {nxt}", f"kind={qt.kind}{':' + money if money else ''}"]


def answer_form(text: str) -> list[str]:
    """The candidate's form, from its words alone (no context): what the value parser reads in it
    (values.parse_amount: a count, a share, a currency, a pint dimension), date / clock time / year
    patterns, capitalisation, length."""
    from .values import parse_amount

    words = TOKEN_RE.findall(text)
    if not words:
        return ["empty"]
    out = []
    amount = parse_amount(text)
    if amount is None:
        out.append("amount=none")
    else:
        unit = amount.unit
        out.append("amount=" + ("count" if not unit else "%" if unit == "%" else
                                unit if unit.startswith("[") else "currency"))
    if DATE_RE.search(text):
        out.append("date")
    if TIME_RE.search(text):
        out.append("clock")
    if _YEAR.search(text):
        out.append("year")
    alpha = [w for w in words if w[0].isalpha()]
    caps = sum(w[0].isupper() for w in alpha)
    out.append("caps=" + ("none" if not alpha or caps == 0 else "all" if caps == len(alpha) else "some"))
    if any(w[0].isdigit() for w in words):
        out.append("digits")
    n = len(words)
    out.append("len=" + ("1" if n == 1 else "2" if n == 2 else "3-4" if n <= 4 else "5-8" if n <= 8 else "9+"))
    # no words of the candidate itself: with its first and last word as features the model
    # learned the training articles' topics ("first=treaty", "last=france") and, left out one
    # piece at a time, vetoed nothing useful (eval/candidates/2026-11-27-answer-type.md)
    return out


def features(question_feats: list[str], text: str) -> list[str]:
    """The model's features: each form of the candidate alone and crossed with each of the question's."""
    a = answer_form(text)
    return a + [f"{q}|{x}" for q in question_feats for x in a]


@dataclass
class AnswerTypeModel:
    weights: dict[str, float]
    bias: float
    threshold: Optional[float] = None  # candidates whose logit is under it are dropped; None: no veto
    meta: dict = field(default_factory=dict)

    def logit(self, question_feats: list[str], text: str) -> float:
        w = self.weights
        return self.bias + sum(w.get(f, 0.0) for f in features(question_feats, text))

    def vetoes(self, logit: float) -> bool:
        return self.threshold is not None and logit < self.threshold

    def save(self, folder: Path) -> Path:
        path = Path(folder) / FILE
        path.write_text(json.dumps({"kind": "answer-type-logistic", "bias": self.bias, "threshold": self.threshold,
                                    "meta": self.meta,
                                    "weights": dict(sorted(self.weights.items()))}, indent=1, ensure_ascii=False)
                        + "\n", encoding="utf-8")
        return path


def load(folder: Path) -> Optional[AnswerTypeModel]:
    """The model in a reader folder, or None when the folder has none (no veto, no feature)."""
    path = Path(folder) / FILE
    if not path.exists():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        t = d.get("threshold")
        return AnswerTypeModel({k: float(v) for k, v in d["weights"].items()}, float(d["bias"]),
                               None if t is None or (isinstance(t, float) and math.isinf(t)) else float(t),
                               d.get("meta", {}))
    except (ValueError, KeyError, TypeError) as e:
        from ..errors import ConfigError
        raise ConfigError(f"{path} is not a valid answer-type model ({e}): write it again with "
                          f"`rag fit-answer-type --reader {folder}` or reinstall the package.") from e
