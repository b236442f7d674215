"""Gold samples: one JSON object per line; unknown fields are kept and ignored."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RagError


@dataclass(frozen=True)
class GoldSample:
    id: str
    question: str
    answers: list[str]  # [] = the articles do not answer; the right move is to abstain
    evidence: list[str] = field(default_factory=list)  # verbatim substrings of an article
    tags: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_gold(path: str | Path) -> list[GoldSample]:
    path = Path(path)
    if not path.is_file():
        raise RagError(f"{path}: gold file not found; pass a .jsonl file of questions.")
    out: list[GoldSample] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            sample = GoldSample(
                id=str(obj.get("id", n)), question=str(obj["question"]),
                answers=[str(a) for a in obj.get("answers", [])],
                evidence=[str(e) for e in obj.get("evidence", [])],
                tags=[str(t) for t in obj.get("tags", [])],
                extra={k: v for k, v in obj.items()
                       if k not in ("id", "question", "answers", "evidence", "tags")},
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise RagError(f"{path}:{n}: not a gold sample ({e}); each line needs "
                           '{"question": ..., "answers": [...]}') from None
        out.append(sample)
    if not out:
        raise RagError(f"{path}: no questions in the gold file.")
    return out
