"""Fit the answer decision (which reader candidate, answer or abstain) on held-out articles.

    rag fit-decision --reader rag/data/reader --data ../shared/datasets/squad2-train

The ten training articles are indexed together (so retrieval has distractors, as in the
product); the questions of the CALIBRATION_ARTICLES, which the reader was not trained
on, are asked through the real pipeline (retrieval, sentence scoring, reader). Every
candidate's features (answering/evidence.py FEATURES) are labelled right when its
answer overlaps a gold answer with token F1 >= 0.5 (never for unanswerable questions).
Several decision models (OPTIONS: logistic regressions and gradient-boosted trees over
feature sets) are compared leave-one-article-out: fitted on all calibration articles but
one, measured on that one. Each option's threshold is the one that maximises SQuAD 2.0 F1
while abstaining wrongly on at most an inner cap of the answerable questions, chosen on
out-of-fold probabilities of its training part only; the inner cap is the largest
(INNER_CAPS) whose false abstention on the held-out articles stays within
MAX_FALSE_ABSTENTION. The option with the best mean
held-out SQuAD 2.0 F1 among those whose mean held-out false abstention stays within
MAX_FALSE_ABSTENTION is refitted on all of them and shipped. The held-out
measuring sets (Rhine, eval/gold.jsonl, the conflict corpus) play no part.

Two articles are little to fit and compare on. `--fold READER_DIR` (repeatable) adds the
questions of other readers, trained the same way with other articles held out
(`train-reader --held-out`), each asked of its own reader: the decision is then fitted on all
those articles and compared leaving one article out at a time (cross-fitting).

`--news GOLD_JSONL` (repeatable) adds a news development set (eval/newsdev/): its questions,
asked over its own articles, grouped by event; every option is then compared at several news
weights, thresholds keep the false-abstention cap on news and on SQuAD separately, and options
are ranked on the mean of the two domains. Measuring sets are refused.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from .. import hardware
from .squad import CALIBRATION_ARTICLES, best_f1, is_measuring_set, load_examples

MAX_FALSE_ABSTENTION = 0.15  # the product promise: answer at least 85% of answerable questions
RIGHT_F1 = 0.5               # a candidate this close to a gold answer counts as right


def held_out_of(reader_dir: Path) -> tuple[str, ...]:
    """The training articles a reader never saw (its training.json), the shipped pair if unsaid."""
    meta = Path(reader_dir) / "training.json"
    if meta.exists():
        held = json.loads(meta.read_text(encoding="utf-8")).get("held_out_articles")
        if held:
            return tuple(held)
    return CALIBRATION_ARTICLES


def collect(reader_dir: Path, data_dir: Path, index_dir: Optional[Path] = None, limit: Optional[int] = None,
            progress: bool = True, real_questions: bool = True, variants: bool = False) -> list[dict]:
    """Per question of the articles `reader_dir`'s reader never saw: its article, answerability
    and candidates (features, F1); with `variants`, the same for the absent-name variants (only
    those with real_questions=False)."""
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
    held = held_out_of(reader_dir)
    examples = [e for e in load_examples(data_dir / "squad2-train.json") if e.article in held]
    if limit:
        examples = examples[:limit]
    rows = ask_all(a, examples, progress) if real_questions else []
    if variants:
        rows += ask_all(a, absent_name_variants(examples, a), progress, synthetic=ABSENT_NAME)
    if tmp is not None:
        tmp.cleanup()
    return rows


def ask_all(a, examples, progress: bool = True, synthetic: Optional[str] = None) -> list[dict]:
    """One row per example: its candidates' features and F1, asked through the real pipeline."""
    from tqdm import tqdm

    rows = []
    for e in tqdm(examples, disable=not progress, file=sys.stderr, unit="q", mininterval=5):
        ev = a.evidence(e.question)
        golds = [t for t, _ in e.answers]
        cands = candidate_rows(ev, golds)
        row = {"article": e.article, "qid": e.qid, "question": e.question,
               "paragraph": hashlib.sha1(e.context.encode()).hexdigest()[:12],
               "answerable": e.answerable, "golds": golds, "candidates": cands}
        if synthetic:
            row["synthetic"] = synthetic
        rows.append(row)
    return rows


def candidate_rows(ev, golds: list[str]) -> list[dict]:
    """Each candidate of an Evidence as a fitting row: its features and its F1 against the gold
    answers (0 for an unanswerable question)."""
    return [{"features": c.features, "f1": best_f1(c.text, golds) if golds else 0.0, "text": c.text,
             "doc_id": c.doc_id, "start": c.start, "end": c.end, "sentence": c.sentence.text if c.sentence else None}
            for c in ev.candidates]


def collect_news(reader_dir: Path, gold_path: Path, progress: bool = True) -> list[dict]:
    """Per question of a news development set (a gold .jsonl beside its article folder, e.g.
    eval/newsdev/civic_dev_gold.jsonl and eval/newsdev/civic_dev/): its candidates' features
    and F1, asked through the real pipeline over that corpus alone. No reader was trained on
    these articles, so every row is held out for the reader as the SQuAD rows of a fold are.

    Why: a decision fitted on Wikipedia alone kept false abstention at .15 there and let it
    reach .19-.29 on invented news (stop 9); these rows let the fit see news. Each question's
    group ("news/CORPUS/EVENT") is its event, so leaving one group out holds out a whole
    event's articles, as leaving one SQuAD article out does."""
    from ..assistant import Assistant
    from ..evaluate.samples import load_gold
    from ..settings import Settings

    gold_path = Path(gold_path)
    if is_measuring_set(gold_path):
        raise SystemExit(f"--news {gold_path}: that is a measuring set; nothing is fitted on it "
                         "(use a development set such as eval/newsdev/civic_dev_gold.jsonl)")
    corpus = gold_path.with_name(gold_path.name.removesuffix("_gold.jsonl"))
    if not corpus.is_dir():
        raise SystemExit(f"--news {gold_path}: expected its articles in {corpus}/ (the gold file's name "
                         "without _gold.jsonl)")
    settings = Settings()
    settings = settings.model_copy(update={"reader": settings.reader.model_copy(update={"path": reader_dir})})
    samples = load_gold(gold_path)
    events = news_events(samples)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-fit-news-") as tmp:
        a = Assistant(index_dir=Path(tmp), settings=settings, bootstrap=False)
        report = a.ingest([corpus])
        if not report.ok:
            raise SystemExit(f"could not index {corpus}: {report.refused}")
        from tqdm import tqdm
        for s in tqdm(samples, disable=not progress, file=sys.stderr, unit="q", mininterval=5):
            ev = a.evidence(s.question)
            cands = candidate_rows(ev, s.answers)
            rows.append({"article": f"news/{corpus.name}/{events[s.id]}", "qid": s.id, "question": s.question,
                         "paragraph": s.id, "answerable": s.answerable, "golds": list(s.answers),
                         "tags": list(s.tags), "news": corpus.name, "candidates": cands})
    return rows


def news_events(samples) -> dict[str, str]:
    """Each question's event: the connected group of articles its `sources` name (questions
    citing one article belong to one event). A question without sources (unanswerable) joins
    the event whose articles share the most of its words, else "misc"."""
    from ..textnorm import terms

    parent: dict[str, str] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for s in samples:
        src = [str(x) for x in s.extra.get("sources", [])]
        for x in src[1:]:
            parent[find(x)] = find(src[0])
    words: dict[str, set] = {}
    for s in samples:
        src = s.extra.get("sources", [])
        if src:
            words.setdefault(find(str(src[0])), set()).update(terms(s.question))
    names = {root: f"e{i}" for i, root in enumerate(sorted(words))}
    out = {}
    for s in samples:
        src = s.extra.get("sources", [])
        if src:
            out[s.id] = names[find(str(src[0]))]
        else:
            q = set(terms(s.question))
            best = max(words, key=lambda r: len(q & words[r]), default=None)
            out[s.id] = names[best] if best is not None and q & words[best] else "misc"
    return out


# Unanswerable questions that name something no article mentions ("How many doses did Vietnam
# donate to Peru?" over articles that never say Peru). SQuAD 2.0's unanswerable questions are
# written against their own paragraph, and every name they use is in the ten indexed training
# articles, so the decision never saw a question about an absent name and gave that signal
# (`unknown_terms`) no weight. Each answerable calibration question that names something (a
# capitalised word after the first, found in the articles) is asked again about an invented
# name (seeded syllables, checked absent from every article) and labelled unanswerable. These
# rows teach the weights only: thresholds and the comparison's figures use the real questions.
#
# Opt-in (`--absent-names WEIGHT`, each variant row weighing WEIGHT against a real one), not in
# the shipped decision. Measured 2026-11-26, "logistic, previous 22 features", leave one
# training article out, for weights 0 / 0.1 / 0.25 / 0.5 / 1: SQuAD2 F1 .469 / .471 / .465 /
# .437 / .449, false abstention .143 / .153 / .169 / .137 / .151, abstention on held-out
# absent-name variants .34 / .50 / .66 / .76 / .88. Shipped at 0.1 (the largest weight costing
# the real questions no F1), it changed no abstention on eval/gold.jsonl (still .375: the
# "donate to Peru" questions stayed answered), cost two gold answers (F1 .583 -> .566, answer
# hit .887 -> .863, under the gate) and moved Rhine (F1 .480 -> .478, abstention .284 -> .274).
ABSENT_NAME = "absent-name"
_SYLLABLES = ("bar", "kel", "mor", "tav", "lin", "sor", "vel", "dun", "rak", "pel", "qui", "zan", "oth", "ime")
_ENDINGS = ("ova", "ento", "ard", "mir", "usk", "eth", "ain", "ople", "ix")


def absent_name_variants(examples, assistant, seed: int = 13) -> list:
    """The answerable `examples` that name something, each about an invented absent name instead."""
    import random
    from dataclasses import replace

    from ..textnorm import STOPWORDS, TOKEN_RE, fold

    known: set[str] = set()
    for d in assistant.documents():
        known.update(fold(w) for w in TOKEN_RE.findall(assistant.document(d["doc_id"]).text))
    rng = random.Random(seed)
    out = []
    for e in examples:
        if not e.answerable:
            continue
        names = [m for i, m in enumerate(TOKEN_RE.finditer(e.question))
                 if i > 0 and m.group()[0].isupper() and fold(m.group()) not in STOPWORDS
                 and fold(m.group()) in known]
        if not names:
            continue
        m = rng.choice(names)
        while True:
            invented = (rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES) + rng.choice(_ENDINGS)).capitalize()
            if fold(invented) not in known:
                break
        question = e.question[:m.start()] + invented + e.question[m.end():]
        out.append(replace(e, qid=f"{e.qid}:{ABSENT_NAME}", question=question, answers=[]))
    return out


def real(rows: list[dict]) -> list[dict]:
    """The rows of real training questions (not the absent-name variants)."""
    return [r for r in rows if not r.get("synthetic")]


OLD_FEATURES = ("margin", "span_score", "null_score", "sent_score", "sent_coverage", "sent_similarity",
                "sent_type_ok", "sent_position", "chunk_position", "type_known", "type_match",
                "answer_words", "answer_in_question", "unknown_terms", "best_coverage", "best_similarity",
                "rank_among_candidates", "margin_gap", "from_rules", "from_reader", "reader_and_rules_agree",
                "names_missing_here")  # the features of the decision shipped before span_gap/agreeing_passages

SCORE_FEATURES = tuple("chunk_score" if f == "chunk_position" else f for f in OLD_FEATURES)

# Fixed before any comparison was run (no search over them: two articles cannot support one).
TREE_PARAMS = dict(max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=20,
                   l2_regularization=1.0, random_state=13)


def _options():
    from ..answering.evidence import FEATURES
    return {
        "logistic, previous 22 features": ("logistic", OLD_FEATURES, {"C": 1.0}),
        # the same with the passage's relative retrieval score for its rank (robust to near-ties)
        "logistic, 22 features, chunk score": ("logistic", SCORE_FEATURES, {"C": 1.0}),
        # the same with the answer verifier's logit (answering/verifier.py): a model trained apart
        # on gold against plausible-looking answers (only useful when the reader folder has one)
        "logistic, previous 22 features + verifier": ("logistic", OLD_FEATURES + ("verifier",), {"C": 1.0}),
        # the 22-feature model picks; whether to answer is its probability and the verifier's
        # logit of that candidate, standardised and averaged (decide.DecisionModel.verified)
        "logistic, previous 22 features, verified gate": ("logistic", OLD_FEATURES,
                                                          {"C": 1.0, "gate": "verified", "verifier_weight": 0.5}),
        "logistic, all features": ("logistic", tuple(FEATURES), {"C": 1.0}),
        "logistic, all features, C=0.1": ("logistic", tuple(FEATURES), {"C": 0.1}),
        "boosted trees, all features": ("trees", tuple(FEATURES), TREE_PARAMS),
        # the 22-feature model picks the candidate; whether to answer is the reader's own best
        # margin over the passages read (SQuAD 2.0's null-score-difference threshold): a model
        # fitted on candidates' right/wrong labels mixes "which" with "whether", and with readers
        # whose no-answer scores are better (--answers all, --negatives) it abstained less well
        # than the reader's margin alone on the calibration questions
        "logistic, previous 22 features, reader's margin decides": ("logistic", OLD_FEATURES,
                                                                    {"C": 1.0, "gate": "margin"}),
    }


def _xy(rows, features, news_weight: float = 1.0):
    X, y, w = [], [], []
    for r in rows:
        for c in r["candidates"]:
            X.append([c["features"][f] for f in features])
            y.append(int(r["answerable"] and c["f1"] >= RIGHT_F1))
            # a variant row weighs what --absent-names says; a news row what the option says
            w.append(r.get("weight", 1.0) * (news_weight if r.get("news") else 1.0))
    return np.array(X, dtype=np.float64).reshape(-1, len(features)), np.array(y), np.array(w)


def fit_model(rows: list[dict], kind: str, features, params: dict):
    """A fitted DecisionModel (threshold 0.5 until chosen) for one option."""
    from ..answering.decide import DecisionModel

    X, y, w = _xy(rows, features, params.get("news_weight", 1.0))
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        mean, scale = X.mean(0), X.std(0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=params.get("C", 1.0), max_iter=2000)
        lr.fit((X - mean) / scale, y, sample_weight=w)
        model = DecisionModel(tuple(features), tuple(mean), tuple(scale), tuple(lr.coef_[0]),
                              float(lr.intercept_[0]), 0.5, gate=params.get("gate", "p"))
        if model.gate == "verified":
            model = verified_gate(model, rows, params["verifier_weight"])
        return model
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    # One OpenMP thread: with two, sklearn bins the features through joblib's threading backend,
    # whose result polling sleeps 10 ms at a time: 1.3 of a fit's 1.6 s on a few thousand
    # candidates (cProfile, 2026-11-27), most of `fit-decision`'s 18 minutes with news sets.
    with threadpool_limits(limits=1, user_api="openmp"):
        clf = HistGradientBoostingClassifier(**{k: v for k, v in params.items() if k != "news_weight"}).fit(
            X, y, sample_weight=w)
    n = len(features)
    model = DecisionModel(tuple(features), (0.0,) * n, (1.0,) * n, (0.0,) * n,
                          float(np.ravel(clf._baseline_prediction)[0]), 0.5, {}, "trees",
                          tuple(export_tree(t[0].nodes) for t in clf._predictors))
    check = X[:200]
    if len(check):
        ours = np.array([model.p(dict(zip(features, x))) for x in check])
        assert np.allclose(ours, clf.predict_proba(check)[:, 1], atol=1e-9), "tree export does not match sklearn"
    return model


def verified_gate(model, rows: list[dict], weight: float):
    """`model` with the "verified" gate: its probability's logit and the verifier's logit of the
    candidate it picks, each standardised over the questions of `rows` (their picked candidates),
    averaged with `weight` on the verifier. A fixed mix, not a fitted one: with two calibration
    articles a fitted weight on top of the 22-feature model swung between them (see
    eval/candidates/2026-11-27-verifier.md)."""
    from dataclasses import replace

    from ..answering.decide import logit

    lp, vs = [], []
    for r in real(rows):
        if not r["candidates"]:
            continue
        best = max(r["candidates"], key=lambda c: model.p(c["features"]))
        lp.append(logit(model.p(best["features"])))
        vs.append(best["features"]["verifier"])
    sd_p, sd_v = float(np.std(lp)) or 1.0, float(np.std(vs)) or 1.0
    return replace(model, mix=(float(weight), float(np.mean(lp)), sd_p, float(np.mean(vs)), sd_v))


def export_tree(nodes):
    """sklearn's TreePredictor nodes as plain lists (decide.Tree), children renumbered after parents."""
    from ..answering.decide import Tree

    order, index = [], {}
    stack = [0]
    while stack:  # depth-first from the root: every child gets a larger index than its parent
        i = stack.pop()
        index[i] = len(order)
        order.append(i)
        if not nodes[i]["is_leaf"]:
            stack += [int(nodes[i]["right"]), int(nodes[i]["left"])]
    feat, cut, left, right, value = [], [], [], [], []
    for i in order:
        nd = nodes[i]
        leaf = bool(nd["is_leaf"])
        if not leaf and nd["is_categorical"]:
            raise ValueError("categorical splits are not supported")
        feat.append(0 if leaf else int(nd["feature_idx"]))
        cut.append(0.0 if leaf else float(nd["num_threshold"]))
        left.append(-1 if leaf else index[int(nd["left"])])
        right.append(-1 if leaf else index[int(nd["right"])])
        value.append(float(nd["value"]) if leaf else 0.0)
    return Tree(tuple(feat), tuple(cut), tuple(left), tuple(right), tuple(value))


NO_CANDIDATE = -1e9  # the gate score of a question without candidates: never answered


def outcomes(rows, model) -> list[tuple[float, float, bool]]:
    """Per question: (what the model's gate compares with its threshold: the chosen candidate's
    p, or the reader's best margin over all candidates; the chosen candidate's F1; answerable)."""
    out = []
    for r in rows:
        best_p, best_f1 = 0.0, 0.0
        best = None
        for c in r["candidates"]:
            p = model.p(c["features"])
            if p > best_p:
                best_p, best_f1, best = float(p), c["f1"], c
        if model.gate == "verified":
            gate = NO_CANDIDATE if best is None else model.verified(best_p, best["features"]["verifier"])
            out.append((gate, best_f1, r["answerable"]))
        elif model.gate == "margin":
            gate = max((float(c["features"]["margin"]) for c in r["candidates"]), default=NO_CANDIDATE)
            out.append((gate, best_f1, r["answerable"]))
        else:
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


def _grid(out) -> np.ndarray:
    # every observed score, and one at or under all of them (answer everything: 0 for probabilities)
    scores = [p for p, _, _ in out if p > NO_CANDIDATE]
    return np.array(sorted({round(p, 4) for p in scores} | {min([0.0] + [math.floor(p) - 1.0 for p in scores if p < 0])}))


def _curve(out, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SQuAD 2.0 F1 and false abstention of `out` at every threshold of `grid`, from sorted
    scores and running sums."""
    p_ans = np.array([p for p, f, a in out if a], dtype=float)
    f_ans = np.array([f for p, f, a in out if a], dtype=float)
    p_una = np.sort(np.array([p for p, f, a in out if not a], dtype=float))
    order = np.argsort(p_ans, kind="stable")
    p_ans, f_ans = p_ans[order], f_ans[order]
    # answered at t: p >= t, i.e. the answerable ones from searchsorted(p, t, "left") on
    below_ans = np.searchsorted(p_ans, grid, side="left")        # answerable abstained on (p < t)
    f1_above = np.concatenate([np.cumsum(f_ans[::-1])[::-1], [0.0]])[below_ans]
    below_una = np.searchsorted(p_una, grid, side="left")        # unanswerable abstained on
    squad2 = (f1_above + below_una) / max(len(out), 1)
    false_abst = below_ans / len(p_ans) if len(p_ans) else np.zeros(len(grid))
    return squad2, false_abst


def choose_threshold(out, max_false_abstention: float = MAX_FALSE_ABSTENTION, domains=None) -> float:
    """The threshold with the best SQuAD 2.0 F1 among those that answer enough answerable questions
    (the lowest such threshold on a tie; 0.0 when none keeps within the cap).
    With `domains` (one label per outcome: "squad", "news"), the cap must hold in every domain
    and the F1 is the mean over domains, so a few hundred news questions weigh as much as
    thousands of Wikipedia ones.
    Every grid threshold is scored at once from sorted scores and running sums: scoring each
    with `scores_at` made a ten-article `fit-decision` spend most of its 40 minutes here
    (thousands of thresholds times thousands of questions, times options, articles and caps)."""
    grid = _grid(out)
    parts = [out] if domains is None else [[o for o, d in zip(out, domains) if d == k] for k in sorted(set(domains))]
    squad2 = np.zeros(len(grid))
    ok = np.ones(len(grid), dtype=bool)
    for part in parts:
        f1, fa = _curve(part, grid)
        squad2 += f1 / len(parts)
        if any(a for _, _, a in part):
            ok &= fa <= max_false_abstention + 1e-12
    if not ok.any():
        return 0.0
    squad2 = np.where(ok, squad2, -1.0)
    return float(grid[int(np.argmax(squad2 > squad2.max() - 1e-12))])


def pick_threshold(oof, rows, cap: float = MAX_FALSE_ABSTENTION, threshold_on: str = "both") -> float:
    """The threshold for out-of-fold outcomes `oof` of `rows`: with news rows, the cap holds in
    each domain ("both"), or the threshold is chosen on the news rows alone ("news": the product
    answers news; a reader whose scores sit higher on news than on Wikipedia otherwise gets a
    threshold that the Wikipedia cap holds down, abstaining on few unanswerable news questions)."""
    if threshold_on not in ("both", "news"):
        raise SystemExit(f"--threshold-on {threshold_on!r}: use 'both' or 'news'")
    doms = _domains(rows)
    if threshold_on == "news":
        if doms is None:
            raise SystemExit("--threshold-on news needs news rows: pass --news with a development set")
        return choose_threshold([o for o, d in zip(oof, doms) if d == "news"], cap)
    return choose_threshold(oof, cap, doms)


def domain(row: dict) -> str:
    """"news" for a row of a news development set (--news), else "squad"."""
    return "news" if row.get("news") else "squad"


def out_of_fold(rows, kind, features, params, folds: int = 5) -> list[tuple[float, float, bool]]:
    """Outcomes of `rows` each predicted by a model that did not see it: by article when
    there are several, else by paragraph (questions on one paragraph are near-duplicates)."""
    articles = sorted({r["article"] for r in rows})
    if len(articles) > 1:
        groups = [articles.index(r["article"]) for r in rows]
    else:
        paras = sorted({r.get("paragraph", r.get("qid", i)) for i, r in enumerate(rows)})
        rank = {p: i for i, p in enumerate(paras)}
        groups = [rank[r.get("paragraph", r.get("qid", i))] % folds for i, r in enumerate(rows)]
    out = [None] * len(rows)
    for g in sorted(set(groups)):
        train = [r for r, k in zip(rows, groups) if k != g]
        model = fit_model(train, kind, features, params)
        for i, (r, k) in enumerate(zip(rows, groups)):
            if k == g:
                out[i] = outcomes([r], model)[0]
    return out


def fit_with_threshold(rows, kind, features, params, cap: float = MAX_FALSE_ABSTENTION, threshold_on: str = "both"):
    """The option fitted on `rows`, its threshold chosen on out-of-fold outcomes of `rows`
    (false abstention at most `cap` there; see pick_threshold)."""
    from dataclasses import replace

    model = fit_model(rows, kind, features, params)
    oof = out_of_fold(rows, kind, features, params)
    kept = [(o, r) for o, r in zip(oof, rows) if not r.get("synthetic")]
    return replace(model, threshold=pick_threshold([o for o, _ in kept], [r for _, r in kept], cap, threshold_on))


def _domains(rows):
    """Per row its domain when news rows take part (choose_threshold then holds the cap in each)."""
    return [domain(r) for r in rows] if any(r.get("news") for r in rows) else None


# How much a news development question weighs against a Wikipedia one in the fit: compared, not
# guessed (a few hundred news questions beside 3,870 SQuAD ones).
NEWS_WEIGHTS = (1.0, 4.0, 16.0)


# A threshold chosen to abstain wrongly on at most 15% of the answerable questions of some
# articles abstains wrongly on more of another's: measured leave one article out, every option
# overshot (.157-.171 over four articles with the cap at .15). So the cap the threshold is chosen
# with is itself chosen on held-out articles: the largest of these whose mean false abstention
# on the held-out articles stays within MAX_FALSE_ABSTENTION (nested cross-validation).
INNER_CAPS = (0.15, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09, 0.08, 0.07, 0.06, 0.05)


def compare(rows, threshold_on: str = "both") -> dict:
    """Leave-one-article-out figures of every option (and the reader's own rule), each with
    the inner cap (INNER_CAPS) that keeps its held-out false abstention within the promise."""
    table = {}
    articles = sorted({r["article"] for r in rows})
    verified = any(c["features"].get("verifier") for r in rows for c in r["candidates"])
    for name, (kind, features, params) in options(any(r.get("news") for r in rows)).items():
        if ("verifier" in features or params.get("gate") == "verified") and not verified and "all features" not in name:
            continue  # no verifier beside this reader: the option is the one without it
        by_cap: dict[float, dict] = {cap: {} for cap in INNER_CAPS}
        for held in articles:
            train = [r for r in rows if r["article"] != held]
            test = [r for r in rows if r["article"] == held]
            if not train or not test:
                continue
            model = fit_model(train, kind, features, params)
            oof = [o for o, r in zip(out_of_fold(train, kind, features, params), train) if not r.get("synthetic")]
            held_out = outcomes(real(test), model)
            absent = [p for p, _f, _a in outcomes([r for r in test if r.get("synthetic")], model)]
            for cap in INNER_CAPS:
                t = pick_threshold(oof, real(train), cap, threshold_on)
                by_cap[cap][held] = {"threshold": t, **scores_at(held_out, t)}
                if absent:
                    by_cap[cap][held]["absent_name_abstention"] = float(np.mean([p < t for p in absent]))
        means = {cap: _domain_mean(per) for cap, per in by_cap.items()}
        within = [cap for cap in INNER_CAPS if means[cap] and means[cap]["false_abstention"] <= MAX_FALSE_ABSTENTION
                  and means[cap].get("news", {}).get("false_abstention", 0.0) <= MAX_FALSE_ABSTENTION]
        cap = within[0] if within else min(INNER_CAPS, key=lambda c: means[c].get("false_abstention", 1.0))
        table[name] = {"per_article": by_cap[cap], "mean": means[cap], "cap": cap}
    from ..answering.decide import DecisionModel
    margin_only = outcomes(real(rows), DecisionModel.margin_only())
    table["reader's own rule (span beats no-answer)"] = {"per_article": {}, "mean": scores_at(margin_only, 0.5)}
    return table


def _domain_mean(per_group: dict) -> dict:
    """The mean over held-out groups; with news groups, the mean of the two domains' means
    (each also kept, under "squad" and "news"), so each domain counts half."""
    news = [v for k, v in per_group.items() if k.startswith("news/")]
    squad = [v for k, v in per_group.items() if not k.startswith("news/")]
    if not news or not squad:
        return _mean(per_group.values())
    m_news, m_squad = _mean(news), _mean(squad)
    both = {k: (m_news[k] + m_squad[k]) / 2 for k in m_news if k in m_squad}
    return {**both, "news": m_news, "squad": m_squad}


def options(news: bool = False) -> dict:
    """The options compared: `_options()`, each at every NEWS_WEIGHTS when news rows take part."""
    base = _options()
    if not news:
        return base
    return {f"{name}, news weight {w:g}": (kind, feats, {**params, "news_weight": w})
            for name, (kind, feats, params) in base.items() for w in NEWS_WEIGHTS}


def _mean(results) -> dict:
    results = list(results)
    keys = ("squad2_f1", "f1_answerable", "false_abstention", "abstention_recall", "absent_name_abstention")
    # a group without answerable (or unanswerable) questions has no false abstention (or recall)
    out = {}
    for k in keys:
        vals = [r[k] for r in results if r.get(k) is not None]
        if vals and all(k in r for r in results):
            out[k] = float(np.mean(vals))
    return out


def choose(table: dict) -> str:
    """Best mean held-out SQuAD 2.0 F1 among options within the false-abstention cap
    (else the one that abstains least wrongly)."""
    options = [n for n in table if "cap" in table[n] and table[n]["mean"]]
    ok = [n for n in options if table[n]["mean"]["false_abstention"] <= MAX_FALSE_ABSTENTION
          and table[n]["mean"].get("news", {}).get("false_abstention", 0.0) <= MAX_FALSE_ABSTENTION]
    if ok:
        return max(ok, key=lambda n: table[n]["mean"]["squad2_f1"])
    return min(options, key=lambda n: table[n]["mean"]["false_abstention"])


def print_table(table: dict, chosen: Optional[str] = None, file=None) -> None:
    # sys.stderr looked up at each call, not bound once at import: a stream replaced since
    # (pytest's capture of the test that first imported this module) may be closed by now
    file = sys.stderr if file is None else file
    print("| option (held-out article mean) | inner cap | SQuAD2 F1 | F1 answerable | abstention | false abstention "
          "| abstention, absent names |", file=file)
    print("|---|---|---|---|---|---|---|", file=file)
    for name, row in table.items():
        m = row["mean"]
        mark = " (chosen)" if name == chosen else ""
        absent = m.get("absent_name_abstention")
        cap = f"{row['cap']:.2f}" if "cap" in row else "–"
        print(f"| {name}{mark} | {cap} | {m['squad2_f1']:.3f} | {m['f1_answerable']:.3f} | {m['abstention_recall']:.3f} "
              f"| {m['false_abstention']:.3f} | {'–' if absent is None else f'{absent:.3f}'} |", file=file)
        for dom in ("squad", "news"):
            if dom in m:
                d = m[dom]
                print(f"| &nbsp;&nbsp;{dom} articles only | | {d['squad2_f1']:.3f} | {d['f1_answerable']:.3f} "
                      f"| {d['abstention_recall']:.3f} | {d['false_abstention']:.3f} | – |", file=file)


def run(reader_dir: Path, data_dir: Path, out_path: Optional[Path] = None, cache: Optional[Path] = None,
        index_dir: Optional[Path] = None, limit: Optional[int] = None, option: Optional[str] = None,
        absent_names: float = 0.0, folds: tuple[Path, ...] = (), news: tuple[Path, ...] = (),
        threshold_on: str = "both") -> dict:
    from ..answering.decide import DECISION_FILE

    t0 = time.time()
    seen: dict[str, Path] = {}
    for r in (reader_dir, *folds):
        for art in held_out_of(r):
            if art in seen:
                raise SystemExit(f"--fold {r}: article {art} is held out by {seen[art]} too; each fold must "
                                 "hold out other articles (train-reader --held-out)")
            seen[art] = r
    if cache is not None and cache.exists():
        rows = json.loads(cache.read_text())
        if absent_names > 0 and not any(r.get("synthetic") == ABSENT_NAME for r in rows):
            rows += collect(reader_dir, data_dir, index_dir, limit, real_questions=False, variants=True)
            cache.write_text(json.dumps(rows))
    else:
        rows = collect(reader_dir, data_dir, index_dir, limit, variants=absent_names > 0)
        if cache is not None:
            cache.write_text(json.dumps(rows))
    for fold in folds:
        # cross-fitting: readers trained the same way with other articles held out, asked their
        # own held-out questions, give the decision more articles to be fitted and compared on
        fold_cache = cache.with_name(f"{cache.stem}-{Path(fold).name}.json") if cache is not None else None
        if fold_cache is not None and fold_cache.exists():
            fold_rows = json.loads(fold_cache.read_text())
        else:
            fold_rows = collect(Path(fold), data_dir, index_dir, limit)
            if fold_cache is not None:
                fold_cache.write_text(json.dumps(fold_rows))
        rows += [dict(r, fold=str(fold)) for r in fold_rows]
    for gold in news:
        news_cache = cache.with_name(f"{cache.stem}-news-{Path(gold).stem}.json") if cache is not None else None
        if news_cache is not None and news_cache.exists():
            news_rows = json.loads(news_cache.read_text())
        else:
            news_rows = collect_news(reader_dir, Path(gold))
            if news_cache is not None:
                news_cache.write_text(json.dumps(news_rows))
        rows += news_rows
    if absent_names <= 0:
        rows = real(rows)
    rows = [dict(r, weight=absent_names) if r.get("synthetic") else r for r in rows]
    table = compare(rows, threshold_on)  # pick_threshold refuses an unknown choice, and "news" without news rows
    chosen = option or choose(table)
    compared = options(bool(news))
    if chosen not in compared:
        raise SystemExit(f"unknown option {chosen!r}: one of {', '.join(compared)}")
    kind, features, params = compared[chosen]
    cap = table[chosen]["cap"]
    model = fit_with_threshold(rows, kind, features, params, cap, threshold_on)
    meta = {"fitted_on": sorted({r["article"] for r in real(rows)}),
            "news_sets": [str(g) for g in news],
            "folds": {str(r): list(held_out_of(r)) for r in (reader_dir, *folds)},
            "questions": len(real(rows)),
            "absent_name_variants": len(rows) - len(real(rows)), "absent_name_weight": absent_names,
            "candidates": int(sum(len(r["candidates"]) for r in rows)),
            "right_f1": RIGHT_F1, "max_false_abstention": MAX_FALSE_ABSTENTION, "threshold_cap": cap,
            "threshold_on": threshold_on,
            "option": chosen, "params": params,
            "leave_one_article_out": table[chosen]["per_article"],
            "options_compared": {n: r["mean"] for n, r in table.items()},
            "in_sample": scores_at(outcomes(real(rows), model), model.threshold),
            **({"in_sample_news": scores_at(outcomes([r for r in rows if r.get("news")], model), model.threshold)}
               if news else {}),
            "cpu": hardware.describe(), "minutes": round((time.time() - t0) / 60, 1),
            "command": "rag fit-decision " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["fit-decision"] else [])}
    from dataclasses import replace
    model = replace(model, meta=meta)
    out_path = out_path or (reader_dir / DECISION_FILE)
    out_path.write_text(json.dumps(model.to_json(), indent=1), encoding="utf-8")
    print_table(table, chosen)
    print(json.dumps({k: v for k, v in meta.items() if k != "options_compared"}, indent=2), file=sys.stderr)
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
    p.add_argument("--option", default=None, help="ship this option instead of the cross-validated best: "
                   + "; ".join(_options()))
    p.add_argument("--absent-names", type=float, default=0.0, metavar="WEIGHT",
                   help="also fit on each answerable calibration question asked about an invented name no "
                        "article contains (unanswerable), each such row weighing WEIGHT (default 0: off)")
    p.add_argument("--fold", type=Path, action="append", default=[], metavar="READER_DIR",
                   help="also fit on the held-out questions of this reader, trained the same way with other "
                        "articles held out (train-reader --held-out); repeatable (cross-fitting)")
    p.add_argument("--news", type=Path, action="append", default=[], metavar="GOLD_JSONL",
                   help="also fit on a news development set: a gold .jsonl whose articles are in the folder "
                        "of the same name without _gold.jsonl (eval/newsdev/); repeatable. Never a measuring set.")
    p.add_argument("--threshold-on", choices=("both", "news"), default="both",
                   help="with --news: hold the false-abstention cap in both domains (default), or choose the "
                        "threshold on the news rows alone")
    a = p.parse_args(argv)
    if not (a.data / "squad2-train.json").exists():
        print(f"error: {a.data / 'squad2-train.json'} not found: pass --data with the squad2-train folder "
              "(../shared/datasets/squad2-train from the project folder).", file=sys.stderr)
        return 2
    run(a.reader, a.data, cache=a.cache, index_dir=a.index, limit=a.limit, option=a.option,
        absent_names=a.absent_names, folds=tuple(a.fold), news=tuple(a.news), threshold_on=a.threshold_on)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
