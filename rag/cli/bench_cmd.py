"""`rag bench`: the performance benchmark in eval/bench.py (a checkout-only tool)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import RagError

BENCH = Path(__file__).resolve().parents[2] / "eval" / "bench.py"


def cmd_bench(args) -> int:
    if not BENCH.exists():
        raise RagError(f"{BENCH} not found: `rag bench` runs from a checkout of the repository.")
    spec = importlib.util.spec_from_file_location("rag_eval_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = []
    for flag in ("sizes", "out", "work", "embed_max", "queries", "ceiling_sample", "baseline_sample"):
        v = getattr(args, flag)
        if v is not None:
            argv += [f"--{flag.replace('_', '-')}", str(v)]
    for flag in ("quick", "no_llm", "no_ui", "profile", "resume"):
        if getattr(args, flag):
            argv.append(f"--{flag.replace('_', '-')}")
    return mod.main(argv)


def register_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmark ingest, query latency, UI start and memory")
    p.add_argument("--sizes", help="chunk counts, comma-separated (default 1000,10000,100000)")
    p.add_argument("--quick", action="store_true", help="300 and 1000 chunks, fewer questions")
    p.add_argument("--out", help="folder for bench.json/.md/.png (default eval/bench-results)")
    p.add_argument("--work", help="folder for generated corpora and indexes (default /tmp/rag-bench)")
    p.add_argument("--embed-max", type=int, help="above this size, vectors are reused (default 10000)")
    p.add_argument("--ceiling-sample", type=int, help="chunks embedded to measure the model alone")
    p.add_argument("--baseline-sample", type=int,
                   help="chunks embedded by plain sentence-transformers fp32 to compare the kernel with "
                        "(default 300; 0 skips)")
    p.add_argument("--queries", type=int, help="questions per size (default 16)")
    p.add_argument("--no-llm", action="store_true", help="skip the LLM answer latency")
    p.add_argument("--no-ui", action="store_true", help="skip the UI cold start")
    p.add_argument("--profile", action="store_true", help="write pyinstrument profiles of ask()")
    p.add_argument("--resume", action="store_true", help="keep results already in --work, run the missing ones")
    p.set_defaults(func=cmd_bench)
