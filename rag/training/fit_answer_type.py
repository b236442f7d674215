"""Fit the answer-type model (answering/answertype.py) and its veto threshold, on training data.

    rag fit-answer-type --reader rag/data/reader --data ../shared/datasets/squad2-train \
        --news eval/newsdev/civic_dev_gold.jsonl --news eval/newsdev/field_dev_gold.jsonl

1. The model: the answerable questions of the reader's own training articles (not the two
   calibration articles) are asked through the real pipeline over all ten training articles;
   every candidate it proposes is an example, right when its token F1 with a gold answer is at
   least 0.5, and every gold answer is a right example too. A logistic regression (scikit-learn,
   L2, C=1, fixed before any comparison) over answertype.features.
2. The veto threshold: the questions of the two calibration articles (which neither the reader
   nor this model saw) and of the news development sets (`--news`, never a measuring set) are
   asked through the real pipeline; for each candidate threshold (no veto, or a quantile of the
   candidates' logits), each question is answered as the product would (the shipped decision's
   ranking and threshold over the candidates the veto leaves). The threshold kept is the best
   mean SQuAD 2.0 F1 over the domains (Wikipedia, news), with false abstention no more than
   MAX_EXTRA_FALSE_ABSTENTION above no veto in each. Reported leaving one piece out (an article,
   a news event): the threshold chosen on the other pieces, measured on the one left out.
The measuring sets (Rhine, eval/gold.jsonl, the test corpora) play no part and are refused.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import numpy as np

from .. import hardware
from .fit_decision import RIGHT_F1, ask_all, collect_news
from .squad import CALIBRATION_ARTICLES, best_f1, is_measuring_set, load_examples

C = 1.0
QUANTILES = (0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20, 0.25, 0.30)
# a veto may cost some right answers; it must not make the product abstain on answerable
# questions noticeably more often than without it (the product promises to answer >= 85%)
MAX_EXTRA_FALSE_ABSTENTION = 0.02


def _assistant(reader_dir: Path, index_dir: Path):
    from ..assistant import Assistant
    from ..settings import Settings

    settings = Settings()
    settings = settings.model_copy(update={"reader": settings.reader.model_copy(update={"path": reader_dir})})
    return Assistant(index_dir=index_dir, settings=settings, bootstrap=False)


def collect_squad(reader_dir: Path, data_dir: Path, articles, answerable_only: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="rag-fit-type-") as tmp:
        a = _assistant(reader_dir, Path(tmp))
        a.answerer.answer_type = None  # every candidate, none vetoed: the model is what is being fitted
        report = a.ingest([data_dir / "articles"])
        if not report.ok:
            raise SystemExit(f"could not index the training articles: {report.refused}")
        examples = [e for e in load_examples(data_dir / "squad2-train.json") if e.article in articles
                    and (e.answerable or not answerable_only)]
        return ask_all(a, examples)


def fit_model(rows: list[dict]):
    """(weights, bias, n_examples) of the logistic regression over the rows' candidates and golds."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from ..answering.answertype import features, question_form

    X, y = [], []
    for r in rows:
        if not r["answerable"]:
            continue
        qf = question_form(r["question"])
        seen = set()
        for c in r["candidates"]:
            seen.add(c["text"])
            X.append(features(qf, c["text"]))
            y.append(int(c["f1"] >= RIGHT_F1))
        for g in dict.fromkeys(r["golds"]):
            if g not in seen:
                X.append(features(qf, g))
                y.append(1)
    vec = DictVectorizer()
    M = vec.fit_transform([{f: 1.0 for f in x} for x in X])
    lr = LogisticRegression(C=C, max_iter=5000).fit(M, np.array(y))
    weights = {name: round(float(w), 5) for name, w in zip(vec.get_feature_names_out(), lr.coef_[0])
               if abs(w) >= 1e-4}
    return weights, float(lr.intercept_[0]), len(y), float(np.mean(y))


def simulate(rows: list[dict], decision, model, threshold: Optional[float]) -> dict:
    """Each question answered as the product would with this veto threshold: the decision's best
    candidate among those left, given when over the decision's threshold."""
    from ..answering.answertype import question_form

    f1s, false_abst, n_ans, abst, n_unans = [], 0, 0, 0, 0
    for r in rows:
        qf = question_form(r["question"])
        cands = sorted(r["candidates"], key=lambda c: -decision.p(c["features"]))
        if threshold is not None:
            cands = [c for c in cands if model.logit(qf, c["text"]) >= threshold]
        answered = bool(cands) and decision.score(_Cand(decision, cands[0])) >= decision.threshold
        if r["answerable"]:
            n_ans += 1
            f1s.append(best_f1(cands[0]["text"], r["golds"]) if answered else 0.0)
            false_abst += not answered
        else:
            n_unans += 1
            f1s.append(0.0 if answered else 1.0)
            abst += not answered
    return {"squad2_f1": float(np.mean(f1s)) if f1s else 0.0,
            "false_abstention": false_abst / n_ans if n_ans else 0.0,
            "abstention_recall": abst / n_unans if n_unans else 0.0, "n": len(rows)}


class _Cand:
    """What DecisionModel.score reads of a candidate, from a collected row."""

    def __init__(self, decision, row):
        self.features = row["features"]
        self.p_correct = decision.p(row["features"])
        self.read = type("R", (), {"margin": row["features"]["margin"]})()


def domain_of(row: dict) -> str:
    return "news" if row.get("news") else "wikipedia"


def choose(rows: list[dict], decision, model, grid) -> tuple[Optional[float], dict]:
    """The threshold with the best mean SQuAD2 F1 over the domains, false abstention within
    MAX_EXTRA_FALSE_ABSTENTION of no veto in each; (threshold, figures per domain)."""
    by_dom = defaultdict(list)
    for r in rows:
        by_dom[domain_of(r)].append(r)
    base = {d: simulate(rs, decision, model, None) for d, rs in by_dom.items()}
    best, best_figs, best_score = None, base, np.mean([f["squad2_f1"] for f in base.values()])
    for t in grid:
        figs = {d: simulate(rs, decision, model, t) for d, rs in by_dom.items()}
        if any(figs[d]["false_abstention"] > base[d]["false_abstention"] + MAX_EXTRA_FALSE_ABSTENTION
               for d in figs):
            continue
        score = np.mean([f["squad2_f1"] for f in figs.values()])
        if score > best_score + 1e-9:
            best, best_figs, best_score = t, figs, score
    return best, best_figs


def run(reader_dir: Path, data_dir: Path, news: tuple[Path, ...] = (), cache: Optional[Path] = None) -> dict:
    from ..answering.answertype import AnswerTypeModel, question_form
    from ..answering.decide import load_decision
    from .fit_decision import held_out_of

    for g in news:
        if is_measuring_set(g):
            raise SystemExit(f"--news {g}: that is a measuring set; nothing is fitted on it")
    t0 = time.time()
    held = held_out_of(reader_dir)
    examples = load_examples(data_dir / "squad2-train.json")
    train_articles = sorted({e.article for e in examples} - set(held))
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
    else:
        print(f"asking the answerable questions of {len(train_articles)} training articles ...", file=sys.stderr)
        data = {"train": collect_squad(reader_dir, data_dir, set(train_articles), answerable_only=True)}
        print(f"asking the questions of the held-out articles {', '.join(held)} ...", file=sys.stderr)
        data["held"] = collect_squad(reader_dir, data_dir, set(held), answerable_only=False)
        data["news"] = [r for g in news for r in collect_news(reader_dir, g, veto=False)]
        if cache is not None:
            cache.write_text(json.dumps(data), encoding="utf-8")
    weights, bias, n, pos = fit_model(data["train"])
    model = AnswerTypeModel(weights, bias)
    decision = load_decision(reader_dir)
    pool = data["held"] + data["news"]
    logits = [model.logit(question_form(r["question"]), c["text"]) for r in pool for c in r["candidates"]]
    grid = sorted({round(float(np.quantile(logits, q)), 4) for q in QUANTILES}) if logits else []
    # leave one piece (an article, a news event) out
    pieces = sorted({r["article"] for r in pool})
    lopo = {}
    for piece in pieces:
        rest = [r for r in pool if r["article"] != piece]
        t, _ = choose(rest, decision, model, grid)
        mine = [r for r in pool if r["article"] == piece]
        lopo[piece] = {"threshold": t, "domain": domain_of(mine[0]),
                       "veto": simulate(mine, decision, model, t), "no_veto": simulate(mine, decision, model, None)}

    def mean_of(which: str) -> dict:
        out = {}
        for dom in ("wikipedia", "news"):
            ps = [v for v in lopo.values() if v["domain"] == dom]
            if ps:
                out[dom] = {k: round(float(np.average([p[which][k] for p in ps], weights=[p[which]["n"] for p in ps])), 4)
                            for k in ("squad2_f1", "false_abstention", "abstention_recall")}
        return out

    threshold, figs = choose(pool, decision, model, grid)
    model.threshold = threshold
    model.meta = {
        "fitted_on": {"model": train_articles, "threshold": list(held) + [str(g) for g in news]},
        "examples": n, "right_share": round(pos, 4), "C": C, "quantiles": list(QUANTILES), "grid": grid,
        "max_extra_false_abstention": MAX_EXTRA_FALSE_ABSTENTION,
        "leave_one_piece_out": {"veto": mean_of("veto"), "no_veto": mean_of("no_veto"),
                                "pieces": {p: {"threshold": v["threshold"], "veto": v["veto"], "no_veto": v["no_veto"]}
                                           for p, v in lopo.items()}},
        "in_sample": {d: f for d, f in figs.items()},
        "cpu": hardware.describe(),
        "minutes": round((time.time() - t0) / 60, 1),
        "command": "rag fit-answer-type " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["fit-answer-type"] else sys.argv[1:]),
    }
    path = model.save(reader_dir)
    print(json.dumps(model.meta["leave_one_piece_out"] | {"threshold": threshold}, indent=1, default=str))
    print(f"wrote {path}", file=sys.stderr)
    return model.meta


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    from ..answering.reader import SHIPPED_READER

    p = argparse.ArgumentParser(prog="rag fit-answer-type", description=__doc__.split("\n\n")[0])
    p.add_argument("--reader", type=Path, default=SHIPPED_READER, help="reader folder (answer_type.json is written there)")
    p.add_argument("--data", type=Path, default=Path("../shared/datasets/squad2-train"))
    p.add_argument("--news", type=Path, action="append", default=[], metavar="GOLD_JSONL",
                   help="a news development set to fit the veto threshold on too (eval/newsdev/); repeatable")
    p.add_argument("--cache", type=Path, default=None, help="JSON file to keep/reuse the collected candidates")
    a = p.parse_args(argv)
    if not (a.data / "squad2-train.json").exists():
        print(f"error: {a.data / 'squad2-train.json'} not found: pass --data with the squad2-train folder "
              "(../shared/datasets/squad2-train from the project folder).", file=sys.stderr)
        return 2
    run(a.reader, a.data, tuple(a.news), a.cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
