"""The answer decision, learned from data: which reader candidate to give, and whether to
answer at all.

A model over the candidate's features (evidence.FEATURES: the reader's span and
no-answer scores, the sentence scores of retrieval, answer-type agreement, question
words the passages lack, ...) gives the probability that the candidate is right: a
logistic regression (`"kind": "logistic"`) or gradient-boosted trees (`"kind": "trees"`,
sklearn's HistGradientBoostingClassifier written out as plain JSON node lists, so that
loading it runs no pickled code). The best candidate is given when that probability
reaches the threshold, otherwise the assistant abstains; or, with `"gate": "margin"`, whether
to answer is the reader's own: its best margin over the passages read (the best span's score
minus the no-answer score) must reach the threshold, SQuAD 2.0's null-score-difference
threshold, while the model still picks which candidate; or, with `"gate": "verified"`, the
candidate's probability and the answer verifier's logit for it (answering/verifier.py), each
standardised over the calibration questions' chosen candidates, are averaged with the weight
in `"mix"` and that must reach the threshold. The model and threshold are
fitted by `rag fit-decision` on training articles the reader never saw (see
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


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def logit(p: float) -> float:
    """The inverse of sigmoid, with p kept off 0 and 1."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Tree:
    """One regression tree: node i tests x[feature[i]] <= cut[i] (left) else right, until a
    leaf (left[i] == -1), whose value is added to the score."""

    feature: tuple[int, ...]
    cut: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def __call__(self, x: np.ndarray) -> float:
        i = 0
        while self.left[i] >= 0:
            i = self.left[i] if x[self.feature[i]] <= self.cut[i] else self.right[i]
        return self.value[i]

    def to_json(self) -> dict:
        return {"feature": list(self.feature), "cut": list(self.cut), "left": list(self.left),
                "right": list(self.right), "value": list(self.value)}

    @classmethod
    def from_json(cls, d: dict, n_features: int) -> "Tree":
        t = cls(tuple(int(v) for v in d["feature"]), tuple(float(v) for v in d["cut"]),
                tuple(int(v) for v in d["left"]), tuple(int(v) for v in d["right"]),
                tuple(float(v) for v in d["value"]))
        n = len(t.value)
        if not (len(t.feature) == len(t.cut) == len(t.left) == len(t.right) == n) or any(
                (l >= 0 and not (i < l < n and i < r < n and 0 <= f < n_features))
                for i, (f, l, r) in enumerate(zip(t.feature, t.left, t.right))):
            raise ValueError("decision model: malformed tree (node lists of unequal length, or a child "
                             "that does not come after its parent); refit with `rag fit-decision`")
        return t


@dataclass(frozen=True)
class DecisionModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    meta: dict = field(default_factory=dict, compare=False)
    kind: str = "logistic"          # or "trees": intercept + the sum of the trees' leaf values
    trees: tuple[Tree, ...] = ()
    gate: str = "p"                 # what must reach `threshold` to answer: "p", "margin" or "verified"
    # "verified" gate: (verifier weight, mean and sd of logit p, mean and sd of the verifier logit)
    mix: tuple[float, ...] = ()

    @property
    def uses_verifier(self) -> bool:
        """Whether answering needs the answer verifier's logit (as a feature or in the gate)."""
        if self.gate == "verified":
            return True
        if "verifier" not in self.features:
            return False
        i = self.features.index("verifier")
        if self.kind == "trees":
            return any(f == i for t in self.trees for f, l in zip(t.feature, t.left) if l >= 0)
        return self.coef[i] != 0.0

    def score(self, c: Candidate) -> float:
        """What this decision compares with its threshold, for one candidate."""
        if self.gate == "margin":
            return c.read.margin
        if self.gate == "verified":
            return self.verified(c.p_correct, c.features["verifier"])
        return c.p_correct

    def verified(self, p: float, verifier: float) -> float:
        """The "verified" gate's value: standardised logit of p and verifier logit, mixed."""
        w, mu_p, sd_p, mu_v, sd_v = self.mix
        return (1 - w) * (logit(p) - mu_p) / sd_p + w * (verifier - mu_v) / sd_v

    def confidence(self, c: Candidate) -> float:
        """0-1, higher when the decision is surer the candidate is right: its probability, or
        with the verified gate the logistic of the gate's value (the order the threshold cuts)."""
        return sigmoid(self.score(c)) if self.gate == "verified" else c.p_correct

    def accepts(self, c: Candidate) -> bool:
        """The candidate is one the decision would give (p_correct set: rank_candidates)."""
        return self.score(c) >= self.threshold

    def answers(self, ranked: list[Candidate]) -> bool:
        """Whether to answer at all, given the candidates best first: the best one's probability,
        or (margin gate) the reader's best margin over every passage read."""
        if not ranked:
            return False
        return any(self.accepts(c) for c in ranked) if self.gate == "margin" else self.accepts(ranked[0])

    def p(self, features: dict[str, float]) -> float:
        x = np.array([features[f] for f in self.features], dtype=np.float64)
        if self.kind == "trees":
            z = self.intercept + sum(t(x) for t in self.trees)
        else:
            z = float(((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept)
        return sigmoid(z)

    def to_json(self) -> dict:
        d = {"kind": self.kind, "features": list(self.features), "intercept": self.intercept,
             "threshold": self.threshold}
        if self.gate != "p":
            d["gate"] = self.gate
        if self.mix:
            d["mix"] = list(self.mix)
        if self.kind == "trees":
            d["trees"] = [t.to_json() for t in self.trees]
        else:
            d.update(mean=list(self.mean), scale=list(self.scale), coef=list(self.coef))
        d["meta"] = self.meta
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DecisionModel":
        missing = set(d["features"]) - set(FEATURES)
        if missing:
            raise ValueError(f"decision model uses unknown features {sorted(missing)}")
        kind = d.get("kind", "logistic")
        gate = d.get("gate", "p")
        if gate not in ("p", "margin", "verified"):
            raise ValueError(f"decision model gate {gate!r} is unknown (p, margin or verified); "
                             "refit with `rag fit-decision`")
        mix = tuple(float(v) for v in d.get("mix", ()))
        if gate == "verified" and (len(mix) != 5 or mix[2] <= 0 or mix[4] <= 0):
            raise ValueError("decision model: the verified gate needs \"mix\": [weight, mean and sd of logit p, "
                             "mean and sd of the verifier logit] (sds > 0); refit with `rag fit-decision`")
        n = len(d["features"])
        if kind == "trees":
            trees = tuple(Tree.from_json(t, n) for t in d["trees"])
            return cls(tuple(d["features"]), (0.0,) * n, (1.0,) * n, (0.0,) * n, float(d["intercept"]),
                       float(d["threshold"]), d.get("meta", {}), "trees", trees, gate, mix)
        if kind != "logistic":
            raise ValueError(f"decision model kind {kind!r} is unknown (logistic or trees); "
                             "refit with `rag fit-decision`")
        return cls(tuple(d["features"]), tuple(d["mean"]), tuple(d["scale"]), tuple(d["coef"]),
                   float(d["intercept"]), float(d["threshold"]), d.get("meta", {}), gate=gate, mix=mix)

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
    return ranked[0] if model.answers(ranked) else None
