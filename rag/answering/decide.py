"""The answer decision, learned from data: which reader candidate to give, and whether to
answer at all.

A logistic regression over the candidate's features (evidence.FEATURES: the reader's
span and no-answer scores, the sentence scores of retrieval, answer-type agreement,
question words the passages lack, ...) gives the probability that the candidate is
right. The best candidate is given when that probability reaches the threshold,
otherwise the assistant abstains. Weights and threshold are fitted by
`rag fit-decision` on training articles the reader never saw (see
rag/data/reader/MODEL_CARD.md); this module only applies them.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .evidence import FEATURES, Candidate, vector
from .reader import SHIPPED_READER

DECISION_FILE = "decision.json"


@dataclass(frozen=True)
class DecisionModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    meta: dict = field(default_factory=dict, compare=False)

    def p(self, features: dict[str, float]) -> float:
        x = (np.array([features[f] for f in self.features]) - np.array(self.mean)) / np.array(self.scale)
        z = float(x @ np.array(self.coef) + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_json(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold,
                "meta": self.meta}

    @classmethod
    def from_json(cls, d: dict) -> "DecisionModel":
        missing = set(d["features"]) - set(FEATURES)
        if missing:
            raise ValueError(f"decision model uses unknown features {sorted(missing)}")
        return cls(tuple(d["features"]), tuple(d["mean"]), tuple(d["scale"]), tuple(d["coef"]),
                   float(d["intercept"]), float(d["threshold"]), d.get("meta", {}))

    @classmethod
    def margin_only(cls) -> "DecisionModel":
        """Before any fitting: the reader's own SQuAD 2.0 rule (answer when span beats no-answer)."""
        i = FEATURES.index("margin")
        coef = [0.0] * len(FEATURES)
        coef[i] = 1.0
        return cls(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), tuple(coef), 0.0, 0.5,
                   {"fitted": False})


def load_decision(folder: Path | str = SHIPPED_READER) -> DecisionModel:
    path = Path(folder) / DECISION_FILE
    if not path.exists():
        return DecisionModel.margin_only()
    return DecisionModel.from_json(json.loads(path.read_text(encoding="utf-8")))


def rank_candidates(model: DecisionModel, cands: list[Candidate]) -> list[Candidate]:
    """Candidates with p_correct set, best first."""
    for c in cands:
        c.p_correct = model.p(c.features)
    return sorted(cands, key=lambda c: -c.p_correct)


def feature_matrix(cands: list[Candidate]) -> np.ndarray:
    return np.stack([vector(c.features) for c in cands]) if cands else np.zeros((0, len(FEATURES)))


def best_or_none(model: DecisionModel, cands: list[Candidate]) -> Optional[Candidate]:
    ranked = rank_candidates(model, cands)
    return ranked[0] if ranked and ranked[0].p_correct >= model.threshold else None
