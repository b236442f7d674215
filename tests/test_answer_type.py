"""The learned answer-type model (rag/answering/answertype.py) and its fitting
(rag/training/fit_answer_type.py): what it reads of a question and of a candidate, how a
veto threshold is chosen, and that a broken model file is refused with how to fix it."""
from __future__ import annotations

import json

import pytest

from rag.answering.answertype import AnswerTypeModel, answer_form, features, load, question_form


def test_question_form_reads_the_wh_word_the_word_after_it_and_the_kind():
    assert question_form("What time did the port strike begin?") == ["wh=what", "wh2=what time", "kind=time"]
    assert question_form("How many pupils were taken to hospital?")[:2] == ["wh=how", "wh2=how many"]
    assert question_form("The fire was put out by whom?")[0] == "wh=whom"
    assert question_form("Name the judge.")[:2] == ["wh=none", "wh2=none "]


def test_answer_form_says_what_the_value_parser_reads_in_a_candidate():
    assert "amount=%" in answer_form("81 per cent")
    assert "amount=currency" in answer_form("2.4 million koruna")
    assert "amount=[time]" in answer_form("six days")            # a duration (pint's dimension)
    assert "amount=count" in answer_form("twelve thousand runners")
    assert "amount=none" in answer_form("Czech Republic") and "caps=all" in answer_form("Czech Republic")
    assert {"date", "year"} <= set(answer_form("14 August 2025"))
    assert "clock" in answer_form("shortly after 4 p.m.")
    assert not any(f.startswith(("first=", "last=")) for f in answer_form("1,240 jobs"))  # no topic words
    assert answer_form("  ") == ["empty"]


def test_features_cross_each_question_form_with_each_answer_form():
    q = question_form("How many cranes are planned?")
    f = features(q, "three cranes")
    assert "wh2=how many|amount=count" in f and "amount=count" in f
    assert len(f) == len(answer_form("three cranes")) * (1 + len(q))


def test_the_logit_adds_the_weights_of_the_features_present():
    q = question_form("What time did it start?")
    m = AnswerTypeModel({"wh2=what time|clock": 2.0, "wh2=what time|amount=[time]": -3.0}, bias=0.5, threshold=-1.0)
    assert m.logit(q, "8 a.m.") == pytest.approx(2.5)
    assert m.logit(q, "six days") == pytest.approx(-2.5)
    assert m.vetoes(m.logit(q, "six days")) and not m.vetoes(m.logit(q, "8 a.m."))
    assert not AnswerTypeModel({}, 0.0, None).vetoes(-100.0)  # no threshold: no veto


def test_a_model_round_trips_through_its_json_file(tmp_path):
    m = AnswerTypeModel({"clock": 1.25, "wh=who|caps=all": 0.5}, -0.75, -1.5, {"examples": 3})
    m.save(tmp_path)
    back = load(tmp_path)
    assert back == m
    assert load(tmp_path / "nowhere") is None  # a reader folder without one: no veto


def test_a_broken_model_file_is_refused_naming_the_file_and_the_command(tmp_path):
    from rag.errors import ConfigError

    (tmp_path / "answer_type.json").write_text(json.dumps({"weights": {"a": 1}}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"answer_type\.json.*rag fit-answer-type"):
        load(tmp_path)


def _row(question, answerable, golds, cands, article="A"):
    """A collected row (fit_decision.ask_all's shape) whose candidates carry only what the
    decision below reads: `margin` (its p is a logistic of it)."""
    return {"article": article, "question": question, "answerable": answerable, "golds": golds,
            "candidates": [{"text": t, "f1": f1, "features": {"margin": m}} for t, f1, m in cands]}


class _Decision:
    """A decision whose probability is a logistic of the margin, threshold 0.5 (not the point here)."""
    threshold = 0.5
    gate = "p"

    def p(self, features):
        import math
        return 1 / (1 + math.exp(-features["margin"]))

    def score(self, c):
        return c.p_correct


def test_the_simulated_product_takes_the_best_candidate_the_veto_leaves():
    from rag.training.fit_answer_type import simulate

    model = AnswerTypeModel({"wh2=what time|amount=[time]": -5.0}, 0.0)
    rows = [_row("What time did the strike begin?", True, ["8 a.m."],
                 [("six days", 0.0, 3.0), ("8 a.m.", 1.0, 2.0)]),
            _row("What time did the march end?", False, [], [("two hours", 0.0, 3.0)])]
    none = simulate(rows, _Decision(), model, None)
    veto = simulate(rows, _Decision(), model, -1.0)
    assert none["squad2_f1"] == 0.0                     # "six days" given; the unanswerable one answered
    assert veto["squad2_f1"] == 1.0                     # "8 a.m." given; "two hours" vetoed: abstains
    assert veto["abstention_recall"] == 1.0 and veto["false_abstention"] == 0.0


def test_a_veto_that_makes_the_product_abstain_wrongly_more_is_not_chosen():
    from rag.training.fit_answer_type import choose

    # the veto would remove the only (right) candidate of most answerable questions
    model = AnswerTypeModel({"caps=all": -5.0}, 0.0)
    rows = [_row(f"Who leads council {i}?", True, [f"Ann Lee{i}"], [(f"Ann Lee{i}", 1.0, 3.0)]) for i in range(9)]
    rows.append(_row("Who leads the board?", False, [], [("Board Chair", 0.0, 3.0)]))
    t, figs = choose(rows, _Decision(), model, [-1.0])
    assert t is None and figs["wikipedia"]["false_abstention"] == 0.0
