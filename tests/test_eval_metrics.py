"""Unit tests of the pure metric functions (hand-computed expectations)."""
from __future__ import annotations

import pytest

from rag.evaluate import metrics as m
from rag.evaluate.runner import compare, score_sample
from rag.evaluate.samples import GoldSample


def test_normalize_folds_case_punctuation_articles_and_diacritics():
    assert m.normalize_answer("The  Phạm Minh Chính!") == "pham minh chinh"
    assert m.normalize_answer("1,230 km") == m.normalize_answer("1230 km")


def test_answer_hit_is_containment_on_word_boundaries():
    assert m.answer_hit("more than US$900 million", ["US$900 million"]) == 1.0
    assert m.answer_hit("over 258 million doses", ["258 million"]) == 1.0
    assert m.answer_hit("1900 million", ["900 million"]) == 0.0
    assert m.answer_hit("anything", []) == 0.0


def test_token_f1_matches_squad_definition():
    # pred: [over, 258, million, doses], gold: [258, million] -> P=2/4, R=1 -> F1=2/3
    assert m.token_f1("over 258 million doses", ["258 million"]) == pytest.approx(2 / 3)
    assert m.token_f1("Cologne", ["Cologne", "Cologne, Germany"]) == 1.0
    assert m.token_f1("Berlin", ["Cologne"]) == 0.0


def test_retrieval_rank_recall_and_mrr():
    chunks = ["alpha beta", "gamma delta", "the answer is here"]
    rank = m.first_relevant_rank(chunks, ["answer is"])
    assert rank == 3
    assert m.recall_at(rank, 1) == 0.0 and m.recall_at(rank, 3) == 1.0
    assert m.reciprocal_rank(rank) == pytest.approx(1 / 3)
    assert m.first_relevant_rank(chunks, ["missing"]) is None and m.reciprocal_rank(None) == 0.0


def test_evidence_hit_and_quote_validity():
    docs = {"d": "One two three. Four five six."}
    quote = {"doc_id": "d", "start": 15, "end": 29, "text": "Four five six."}
    assert m.quote_valid(quote, docs)
    assert not m.quote_valid({**quote, "text": "Four five six"}, docs)
    assert m.evidence_hit([quote], docs, ["five"]) == 1.0
    assert m.evidence_hit([quote], docs, ["two"]) == 0.0


def test_percentile():
    assert m.percentile([1, 2, 3, 4], 50) == 2.5
    assert m.percentile([10], 95) == 10
    assert m.percentile([], 50) == 0.0


def _row(answerable, abstained, hit, tags=("t",)):
    s = {"recall@1": 1.0, "recall@3": 1.0, "recall@5": 1.0, "recall@10": 1.0, "rr": 1.0,
         "evidence_hit": hit, "answer_hit": hit if answerable else None,
         "f1": hit if answerable else None, "abstained": abstained, "n_quotes": 2, "n_valid_quotes": 2}
    return {"answerable": answerable, "scores": s, "latency_ms": 100.0, "tags": list(tags)}


def test_summarize_abstention_rates_and_tags():
    rows = [_row(True, False, 1.0), _row(True, True, 0.0), _row(False, True, 0.0, ("u",)),
            _row(False, False, 0.0, ("u",))]
    s = m.summarize(rows)
    assert s["answer_hit"] == 0.5
    assert s["false_abstention_rate"] == 0.5
    assert s["abstention_recall"] == 0.5
    assert s["quote_validity"] == 1.0
    assert s["by_tag"]["u"]["n"] == 2 and s["by_tag"]["t"]["n"] == 2


def test_answerable_auc_ranks_answerable_above_unanswerable_whatever_the_threshold():
    # every answerable question more confident than every unanswerable one: 1; the reverse: 0
    assert m.answerable_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert m.answerable_auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    # 0.6 beats 0.5 and ties 0.6 (half), 0.4 beats neither: (1 + 0.5 + 0) / 4
    assert m.answerable_auc([0.6, 0.4, 0.5, 0.6], [True, True, False, False]) == 0.375
    assert m.answerable_auc([0.3, 0.3], [True, False]) == 0.5
    assert m.answerable_auc([0.9, 0.1], [True, True]) is None  # no unanswerable question


def test_summary_carries_answerable_auc_from_the_answers_confidence():
    rows = [_row(True, False, 1.0), _row(True, True, 0.0), _row(False, True, 0.0), _row(False, False, 0.0)]
    for r, c in zip(rows, (0.9, 0.05, 0.02, 0.4)):
        r["scores"]["confidence"] = c
    s = m.summarize(rows)
    # 0.9 beats both unanswerable, 0.05 beats 0.02 only: 3 of 4 pairs
    assert s["answerable_auc"] == 0.75
    sample = GoldSample("q1", "How much?", ["US$900 million"], ["US$900 million"], ["money"])
    abstained = {"text": "The articles do not answer", "abstained": True, "quotes": [], "confidence": 0.031}
    assert score_sample(sample, abstained, [], {})["confidence"] == 0.031  # kept when it abstains
    refused = {"text": "Refused", "abstained": True, "quotes": []}
    assert score_sample(sample, refused, [], {})["confidence"] == 0.0


def test_score_sample_and_compare():
    sample = GoldSample("q1", "How much?", ["US$900 million"], ["US$900 million"], ["money"])
    docs = {"d": "It saved US$900 million."}
    good = {"text": "US$900 million", "abstained": False,
            "quotes": [{"doc_id": "d", "start": 0, "end": 24, "text": "It saved US$900 million."}]}
    s = score_sample(sample, good, ["It saved US$900 million."], docs)
    assert s["correct"] and s["evidence_hit"] == 1.0 and s["recall@1"] == 1.0
    bad = {"text": "The articles do not answer", "abstained": True, "quotes": []}
    s2 = score_sample(sample, bad, [], docs)
    assert not s2["correct"] and s2["answer_hit"] == 0.0
    old = {"results": [{"id": "q1", "question": "How much?", "scores": s2, "answer": bad}]}
    new = {"results": [{"id": "q1", "question": "How much?", "scores": s, "answer": good}]}
    diff = compare(old, new)
    assert [r["id"] for r in diff["better"]] == ["q1"] and diff["worse"] == []


def test_conflict_flagged_needs_every_side():
    from rag.evaluate.metrics import conflict_flagged

    q = {"doc_id": "a", "start": 0, "end": 1, "text": "x"}
    both = [{"value": "Twelve people", "quote": q}, {"value": "14 dead", "quote": q}]
    assert conflict_flagged(both, ["12", "14"]) == 1.0          # word numbers count
    assert conflict_flagged(both[:1], ["12", "14"]) == 0.0      # one side is no conflict
    assert conflict_flagged(both, ["12", "15"]) == 0.0          # a gold value missing
    other = [{"value": "over 400 cooperation agreements", "quote": q},
             {"value": "over 600 international agreements", "quote": q}]
    assert conflict_flagged(other, ["over 400 cooperation agreements", "600"]) == 1.0
    assert conflict_flagged([], ["12", "14"]) == 0.0


def test_false_and_self_conflicts_are_counted_where_they_are_wrong():
    qa = {"doc_id": "a", "start": 0, "end": 1, "text": "x"}
    qb = {"doc_id": "b", "start": 0, "end": 1, "text": "y"}
    differ = [{"value": "Twelve people", "kind": "value", "quote": qa},
              {"value": "14 dead", "kind": "value", "quote": qb}]
    assert m.shows_value_conflict(differ) == 1.0
    assert m.shows_value_conflict(differ[:1]) == 0.0 and m.shows_value_conflict([]) == 0.0
    other_count = [differ[0], {"value": "31 injured", "kind": "other-measure", "quote": qa}]
    assert m.shows_value_conflict(other_count) == 0.0   # another count of the same article
    assert m.self_conflict(differ) == 0.0
    assert m.self_conflict([differ[0], {"value": "14 dead", "kind": "value", "quote": qa}]) == 1.0
    assert m.self_conflict(other_count) == 0.0  # another count in the answer's own article

    def row(tags, conflicts):
        s = GoldSample(id="q", question="How many died?", answers=["12"], evidence=[], tags=tags)
        answer = {"text": "12", "abstained": False, "quotes": [], "conflicts": conflicts}
        return {"answerable": True, "tags": tags, "latency_ms": 1.0,
                "scores": score_sample(s, answer, [], {})}

    summary = m.summarize([row(["corroborated"], differ), row(["single-source"], []),
                           row(["conflict"], differ)])  # a conflict question may show one
    assert summary["false_conflict_rate"] == 0.5 and summary["self_conflicts"] == 0


def test_metrics_grade_with_their_own_parsing():
    """The eval must not grade the product with the product's own readers of values
    (a bug there would pass its own grading): metrics.py imports only the standard
    library, text_to_num and the diacritic folding of rag.textnorm."""
    import ast
    import sys
    from pathlib import Path

    tree = ast.parse(Path(m.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    product = {i for i in imported if i.startswith(".") or i == "rag"}
    assert product == {"..textnorm"}, product
    assert {i for i in imported - product if i not in sys.stdlib_module_names} <= {"text_to_num"}, imported
    assert {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "textnorm"
            for a in n.names} == {"fold"}
