"""The eval the product is steered by: the CI gate on the gold sets, and the
report with its plots, run for real (real index, bundled model)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.evaluate.gate import check, load_thresholds
from rag.evaluate.runner import run_eval
from rag.evaluate.samples import load_gold

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = ROOT / "eval" / "thresholds.toml"
GATES = {g.name: g for g in load_thresholds(THRESHOLDS)}


@pytest.fixture(scope="module")
def conflict_assistant(tmp_path_factory):
    from rag import Assistant

    a = Assistant(index_dir=tmp_path_factory.mktemp("conflict-index"))
    report = a.ingest([GATES["conflict_corpus"].articles])
    assert not report.refused
    return a


class _GoldAnsweredOnce:
    """The session's bundled assistant, whose ask() of a gold question returns the answer it
    gave that question this session (conftest.bundled_gold_answers: the same assistant, the
    same question, asked once for the three modules that need all 96); everything else, and
    any other question, goes to the assistant itself."""

    def __init__(self, assistant, answers: dict):
        self._assistant, self._answers = assistant, answers

    def ask(self, question, **kw):
        if not kw and question in self._answers:
            return self._answers[question]
        return self._assistant.ask(question, **kw)

    def __getattr__(self, name):
        return getattr(self._assistant, name)


def _gate(assistant, name):
    gate = GATES[name]
    result = run_eval(assistant, load_gold(gate.gold))
    summary = result["summary"]
    # every quote the eval saw is verbatim at its offsets
    for row in result["results"]:
        for q in row["answer"]["quotes"] + row["answer"].get("closest", []):
            assert assistant.document(q["doc_id"]).text[q["start"]:q["end"]] == q["text"]
    return summary, check(summary, gate)


def test_gold_set_meets_its_floors(bundled_assistant, bundled_gold_answers):
    summary, failures = _gate(_GoldAnsweredOnce(bundled_assistant, bundled_gold_answers), "gold")
    assert summary["n"] >= 60
    assert summary["quote_validity"] == 1.0
    assert not failures, "eval/gold.jsonl below eval/thresholds.toml:\n" + "\n".join(failures)


def test_conflict_corpus_meets_its_floors(conflict_assistant):
    summary, failures = _gate(conflict_assistant, "conflict_corpus")
    assert not failures, "conflict corpus below eval/thresholds.toml:\n" + "\n".join(failures)


def test_gate_catches_a_drop():
    """The gate is not a rubber stamp: a summary below a floor or with a broken quote fails."""
    gate = GATES["gold"]
    good = {k: v + 0.0 for k, v in gate.min.items()} | {k: v for k, v in gate.max.items()}
    good["quote_validity"] = 1.0
    assert check(good, gate) == []
    some_floor = next(iter(gate.min))
    assert check(good | {some_floor: gate.min[some_floor] - 0.05}, gate)
    assert check(good | {"quote_validity": 0.99}, gate)


def test_rag_eval_cli_writes_report_plots_and_comparison(tmp_path, capsys):
    """`rag eval` on any folder of .txt articles plus a gold file, with --report and --compare."""
    from rag.cli import main

    articles = tmp_path / "articles"
    shutil.copytree(ROOT / "tests" / "data" / "conflict_corpus", articles)
    gold = tmp_path / "gold.jsonl"
    lines = (ROOT / "tests" / "data" / "conflict_corpus_gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    out1, out2 = tmp_path / "run1.json", tmp_path / "run2.json"
    assert main(["eval", str(gold), "--articles", str(articles), "--json", str(out1)]) == 0
    assert main(["eval", str(gold), "--articles", str(articles), "--json", str(out2),
                 "--report", str(tmp_path / "report"), "--compare", str(out1)]) == 0
    printed = capsys.readouterr().out
    assert "recall@5" in printed and "quote_validity" in printed

    result = json.loads(out2.read_text(encoding="utf-8"))
    assert len(result["results"]) == 12
    row = result["results"][0]
    assert {"id", "question", "answers", "answer", "scores"} <= set(row)
    assert {"question", "text", "abstained", "quotes", "timings"} <= set(row["answer"])
    assert "by_tag" in result["summary"] and "conflict" in result["summary"]["by_tag"]
    assert result["comparison"] == {"better": [], "worse": []}  # same code, same answers

    report = tmp_path / "report"
    md = (report / "report.md").read_text(encoding="utf-8")
    assert "recall@k" in md.lower() or "recall@5" in md
    pngs = sorted(report.glob("*.png"))
    assert len(pngs) == 3
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert png.name in md  # the report links its plots
