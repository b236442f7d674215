"""`rag eval` says what it ran on (issue 18, items 5 and 8): the index, each article with a
hash of its text, a warning for articles the gold file does not cover; --compare/--gate
files are checked before the run; the per-tag plot keeps its legend off the bars and
tells "n/a" from 0."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUNDLED

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"
EXTRA = """Lantern festival draws record crowd in Hoi An

HOI AN — The Hoi An lantern festival drew 61,000 visitors on Saturday, organisers said.
"""
EXTRA_ID = "local-2025-11-12-hoi-an-lanterns"


def _gold_subset(tmp_path: Path, n: int = 6) -> Path:
    g = tmp_path / "gold.jsonl"
    g.write_text("\n".join(GOLD.read_text(encoding="utf-8").splitlines()[:n]) + "\n", encoding="utf-8")
    return g


def _rag(*args, cwd: Path) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def test_eval_records_index_articles_and_warns_about_uncovered_ones(tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(BUNDLED, articles)
    (articles / f"{EXTRA_ID}.txt").write_text(EXTRA, encoding="utf-8")
    gold = _gold_subset(tmp_path)
    index = tmp_path / "idx"
    assert _rag("ingest", str(articles), "--index", str(index), cwd=tmp_path).returncode == 0
    out = tmp_path / "out"
    p = _rag("eval", str(gold), "--index", str(index), "--json", str(out / "r.json"), "--report",
             str(out / "report"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"evaluated on {index.resolve()}: 3 article(s), 2 with gold evidence" in p.stderr
    assert "warning:" in p.stderr and EXTRA_ID in p.stderr and "--articles" in p.stderr

    result = json.loads((out / "r.json").read_text(encoding="utf-8"))
    corpus = result["corpus"]
    assert corpus["index"] == str(index.resolve()) and corpus["n_articles"] == 3
    assert corpus["uncovered"] == [EXTRA_ID]
    by_id = {a["doc_id"]: a for a in corpus["articles"]}
    for f in articles.iterdir():  # hashes of the text each article holds (= the file for .txt)
        assert by_id[f.stem]["text_sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
        assert by_id[f.stem]["gold_evidence"] == (f.stem != EXTRA_ID)
    md = (out / "report" / "report.md").read_text(encoding="utf-8")
    assert md.count("**Warning:**") == 1 and EXTRA_ID in md.split("## Summary")[0]
    assert str(index.resolve()) in md
    for a in corpus["articles"]:
        assert f"`{a['doc_id']}`" in md and a["text_sha256"][:16] in md


def test_eval_on_the_gold_articles_alone_has_no_warning(tmp_path):
    gold = _gold_subset(tmp_path, 4)
    p = _rag("eval", str(gold), "--articles", str(BUNDLED), "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "warning:" not in p.stderr
    corpus = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["corpus"]
    assert corpus["index"] == f"temporary index of {BUNDLED}" and corpus["uncovered"] == []
    assert corpus["n_articles"] == 2 and corpus["warnings"] == []


@pytest.mark.parametrize("args, message", [
    (["--compare", "missing.json"], "--compare missing.json: no such file"),
    (["--compare", "notjson.json"], "--compare notjson.json: not JSON"),
    (["--gate", "missing.toml"], "missing.toml: thresholds file not found"),
])
def test_compare_and_gate_files_are_checked_before_the_run(tmp_path, args, message):
    (tmp_path / "notjson.json").write_text("{half", encoding="utf-8")
    index = tmp_path / "never-made"
    p = _rag("eval", str(GOLD), "--index", str(index), *args, cwd=tmp_path)
    assert p.returncode != 0 and message in p.stderr
    assert "Traceback" not in p.stderr
    assert not index.exists(), "the run started (an index was opened) before the file was checked"


def test_per_tag_plot_legend_off_the_bars_and_na_is_not_zero(tmp_path):
    from rag.evaluate.report import PER_TAG_METRICS, per_tag_figure, write_report

    by_tag = {"corroborated": {"n": 24, "evidence_hit": 1.0, "answer_hit": 1.0, "abstention_recall": None},
              "unanswerable": {"n": 16, "evidence_hit": 0.0, "answer_hit": None, "abstention_recall": 0.7},
              "conflict": {"n": 4, "evidence_hit": 0.75, "answer_hit": 0.0, "abstention_recall": None}}
    fig = per_tag_figure(by_tag)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    plot_area = ax.get_window_extent(renderer)
    assert legend.y0 >= plot_area.y1 - 1, "the legend overlaps the plotting area (and its bars)"
    for bars in ax.containers:  # no bar reaches into the legend
        for bar in bars:
            if bar.get_height() == bar.get_height():  # not NaN
                assert bar.get_window_extent(renderer).y1 <= legend.y0 + 1
    labels = [(t.get_text(), round(t.get_position()[0], 2)) for t in ax.texts]
    width = 0.26
    na = {round(x + (i - 1) * width, 2) for x, tag in enumerate(by_tag) for i, m in enumerate(PER_TAG_METRICS)
          if by_tag[tag][m] is None}
    zero = {round(x + (i - 1) * width, 2) for x, tag in enumerate(by_tag) for i, m in enumerate(PER_TAG_METRICS)
            if by_tag[tag][m] == 0.0}
    assert {x for t, x in labels if t == "n/a"} == na and {x for t, x in labels if t == "0"} == zero
    na_colors = {t.get_color() for t in ax.texts if t.get_text() == "n/a"}
    zero_colors = {t.get_color() for t in ax.texts if t.get_text() == "0"}
    assert na_colors.isdisjoint(zero_colors)
    import matplotlib.pyplot as plt

    plt.close(fig)
    result = {"summary": {"by_tag": by_tag, "recall@1": 1.0}, "results": [
        {"id": "q", "question": "q", "answers": [], "answer": {"text": "x"}, "latency_ms": 5.0,
         "scores": {"correct": True}}]}
    write_report(result, tmp_path / "rep")
    png = (tmp_path / "rep" / "per_tag.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
