"""Markdown report and PNG plots for an eval result."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

SUMMARY_KEYS = ["n", "n_answerable", "n_unanswerable", "recall@1", "recall@3", "recall@5",
                "recall@10", "mrr", "evidence_hit", "quote_validity", "answer_hit", "short_hit", "f1",
                "abstention_recall", "false_abstention_rate", "answerable_auc", "conflict_flagged",
                "all_sources_cited", "false_conflict_rate", "self_conflicts", "latency_p50_ms", "latency_p95_ms"]


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}" if v > 1.5 else f"{v:.3f}"
    return str(v)


def summary_table(summary: dict) -> str:
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(summary.get(k))} |" for k in SUMMARY_KEYS if k in summary]
    return "\n".join(lines)


def tag_table(summary: dict) -> str:
    cols = ["n", "recall@5", "evidence_hit", "answer_hit", "short_hit", "f1", "abstention_recall",
            "false_abstention_rate", "conflict_flagged", "all_sources_cited", "false_conflict_rate",
            "latency_p50_ms"]
    lines = ["| tag | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for tag, s in summary.get("by_tag", {}).items():
        lines.append(f"| {tag} | " + " | ".join(fmt(s.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def _plots(result: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import K_VALUES

    s = result["summary"]
    files = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(K_VALUES, [s.get(f"recall@{k}") or 0 for k in K_VALUES], marker="o")
    ax.set(xlabel="k (chunks retrieved)", ylabel="recall@k", ylim=(0, 1.05), title="Retrieval recall@k")
    ax.grid(alpha=0.3)
    fig.tight_layout(); fig.savefig(out / "recall_at_k.png", dpi=110); plt.close(fig)
    files.append("recall_at_k.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist([r["latency_ms"] for r in result["results"]], bins=20, color="#4a7ab5")
    ax.set(xlabel="latency per question (ms)", ylabel="questions", title="Answer latency")
    fig.tight_layout(); fig.savefig(out / "latency_hist.png", dpi=110); plt.close(fig)
    files.append("latency_hist.png")

    tags = list(s.get("by_tag", {}))
    if tags:
        files.append(_per_tag_plot(s["by_tag"], out))
    return files


PER_TAG_METRICS = ["evidence_hit", "answer_hit", "abstention_recall"]


def _per_tag_plot(by_tag: dict, out: Path) -> str:
    import matplotlib.pyplot as plt

    fig = per_tag_figure(by_tag)
    fig.savefig(out / "per_tag.png", dpi=110)
    plt.close(fig)
    return "per_tag.png"


def per_tag_figure(by_tag: dict):
    """Grouped bars per tag. The legend sits above the axes (it covered the bars of the
    first tags); a metric that does not apply to a tag (None, e.g. abstention recall of a
    tag with no unanswerable question) is written "n/a" in grey with no bar, and a real
    0 is written "0", so the two never look alike."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tags = list(by_tag)
    colors = ["#2b6cb0", "#2f855a", "#b7791f"]
    width = 0.26
    x = np.arange(len(tags))
    fig, ax = plt.subplots(figsize=(max(6.5, len(tags) * 0.75), 4.6))
    for i, name in enumerate(PER_TAG_METRICS):
        xs = x + (i - 1) * width
        vals = [by_tag[t].get(name) for t in tags]
        ax.bar(xs, [v if v is not None else np.nan for v in vals], width, label=name, color=colors[i])
        for xi, v in zip(xs, vals):
            if v is None:
                ax.text(xi, 0.015, "n/a", rotation=90, ha="center", va="bottom", fontsize=7, color="#718096")
            elif v == 0:
                ax.text(xi, 0.015, "0", ha="center", va="bottom", fontsize=7, color="#1a202c")
    ax.set_xticks(x, [f"{t} ({by_tag[t].get('n', '?')})" for t in tags], rotation=45, ha="right")
    ax.set(ylim=(0, 1.02), ylabel="share of the tag's questions")
    ax.set_title("Metrics per tag (questions per tag in brackets; n/a: does not apply)", fontsize=10, pad=28)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(PER_TAG_METRICS), fontsize=8,
              frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig


def corpus_section(corpus: Optional[dict]) -> list[str]:
    """What the run read: index, articles with text hashes, and the warnings."""
    if not corpus:
        return []
    parts = ["## Index and articles", "", f"Index: `{corpus['index']}`, {corpus['n_articles']} article(s).", ""]
    parts += ["| article | title | text sha256 | gold evidence in it |", "|---|---|---|---|"]
    for a in corpus.get("articles", []):
        title = str(a.get("title") or "").replace("|", "/")
        parts.append(f"| `{a['doc_id']}` | {title} | `{a['text_sha256'][:16]}…` | "
                     f"{'yes' if a.get('gold_evidence') else '**no**'} |")
    return parts + [""]


def write_report(result: dict, out_dir: str | Path, title: str = "Evaluation",
                 comparison: Optional[dict] = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(result, out)
    corpus = result.get("corpus")
    parts = [f"# {title}", ""]
    parts += [f"> **Warning:** {w}" for w in (corpus or {}).get("warnings", [])]
    parts += [""] if (corpus or {}).get("warnings") else []
    parts += ["## Summary", "", summary_table(result["summary"]), ""]
    parts += corpus_section(corpus)
    parts += ["## Per tag", "", tag_table(result["summary"]), ""]
    parts += [f"![{p}]({p})" for p in pngs] + [""]
    if comparison is not None:
        for label in ("better", "worse"):
            rows = comparison[label]
            parts += [f"## {label.capitalize()} than before ({len(rows)})", ""]
            parts += [f"- `{r['id']}` {r['question']} — was: {r['before']!r}; now: {r['after']!r}" for r in rows]
            parts.append("")
    misses = [r for r in result["results"] if not r["scores"]["correct"]]
    parts += [f"## Misses ({len(misses)})", "", "| id | question | expected | got |", "|---|---|---|---|"]
    for r in misses:
        exp = "; ".join(r["answers"]) or "(abstain)"
        got = r["answer"]["text"].replace("|", "\\|").replace("\n", " ")[:160]
        parts.append(f"| {r['id']} | {r['question'].replace('|', '/')} | {exp.replace('|', '/')} | {got} |")
    path = out / "report.md"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
