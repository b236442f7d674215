"""Markdown report and PNG plots for an eval result."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

SUMMARY_KEYS = ["n", "n_answerable", "n_unanswerable", "recall@1", "recall@3", "recall@5",
                "recall@10", "mrr", "evidence_hit", "quote_validity", "answer_hit", "f1",
                "abstention_recall", "false_abstention_rate", "conflict_flagged",
                "all_sources_cited", "latency_p50_ms", "latency_p95_ms"]


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
    cols = ["n", "recall@5", "evidence_hit", "answer_hit", "f1", "abstention_recall",
            "false_abstention_rate", "conflict_flagged", "all_sources_cited", "latency_p50_ms"]
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
        import numpy as np

        metrics = ["evidence_hit", "answer_hit", "abstention_recall"]
        x = np.arange(len(tags))
        fig, ax = plt.subplots(figsize=(max(6, len(tags) * 0.7), 4))
        for i, name in enumerate(metrics):
            ax.bar(x + (i - 1) * 0.27, [s["by_tag"][t].get(name) or 0 for t in tags], 0.27, label=name)
        ax.set_xticks(x, tags, rotation=45, ha="right")
        ax.set(ylim=(0, 1.05), title="Metrics per tag")
        ax.legend(fontsize=8)
        fig.tight_layout(); fig.savefig(out / "per_tag.png", dpi=110); plt.close(fig)
        files.append("per_tag.png")
    return files


def write_report(result: dict, out_dir: str | Path, title: str = "Evaluation",
                 comparison: Optional[dict] = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(result, out)
    parts = [f"# {title}", "", "## Summary", "", summary_table(result["summary"]), "",
             "## Per tag", "", tag_table(result["summary"]), ""]
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
