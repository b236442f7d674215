"""The CI gate: floors (and ceilings) for summary metrics, kept in a TOML file.

    [gold]                       # one table per gold set
    gold = "eval/gold.jsonl"
    articles = "rag/data/articles"
    [gold.min]                   # the metric must be at least this
    "recall@5" = 0.9
    [gold.max]                   # the metric must be at most this
    false_abstention_rate = 0.2

Quote validity must be exactly 1.0 whatever the file says: a quote that is not
verbatim at its offsets is a bug, not a quality level.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RagError


@dataclass(frozen=True)
class GateSet:
    name: str
    gold: Path
    articles: Path
    min: dict[str, float] = field(default_factory=dict)
    max: dict[str, float] = field(default_factory=dict)


def load_thresholds(path: str | Path) -> list[GateSet]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RagError(f"{path}: thresholds file not found.") from None
    except tomllib.TOMLDecodeError as e:
        raise RagError(f"{path}: not valid TOML ({e}).") from None
    root = path.resolve().parent.parent  # paths in the file are relative to the repo root
    out = []
    for name, table in data.items():
        if not isinstance(table, dict) or "gold" not in table:
            raise RagError(f"{path}: [{name}] needs gold = \"...\" (and articles, min, max).")
        out.append(GateSet(name, root / table["gold"], root / table.get("articles", "rag/data/articles"),
                           {k: float(v) for k, v in table.get("min", {}).items()},
                           {k: float(v) for k, v in table.get("max", {}).items()}))
    return out


def check(summary: dict, gate: GateSet) -> list[str]:
    """Every way the summary falls short of the gate; empty when it passes."""
    failures = []
    if summary.get("quote_validity", 1.0) < 1.0:
        failures.append(f"quote_validity {summary['quote_validity']:.4f} < 1.0 (a quote is not verbatim: a bug)")
    for k, floor in gate.min.items():
        v = summary.get(k)
        if v is None:
            failures.append(f"{k}: missing from the summary")
        elif v < floor - 1e-9:
            failures.append(f"{k} {v:.3f} < floor {floor:.3f}")
    for k, ceiling in gate.max.items():
        v = summary.get(k)
        if v is None:
            failures.append(f"{k}: missing from the summary")
        elif v > ceiling + 1e-9:
            failures.append(f"{k} {v:.3f} > ceiling {ceiling:.3f}")
    return failures
