"""Fit the answer decision (which reader candidate, answer or abstain) on held-out articles.

    rag fit-decision --reader rag/data/reader --data ../shared/datasets/squad2-train

The ten training articles are indexed together (so retrieval has distractors, as in the
product); the questions of the CALIBRATION_ARTICLES, which the reader was not trained
on, are asked through the real pipeline (retrieval, sentence scoring, reader). Every
candidate's features (answering/evidence.py FEATURES) are labelled right when its
answer overlaps a gold answer with token F1 >= 0.5 (never for unanswerable questions).
A logistic regression is fitted on them; the threshold is the one that maximises
SQuAD 2.0 F1 while answering at least (1 - MAX_FALSE_ABSTENTION) of the answerable
questions. Figures are reported leave-one-article-out (fit on one calibration article,
measured on the other); the shipped model is then fitted on both.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from .. import hardware
from .squad import CALIBRATION_ARTICLES, best_f1, load_examples

MAX_FALSE_ABSTENTION = 0.15  # the product promise: answer at least 85% of answerable questions
RIGHT_F1 = 0.5               # a candidate this close to a gold answer counts as right


def collect(reader_dir: Path, data_dir: Path, index_dir: Optional[Path] = None, limit: Optional[int] = None,
            progress: bool = True) -> list[dict]:
    """Per calibration question: its article, answerability and candidates (features, F1)."""
    from tqdm import tqdm

    from ..assistant import Assistant
    from ..settings import Settings

    settings = Settings()
    settings = settings.model_copy(update={"reader": settings.reader.model_copy(update={"path": reader_dir})})
    tmp = None
    if index_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="rag-fit-")
        index_dir = Path(tmp.name)
    a = Assistant(index_dir=index_dir, settings=settings, bootstrap=False)
    if not a.documents():
        report = a.ingest([data_dir / "articles"])
        if not report.ok:
            raise SystemExit(f"could not index the training articles: {report.refused}")
    examples = [e for e in load_examples(data_dir / "squad2-train.json") if e.article in CALIBRATION_ARTICLES]
    if limit:
        examples = examples[:limit]
    rows = []
    for e in tqdm(examples, disable=not progress, file=sys.stderr, unit="q", mininterval=5):
        ev = a.evidence(e.question)
        golds = [t for t, _ in e.answers]
        cands = [{"features": c.features, "f1": best_f1(c.text, golds) if golds else 0.0, "text": c.text}
                 for c in ev.candidates]
        rows.append({"article": e.article, "answerable": e.answerable, "golds": golds, "candidates": cands})
    if tmp is not None:
        tmp.cleanup()
    return rows


def _xy(rows, features):
    X, y = [], []
    for r in rows:
        for c in r["candidates"]:
            X.append([c["features"][f] for f in features])
            y.append(int(r["answerable"] and c["f1"] >= RIGHT_F1))
    return np.array(X, dtype=np.float64), np.array(y)


def fit(rows: list[dict], features) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, coef, intercept) of a logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    X, y = _xy(rows, features)
    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=2000)
    lr.fit((X - mean) / scale, y)
    return mean, scale, lr.coef_[0], float(lr.intercept_[0])


def outcomes(rows, features, mean, scale, coef, intercept) -> list[tuple[float, float, bool]]:
    """Per question: (p of the chosen candidate, its F1, answerable)."""
    out = []
    for r in rows:
        best_p, best_f1 = 0.0, 0.0
        for c in r["candidates"]:
            x = (np.array([c["features"][f] for f in features]) - mean) / scale
            p = 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))
            if p > best_p:
                best_p, best_f1 = float(p), c["f1"]
        out.append((best_p, best_f1, r["answerable"]))
    return out


def scores_at(out, threshold: float) -> dict:
    ans = [(p, f) for p, f, a in out if a]
    una = [p for p, f, a in out if not a]
    f1_ans = [f if p >= threshold else 0.0 for p, f in ans]
    return {
        "squad2_f1": float(np.mean(f1_ans + [float(p < threshold) for p in una])),
        "f1_answerable": float(np.mean(f1_ans)) if ans else None,
        "f1_when_answering": float(np.mean([f for p, f in ans if p >= threshold] or [0.0])),
        "false_abstention": float(np.mean([p < threshold for p, _ in ans])) if ans else None,
        "abstention_recall": float(np.mean([p < threshold for p in una])) if una else None,
        "n": len(out),
    }


def choose_threshold(out, max_false_abstention: float = MAX_FALSE_ABSTENTION) -> float:
    """The threshold with the best SQuAD 2.0 F1 among those that answer enough answerable questions."""
    grid = sorted({round(p, 4) for p, _, _ in out} | {0.0})
    best_t, best = 0.0, -1.0
    for t in grid:
        s = scores_at(out, t)
        if s["false_abstention"] is not None and s["false_abstention"] > max_false_abstention:
            continue
        if s["squad2_f1"] > best:
            best_t, best = t, s["squad2_f1"]
    return best_t


def run(reader_dir: Path, data_dir: Path, out_path: Optional[Path] = None, cache: Optional[Path] = None,
        index_dir: Optional[Path] = None, limit: Optional[int] = None) -> dict:
    from ..answering.decide import DECISION_FILE, DecisionModel
    from ..answering.evidence import FEATURES

    t0 = time.time()
    if cache is not None and cache.exists():
        rows = json.loads(cache.read_text())
    else:
        rows = collect(reader_dir, data_dir, index_dir, limit)
        if cache is not None:
            cache.write_text(json.dumps(rows))
    features = list(FEATURES)
    cv = {}
    for held in CALIBRATION_ARTICLES:
        train = [r for r in rows if r["article"] != held]
        test = [r for r in rows if r["article"] == held]
        if not train or not test:
            continue
        params = fit(train, features)
        t = choose_threshold(outcomes(train, features, *params))
        cv[held] = {"threshold": t, **scores_at(outcomes(test, features, *params), t)}
    mean, scale, coef, intercept = fit(rows, features)
    threshold = choose_threshold(outcomes(rows, features, mean, scale, coef, intercept))
    margin_only = outcomes(rows, ["margin"], np.zeros(1), np.ones(1), np.ones(1), 0.0)
    meta = {"fitted_on": list(CALIBRATION_ARTICLES), "questions": len(rows),
            "candidates": int(sum(len(r["candidates"]) for r in rows)),
            "right_f1": RIGHT_F1, "max_false_abstention": MAX_FALSE_ABSTENTION,
            "leave_one_article_out": cv,
            "reader_alone_margin_gt_0": scores_at(margin_only, 0.5),
            "in_sample": scores_at(outcomes(rows, features, mean, scale, coef, intercept), threshold),
            "cpu": hardware.describe(), "minutes": round((time.time() - t0) / 60, 1),
            "command": "rag fit-decision " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["fit-decision"] else [])}
    model = DecisionModel(tuple(features), tuple(mean), tuple(scale), tuple(coef), intercept, threshold, meta)
    out_path = out_path or (reader_dir / DECISION_FILE)
    out_path.write_text(json.dumps(model.to_json(), indent=2), encoding="utf-8")
    print(json.dumps(meta, indent=2), file=sys.stderr)
    return meta


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    from ..answering.reader import SHIPPED_READER

    p = argparse.ArgumentParser(prog="rag fit-decision", description=__doc__.split("\n\n")[0])
    p.add_argument("--reader", type=Path, default=SHIPPED_READER, help="reader folder (decision.json is written there)")
    p.add_argument("--data", type=Path, default=Path("../shared/datasets/squad2-train"))
    p.add_argument("--cache", type=Path, default=None, help="JSON file to keep/reuse the collected features")
    p.add_argument("--index", type=Path, default=None, help="index folder for the training articles (default: temporary)")
    p.add_argument("--limit", type=int, default=None)
    a = p.parse_args(argv)
    if not (a.data / "squad2-train.json").exists():
        print(f"error: {a.data / 'squad2-train.json'} not found: pass --data with the squad2-train folder "
              "(../shared/datasets/squad2-train from the project folder).", file=sys.stderr)
        return 2
    run(a.reader, a.data, cache=a.cache, index_dir=a.index, limit=a.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
