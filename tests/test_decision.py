"""The answer decision's parts: the reader's runner-up span, the features built on it and on
agreement between passages, and the tree model stored as JSON (no pickle)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from rag.answering.decide import DecisionModel, Tree
from rag.answering.evidence import (FEATURES, SPAN_GAP_CAP, Candidate, Evidence, agreeing_passages, chunk_score,
                                    same_answer, span_gap)
from rag.answering.extract import question_type
from rag.retrieve import Hit
from rag.store import ChunkRecord
from rag.answering.reader import ReadSpan, decode_window


def test_decode_window_gives_the_best_span_and_the_best_one_not_overlapping_it():
    offsets = [None, (0, 3), (4, 9), (10, 14), (15, 20)]  # [CLS] then four context tokens
    start = np.array([9.0, 5.0, 1.0, 3.0, 0.0])
    end = np.array([9.0, 1.0, 4.0, 0.0, 2.0])
    score, c0, c1, rival = decode_window(start, end, offsets, n_best=5, max_tokens=4)
    assert (score, c0, c1) == (9.0, 0, 9)  # tokens 1..2: 5 + 4; [CLS] is never a span
    assert rival == 5.0                      # tokens 3..4: 3 + 2, the best span outside 0..9


def _cand(text, doc="a", rank=0, score=6.0, null=1.0, runner_up=None, passage=0):
    return Candidate(doc, 0, len(text), text, None, ReadSpan(passage, 0, len(text), text, score, null, runner_up), rank)


def test_span_gap_is_the_lead_over_the_runner_up_and_capped():
    assert span_gap(_cand("x", runner_up=2.5), []) == 3.5
    assert span_gap(_cand("x", runner_up=None), []) == SPAN_GAP_CAP
    own = _cand("258 million", rank=1, score=8.0)
    rule = _cand("258", rank=1, score=5.0, passage=-1)
    assert span_gap(rule, [own, rule]) == -3.0  # a rule's span, scored against the reader's choice there
    assert span_gap(_cand("x", rank=2, passage=-1), [own]) == 0.0  # nothing read in that passage


def test_agreeing_passages_counts_other_passages_with_the_same_answer():
    assert same_answer("258 million doses", "over 258 million") and not same_answer("73", "400")
    a, b, c, d = _cand("258 million", rank=0), _cand("over 258 million", rank=1), _cand("US$80 million", rank=2), \
        _cand("258 million", rank=0)
    assert agreeing_passages(a, [a, b, c, d]) == 1.0  # b; d is in the same passage, c says something else
    assert agreeing_passages(c, [a, b, c]) == 0.0


def test_tree_model_round_trips_through_json_and_matches_sklearn():
    pytest.importorskip("sklearn")
    from rag.training.fit_decision import TREE_PARAMS, fit_model

    rng = random.Random(3)
    rows = []
    for q in range(120):
        cands = []
        for _ in range(3):
            f = {name: rng.uniform(-2, 2) for name in FEATURES}
            cands.append({"features": f, "f1": float(f["margin"] + rng.gauss(0, 0.5) > 0)})
        rows.append({"article": "A", "answerable": q % 3 != 0, "candidates": cands})
    model = fit_model(rows, "trees", FEATURES, TREE_PARAMS)  # asserts its JSON trees == predict_proba
    again = DecisionModel.from_json(json.loads(json.dumps(model.to_json())))
    x = rows[0]["candidates"][0]["features"]
    assert again.kind == "trees" and again.p(x) == pytest.approx(model.p(x))
    hi, lo = dict(x, margin=2.0), dict(x, margin=-2.0)
    assert again.p(hi) > again.p(lo)  # it learned that the label follows the margin


def test_a_malformed_tree_is_refused_with_how_to_fix_it():
    loop = {"feature": [0, 0], "cut": [0.0, 0.0], "left": [1, 0], "right": [1, 0], "value": [0.0, 0.0]}
    with pytest.raises(ValueError, match="rag fit-decision"):
        Tree.from_json(loop, 3)
    d = {"kind": "forest", "features": ["margin"], "intercept": 0.0, "threshold": 0.5}
    with pytest.raises(ValueError, match="logistic or trees"):
        DecisionModel.from_json(d)


def test_a_tree_walks_to_the_leaf_its_cuts_select():
    t = Tree((0, 0, 0), (1.0, 0.0, 0.0), (1, -1, -1), (2, -1, -1), (0.0, -0.5, 0.75))
    assert t(np.array([0.5])) == -0.5 and t(np.array([1.5])) == 0.75


def test_chunk_score_barely_moves_when_two_passages_retrieved_alike_swap():
    """Two passages with almost the same fused retrieval score: swapping them (another
    document's term statistics can) moves chunk_position from 1/2 to 1/3, chunk_score by 1%."""
    def hits(scores):
        return [Hit(ChunkRecord(f"c{i}", "d", 0, 1, "x"), s) for i, s in enumerate(scores)]

    q = "How many doses?"
    before = Evidence(q, question_type(q), hits([0.0328, 0.0323, 0.0320, 0.0300]), [], [], lambda t: 1.0)
    after = Evidence(q, question_type(q), hits([0.0328, 0.0320, 0.0320, 0.0300]), [], [], lambda t: 1.0)
    c1, c2 = _cand("500", rank=1), _cand("500", rank=2)
    assert chunk_score(before, c1) == pytest.approx(0.0323 / 0.0328)
    assert abs(chunk_score(before, c1) - chunk_score(after, c2)) < 0.02
    assert chunk_score(before, _cand("500", rank=0)) == 1.0
    assert chunk_score(before, _cand("500", rank=9)) == 0.0  # not a retrieved passage
    assert "chunk_score" in FEATURES


class _Articles:
    """The two methods absent_name_variants reads of an Assistant: the indexed articles."""

    def __init__(self, texts: dict[str, str]):
        self.texts = texts

    def documents(self):
        return [{"doc_id": d} for d in self.texts]

    def document(self, doc_id):
        from types import SimpleNamespace
        return SimpleNamespace(text=self.texts[doc_id])


def test_absent_name_variants_ask_about_a_name_no_article_contains():
    from rag.textnorm import TOKEN_RE, fold
    from rag.training.fit_decision import ABSENT_NAME, absent_name_variants, real
    from rag.training.squad import Example

    arts = _Articles({"a": "Harvard University was founded in 1636 by the colony of Massachusetts.",
                      "b": "The Rhine flows through Basel and Strasbourg."})
    ex = [Example("q1", "A", "When was Harvard University founded?", "ctx", [("1636", 0)]),
          Example("q2", "A", "Who founded Yale in Boston?", "ctx", []),            # unanswerable: skipped
          Example("q3", "A", "what flows through basel?", "ctx", [("The Rhine", 0)]),  # names nothing
          Example("q4", "B", "Which river flows through Basel?", "ctx", [("Rhine", 0)])]
    out = absent_name_variants(ex, arts, seed=1)
    assert [v.qid for v in out] == ["q1:absent-name", "q4:absent-name"]
    known = {fold(w) for t in arts.texts.values() for w in TOKEN_RE.findall(t)}
    for v, orig in zip(out, (ex[0], ex[3])):
        assert not v.answerable and v.article == orig.article
        before, after = TOKEN_RE.findall(orig.question), TOKEN_RE.findall(v.question)
        new = [w for w in after if w not in before]
        gone = [w for w in before if w not in after]
        assert len(new) == 1 and new[0][0].isupper() and fold(new[0]) not in known
        assert len(gone) == 1 and gone[0][0].isupper() and fold(gone[0]) in known
    assert absent_name_variants(ex, arts, seed=1) == out  # seeded
    rows = [{"qid": "x"}, {"qid": "y", "synthetic": ABSENT_NAME}]
    assert real(rows) == [{"qid": "x"}]


def test_absent_name_rows_teach_the_weights_but_not_the_threshold():
    pytest.importorskip("sklearn")
    from rag.training.fit_decision import ABSENT_NAME, fit_with_threshold

    rng = random.Random(5)

    def row(article, answerable, unknown, synthetic=False):
        f = {name: 0.0 for name in FEATURES}
        f["margin"] = rng.gauss(1.0 if answerable else -1.0, 1.0)
        f["unknown_terms"] = float(unknown)
        r = {"article": article, "answerable": answerable,
             "candidates": [{"features": f, "f1": 1.0 if answerable else 0.0}]}
        if synthetic:
            r["synthetic"], r["weight"] = ABSENT_NAME, 0.5  # what `--absent-names 0.5` gives each variant
        return r

    base = [row(a, q % 2 == 0, 0) for a in "AB" for q in range(100)]
    variants = [row(a, False, 1, synthetic=True) for a in "AB" for _ in range(100)]
    plain = fit_with_threshold(base, "logistic", ("margin", "unknown_terms"), {"C": 1.0})
    taught = fit_with_threshold(base + variants, "logistic", ("margin", "unknown_terms"), {"C": 1.0})
    x = {"margin": 1.0, "unknown_terms": 0.0}
    assert taught.p(dict(x, unknown_terms=1.0)) < plain.p(dict(x, unknown_terms=1.0))  # learned
    assert taught.threshold == pytest.approx(plain.threshold, abs=0.1)  # chosen on the real rows


def test_fit_decision_adds_the_held_out_questions_of_other_fold_readers(tmp_path):
    """Cross-fitting: `fit-decision --fold DIR` fits and compares the decision on the questions
    of every reader's own held-out articles (read from its training.json), leave one article out
    over all of them; two readers holding out the same article are refused, naming it."""
    pytest.importorskip("sklearn")
    from rag.training.fit_decision import run

    rng = random.Random(7)

    def rows(articles):
        out = []
        for a in articles:
            for q in range(60):
                answerable = q % 2 == 0
                f = {name: 0.0 for name in FEATURES}
                f["margin"] = rng.gauss(1.0 if answerable else -1.0, 1.0)
                out.append({"article": a, "qid": f"{a}{q}", "paragraph": f"{a}{q // 3}", "answerable": answerable,
                            "candidates": [{"features": f, "f1": 1.0 if answerable else 0.0}]})
        return out

    def reader(name, held):
        d = tmp_path / name
        d.mkdir()
        (d / "training.json").write_text(json.dumps({"held_out_articles": held}))
        return d

    main, fold = reader("main", ["A", "B"]), reader("fold1", ["C", "D"])
    cache = tmp_path / "rows.json"
    cache.write_text(json.dumps(rows("AB")))
    (tmp_path / "rows-fold1.json").write_text(json.dumps(rows("CD")))  # the fold's cache, beside --cache
    meta = run(main, tmp_path, cache=cache, option="logistic, previous 22 features", folds=(fold,))
    assert meta["fitted_on"] == ["A", "B", "C", "D"] and meta["questions"] == 240
    assert sorted(meta["leave_one_article_out"]) == ["A", "B", "C", "D"]
    assert meta["folds"] == {str(main): ["A", "B"], str(fold): ["C", "D"]}
    written = json.loads((main / "decision.json").read_text())
    assert written["meta"]["fitted_on"] == ["A", "B", "C", "D"]
    with pytest.raises(SystemExit, match="article B is held out by"):
        run(main, tmp_path, cache=cache, folds=(reader("fold2", ["B", "E"]),))


def test_margin_gate_lets_the_model_pick_and_the_reader_margin_decide_whether_to_answer():
    """With "gate": "margin" the model still ranks the candidates, but the assistant answers
    when the reader's best margin over every passage read reaches the threshold, whatever the
    best candidate's probability; the gate survives the JSON round trip; an unknown gate is
    refused with how to fix it."""
    from dataclasses import replace

    from rag.answering.decide import best_or_none, rank_candidates

    i = FEATURES.index("span_score")
    coef = [0.0] * len(FEATURES)
    coef[i] = 1.0  # ranks by the span score alone
    model = DecisionModel(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), tuple(coef), -10.0, 0.5)
    gated = replace(model, threshold=2.0, gate="margin")

    def cands(*reads):
        out = [_cand(f"a{k}", score=s, null=n, passage=k) for k, (s, n) in enumerate(reads)]
        for c in out:
            c.features = {f: 0.0 for f in FEATURES}
            c.features.update(margin=c.read.margin, span_score=c.read.score, null_score=c.read.null_score)
        return out

    # the best span (score 6) has a small margin; another passage's reader margin is 3
    cs = cands((6.0, 5.5), (4.0, 1.0))
    assert model.p(cs[0].features) < 0.5 and best_or_none(model, cs) is None  # p gate: abstains
    pick = best_or_none(gated, cs)
    assert pick is not None and pick.text == "a0"  # answered, with the model's pick
    assert gated.answers(rank_candidates(gated, cs)) and not gated.accepts(cs[0]) and gated.accepts(cs[1])
    assert best_or_none(gated, cands((6.0, 5.5), (4.0, 2.5))) is None  # no passage's margin reaches 2
    again = DecisionModel.from_json(json.loads(json.dumps(gated.to_json())))
    assert again.gate == "margin" and again.threshold == 2.0
    assert "gate" not in model.to_json() and DecisionModel.from_json(model.to_json()).gate == "p"
    with pytest.raises(ValueError, match="rag fit-decision"):
        DecisionModel.from_json(dict(gated.to_json(), gate="vote"))


def test_a_margin_gate_threshold_is_fitted_on_the_readers_margins():
    """fit-decision's margin option: the threshold is a reader margin chosen on the training
    rows (best SQuAD 2.0 F1 within the false-abstention cap), not a probability."""
    pytest.importorskip("sklearn")
    from rag.training.fit_decision import fit_with_threshold, outcomes, scores_at

    rng = random.Random(3)
    rows = []
    for a in "AB":
        for q in range(120):
            answerable = q % 2 == 0
            f = {name: 0.0 for name in FEATURES}
            f["margin"] = rng.gauss(-1.0 if answerable else -5.0, 1.0)  # a reader whose margins run negative
            rows.append({"article": a, "qid": f"{a}{q}", "paragraph": f"{a}{q // 3}", "answerable": answerable,
                         "candidates": [{"features": f, "f1": 1.0 if answerable else 0.0}]})
    m = fit_with_threshold(rows, "logistic", ("margin",), {"C": 1.0, "gate": "margin"})
    assert m.gate == "margin" and -5.0 < m.threshold < -1.0
    out = outcomes(rows, m)
    assert [o[0] for o in out[:3]] == [r["candidates"][0]["features"]["margin"] for r in rows[:3]]
    s = scores_at(out, m.threshold)
    assert s["false_abstention"] <= 0.15 and s["abstention_recall"] > 0.8


def test_the_threshold_has_the_best_squad2_f1_within_the_false_abstention_cap():
    """choose_threshold scores every candidate threshold at once; checked against scoring each
    one with scores_at (the definition) on random outcomes with ties, both kinds of gate score
    (probabilities and reader margins) and questions without candidates."""
    from rag.training.fit_decision import NO_CANDIDATE, choose_threshold, scores_at

    rng = random.Random(7)
    for _ in range(150):
        margin = rng.random() < 0.5
        out = [(NO_CANDIDATE if rng.random() < 0.05 else
                round(rng.uniform(-4, 4), 1) if margin else round(rng.random(), 2),
                rng.choice([0.0, 0.4, 0.5, 2 / 3, 1.0]), rng.random() < 0.55)
               for _ in range(rng.randint(5, 120))]
        cap = rng.choice([0.0, 0.05, 0.15, 1.0])
        t = choose_threshold(out, cap)
        got = scores_at(out, t)
        grid = sorted({p for p, _, _ in out if p > NO_CANDIDATE} | {0.0, -5.0})
        feasible = [scores_at(out, g) for g in grid]
        feasible = [s for s in feasible if s["false_abstention"] is None or s["false_abstention"] <= cap]
        if not feasible:  # no threshold keeps false abstention within the cap
            assert t == 0.0
            continue
        assert got["false_abstention"] is None or got["false_abstention"] <= cap
        assert got["squad2_f1"] == pytest.approx(max(s["squad2_f1"] for s in feasible)), (t, cap)


def test_with_news_rows_the_false_abstention_cap_holds_in_each_domain():
    """Wikipedia questions the reader answers confidently and news questions it answers with
    lower margins: one threshold over the pooled questions keeps the pooled false abstention
    within the cap and abstains on many answerable news questions; per domain, the cap holds
    on the news questions too."""
    from rag.training.fit_decision import choose_threshold, scores_at

    rng = random.Random(3)
    squad = [(rng.gauss(2.0 if a else -2.0, 1.0), 1.0, a) for a in [True, False] * 400]
    news = [(rng.gauss(-0.5 if a else -2.5, 1.0), 1.0, a) for a in [True, False] * 40]
    out = squad + news
    pooled = choose_threshold(out, 0.15)
    per_domain = choose_threshold(out, 0.15, ["squad"] * len(squad) + ["news"] * len(news))
    assert scores_at(news, pooled)["false_abstention"] > 0.15
    assert scores_at(news, per_domain)["false_abstention"] <= 0.15
    assert scores_at(squad, per_domain)["false_abstention"] <= 0.15


def test_a_threshold_chosen_on_news_alone_abstains_more_on_news_where_its_scores_sit_higher():
    """A reader sure of itself on news (answerable and unanswerable alike score high) and careful
    on Wikipedia: capping false abstention in both domains lets the Wikipedia cap hold the
    threshold down, so few unanswerable news questions are abstained on. Chosen on the news rows
    alone, the threshold abstains on more of them and still keeps the cap on news."""
    from rag.training.fit_decision import pick_threshold, scores_at

    rng = random.Random(4)
    squad = [(rng.gauss(0.5 if a else -1.0, 1.0), 1.0, a) for a in [True, False] * 400]
    news = [(rng.gauss(2.5 if a else 0.5, 1.0), 1.0, a) for a in [True, False] * 60]
    rows = [{"news": False}] * len(squad) + [{"news": True}] * len(news)
    both = pick_threshold(squad + news, rows, 0.15, "both")
    on_news = pick_threshold(squad + news, rows, 0.15, "news")
    assert on_news > both
    assert scores_at(news, on_news)["abstention_recall"] > scores_at(news, both)["abstention_recall"] + 0.2
    assert scores_at(news, on_news)["false_abstention"] <= 0.15
    with pytest.raises(SystemExit, match="--news"):
        pick_threshold(squad, [{}] * len(squad), 0.15, "news")
    with pytest.raises(SystemExit, match="'both' or 'news'"):
        pick_threshold(squad + news, rows, 0.15, "wikipedia")


def test_fit_decision_fits_on_a_news_development_set_and_refuses_a_measuring_set(tmp_path):
    """`fit-decision --news GOLD` asks a news development set's questions through the real
    pipeline over its own articles (grouped by event, each event held out in turn), weighs news
    against Wikipedia by comparison, and refuses a measuring set by name."""
    pytest.importorskip("sklearn")
    from rag.training.fit_decision import collect_news, run

    dev = tmp_path / "toy_dev"
    dev.mkdir()
    (dev / "wire-2026-01-02-fire.txt").write_text(
        "Fire at Kelso mill injures four\nKELSO, Jan 2 - A fire at the Kelso paper mill injured four workers on "
        "Friday, the fire service said. Forty firefighters were sent to the mill.\n", encoding="utf-8")
    (dev / "herald-2026-01-05-port.txt").write_text(
        "Port strike ends\nDock workers at Marrow port ended their strike on Monday after nine days. The union "
        "leader, Ines Carvalho, said the pay rise was 6 percent.\n", encoding="utf-8")
    gold = tmp_path / "toy_dev_gold.jsonl"
    lines = [{"id": "t1", "question": "How many workers were injured in the Kelso mill fire?", "answers": ["four"],
              "sources": ["wire-2026-01-02-fire.txt"]},
             {"id": "t2", "question": "How long did the Marrow port strike last?", "answers": ["nine days"],
              "sources": ["herald-2026-01-05-port.txt"]},
             {"id": "t3", "question": "Who leads the dock workers' union at Marrow port?",
              "answers": ["Ines Carvalho"], "sources": ["herald-2026-01-05-port.txt"]},
             {"id": "t4", "question": "What caused the fire at the Kelso mill?", "answers": []}]
    gold.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    from rag.answering.reader import SHIPPED_READER

    rows = collect_news(SHIPPED_READER, gold, progress=False)
    by_id = {r["qid"]: r for r in rows}
    assert by_id["t1"]["article"] == by_id["t4"]["article"] == "news/toy_dev/e1"  # the fire
    assert by_id["t2"]["article"] == by_id["t3"]["article"] == "news/toy_dev/e0"  # the strike
    assert any(c["f1"] == 1.0 for c in by_id["t3"]["candidates"]), by_id["t3"]["candidates"]
    assert not by_id["t4"]["answerable"] and all(c["f1"] == 0.0 for c in by_id["t4"]["candidates"])

    main = tmp_path / "reader"
    main.mkdir()
    (main / "training.json").write_text(json.dumps({"held_out_articles": ["A", "B"]}))
    rng = random.Random(5)
    squad = []
    for a in "AB":
        for q in range(60):
            f = {name: 0.0 for name in FEATURES}
            f["margin"] = rng.gauss(1.0 if q % 2 == 0 else -1.0, 1.0)
            squad.append({"article": a, "qid": f"{a}{q}", "paragraph": f"{a}{q // 3}", "answerable": q % 2 == 0,
                          "candidates": [{"features": f, "f1": 1.0 if q % 2 == 0 else 0.0}]})
    cache = tmp_path / "rows.json"
    cache.write_text(json.dumps(squad))
    (tmp_path / "rows-news-toy_dev_gold.json").write_text(json.dumps(rows))  # the news cache, beside --cache
    meta = run(main, tmp_path, cache=cache, news=(gold,))
    assert meta["fitted_on"] == ["A", "B", "news/toy_dev/e0", "news/toy_dev/e1"]
    assert "news weight" in meta["option"] and meta["news_sets"] == [str(gold)]
    assert "in_sample_news" in meta and meta["threshold_on"] == "both"
    run(main, tmp_path, cache=cache, news=(gold,), threshold_on="news", out_path=tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text())["meta"]["threshold_on"] == "news"  # it says how it was made
    with pytest.raises(SystemExit, match="measuring set"):
        collect_news(SHIPPED_READER, Path("tests/data/coastal_corpus_gold.jsonl"))
    with pytest.raises(SystemExit, match="measuring set"):  # the newest blind set too (2026-11-27)
        collect_news(SHIPPED_READER, Path("tests/data/upland_corpus_gold.jsonl"))


def test_verified_gate_answers_when_probability_and_verifier_together_reach_the_threshold():
    """With "gate": "verified" the model still picks the candidate; whether to answer is its
    probability's logit and the verifier's logit, each standardised with the stored means and
    sds, averaged with the stored weight. The mix survives the JSON round trip; a gate without
    a usable mix is refused with how to fix it."""
    from dataclasses import replace

    from rag.answering.decide import best_or_none

    i = FEATURES.index("span_score")
    coef = [0.0] * len(FEATURES)
    coef[i] = 1.0
    model = DecisionModel(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), tuple(coef), 0.0, 0.5)
    # weight .5; logit p: mean 0, sd 2; verifier: mean 1, sd 4
    gated = replace(model, threshold=0.0, gate="verified", mix=(0.5, 0.0, 2.0, 1.0, 4.0))
    assert gated.uses_verifier and not model.uses_verifier

    def cand(span: float, verifier: float):
        c = _cand("a", score=span, null=0.0)
        c.features = {f: 0.0 for f in FEATURES}
        c.features.update(span_score=span, verifier=verifier)
        return c

    sure = cand(2.0, -7.0)  # p = sigmoid(2): gate .5 * 2/2 + .5 * (-8)/4 = -.5: abstains
    assert model.p(sure.features) > 0.85 and best_or_none(model, [sure]) is sure
    assert best_or_none(gated, [sure]) is None
    unsure = cand(-1.0, 7.0)  # gate .5 * -1/2 + .5 * 6/4 = .5: answers
    assert best_or_none(gated, [unsure]) is unsure and best_or_none(model, [unsure]) is None
    assert abs(gated.score(unsure) - 0.5) < 1e-9
    again = DecisionModel.from_json(json.loads(json.dumps(gated.to_json())))
    assert again.gate == "verified" and again.mix == gated.mix and abs(again.score(unsure) - 0.5) < 1e-9
    with pytest.raises(ValueError, match="rag fit-decision"):
        DecisionModel.from_json({k: v for k, v in gated.to_json().items() if k != "mix"})


def test_fit_decision_standardises_the_verified_gate_on_the_picked_candidates():
    """fit-decision's verified-gate option: the stored means and sds are those of the picked
    candidates' logit p and verifier logit over the training questions, and the threshold is on
    the mixed value; a verifier that separates answerable from unanswerable questions raises
    abstention over the probability alone at the same false-abstention cap."""
    pytest.importorskip("sklearn")
    from rag.training.fit_decision import fit_with_threshold, outcomes, scores_at

    rng = random.Random(5)
    rows = []
    for a in "AB":
        for q in range(200):
            answerable = q % 2 == 0
            f = {name: 0.0 for name in FEATURES}
            f["margin"] = rng.gauss(1.0 if answerable else 0.0, 1.5)  # a weak signal in the features
            f["verifier"] = rng.gauss(2.0 if answerable else -2.0, 1.0)  # a strong one in the verifier
            rows.append({"article": a, "qid": f"{a}{q}", "paragraph": f"{a}{q // 3}", "answerable": answerable,
                         "candidates": [{"features": f, "f1": 1.0 if answerable else 0.0}]})
    plain = fit_with_threshold(rows, "logistic", ("margin",), {"C": 1.0})
    gated = fit_with_threshold(rows, "logistic", ("margin",), {"C": 1.0, "gate": "verified", "verifier_weight": 0.5})
    w, mu_p, sd_p, mu_v, sd_v = gated.mix
    vs = [r["candidates"][0]["features"]["verifier"] for r in rows]
    assert w == 0.5 and abs(mu_v - np.mean(vs)) < 1e-9 and abs(sd_v - np.std(vs)) < 1e-9
    s_plain = scores_at(outcomes(rows, plain), plain.threshold)
    s_gated = scores_at(outcomes(rows, gated), gated.threshold)
    assert s_gated["false_abstention"] <= 0.2 and s_plain["false_abstention"] <= 0.2  # thresholds chosen out of fold
    assert s_gated["abstention_recall"] > s_plain["abstention_recall"] + 0.2


def test_every_measuring_set_is_refused_for_fitting_and_the_development_sets_are_not():
    """Each corpus with a gold file under tests/data is a measuring set (the basin corpus, added
    2026-11-27, was missing from the list until a later stop), as are the gold set, its articles
    and the Rhine benchmark; the news development sets are what fitting may use."""
    from rag.training.squad import is_measuring_set

    root = Path(__file__).resolve().parent.parent
    golds = sorted((root / "tests" / "data").glob("*_gold.jsonl"))
    assert len(golds) >= 6
    for g in golds:
        assert is_measuring_set(g), g
        assert is_measuring_set(g.with_name(g.name.removesuffix("_gold.jsonl"))), g
    assert is_measuring_set(root / "eval" / "gold.jsonl") and is_measuring_set(root / "rag" / "data" / "articles")
    assert is_measuring_set("../shared/benchmarks/squad2-rhine/gold.jsonl")
    for dev in sorted((root / "eval" / "newsdev").glob("*_gold.jsonl")):
        assert not is_measuring_set(dev) and not is_measuring_set(dev.with_name(dev.name.removesuffix("_gold.jsonl")))
