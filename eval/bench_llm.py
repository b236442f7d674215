"""Latency of LLM-written answers: time to first token and total answer time per question.

    python eval/bench_llm.py [--llm local] [--gold eval/gold.jsonl] [--json out.json] [--index DIR]

The index and the model are warmed first (one untimed question), so the figures
are per-question costs with the index warm: retrieval + evidence scoring + the
model's prompt processing and generation. Questions come from eval/gold.jsonl
when present (answerable ones), else from tests/test_core_answers.py.
Target on a 2-core machine with the default model: median first token < 1 s,
median full answer < 3 s.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_questions(gold: Path | None) -> tuple[list[str], str]:
    if gold and gold.is_file():
        out = []
        for line in gold.read_text(encoding="utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                if obj.get("answers"):
                    out.append(obj["question"])
        return out, str(gold)
    src = ROOT / "tests" / "test_core_answers.py"
    tree = ast.parse(src.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "QUESTIONS" for t in node.targets):
            return list(ast.literal_eval(node.value)), str(src)
    raise SystemExit("no questions found")


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", default="local", help="backend: local, openai, ollama (default local)")
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--index", default=None, help="index folder (default: the default index)")
    ap.add_argument("--json", type=Path, default=ROOT / "eval" / "bench_llm.json")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from rag import Answer, Assistant

    questions, source = load_questions(args.gold)
    if args.limit:
        questions = questions[:args.limit]
    a = Assistant(index_dir=args.index) if args.index else Assistant()
    a.ask("How many vaccine doses did Vietnam secure?", llm=args.llm)  # warm: index, embedder, model
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        first = None
        n_pieces = 0
        ans = None
        for item in a.ask_stream(q, llm=args.llm):
            if isinstance(item, Answer):
                ans = item
            else:
                n_pieces += 1
                if first is None:
                    first = time.perf_counter()
        t1 = time.perf_counter()
        rows.append({"question": q, "first_token_s": round(((first or t1) - t0), 3),
                     "total_s": round(t1 - t0, 3), "pieces": n_pieces, "path": ans.path,
                     "abstained": ans.abstained, "text": ans.text,
                     "llm_first_token_ms": ans.timings.get("first_token_ms"),
                     "llm_ms": ans.timings.get("llm_ms")})
    # first token: the first streamed piece of an LLM answer (abstentions answer without a model)
    llm_rows = [r for r in rows if r["llm_ms"] is not None]
    ftt = [r["first_token_s"] for r in llm_rows]
    tot = [r["total_s"] for r in llm_rows]
    w = max(len(r["question"]) for r in rows)
    w = min(w, 70)
    print(f"{'question':<{w}}  first(s)  total(s)  path")
    for r in rows:
        print(f"{r['question'][:w]:<{w}}  {r['first_token_s']:8.2f}  {r['total_s']:8.2f}  "
              f"{'abstained' if r['abstained'] else r['path']}")
    summary = {
        "backend": args.llm, "questions": len(rows), "questions_with_llm": len(llm_rows), "source": source,
        "first_token_median_s": round(statistics.median(ftt), 3) if ftt else None,
        "first_token_p95_s": round(pct(ftt, 0.95), 3) if ftt else None,
        "total_median_s": round(statistics.median(tot), 3) if tot else None,
        "total_p95_s": round(pct(tot, 0.95), 3) if tot else None,
        "paths": {p: sum(r["path"] == p for r in llm_rows) for p in ("llm", "extractive-fallback")},
        "cpu_count": os.cpu_count(),
    }
    print(f"\n{len(llm_rows)} of {len(rows)} questions went to the model ({source}); "
          f"first token median {summary['first_token_median_s']} s, p95 {summary['first_token_p95_s']} s; "
          f"full answer median {summary['total_median_s']} s, p95 {summary['total_p95_s']} s; "
          f"paths {summary['paths']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=1),
                             encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
