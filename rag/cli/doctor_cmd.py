"""`rag doctor [--repair]`: check an index (and fix what can be fixed)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import add_index_arg


def cmd_doctor(args) -> int:
    from ..assistant import Assistant
    from ..doctor import check, repair
    from ..errors import IndexMismatchError
    from ..answering.reader import reader_precision
    from ..hardware import describe, library_versions
    from ..kernels import choose
    from ..settings import Settings

    settings = Settings()
    emb = settings.embedding
    choice = choose(emb.provider, emb.model, emb.batch_size, emb.kernel_cache, recalibrate=args.recalibrate)
    libs = ", ".join(f"{k} {v}" for k, v in library_versions().items() if v)
    bf16, why = reader_precision(settings)  # the reader follows the kernel chosen above
    machine_lines = [f"machine: {describe()}; {libs}", f"embedding kernel: {choice.summary()}",
                     f"span reader: {why}"]
    if not args.json:
        print("\n".join(machine_lines))
    index_dir = Path(args.index) if args.index is not None else settings.index_dir
    if not settings.chroma_url and not (index_dir / "chroma").is_dir():
        print(f"error: no index at {index_dir} (nothing to check); build one with "
              f"`rag ingest --index {index_dir} PATHS...`", file=sys.stderr)
        return 2
    try:
        a = Assistant(index_dir=index_dir, settings=settings, bootstrap=False)
    except IndexMismatchError as e:
        print(f"problem: [signature] {e}", file=sys.stderr)
        return e.exit_code
    report = repair(a) if args.repair else check(a)
    if args.json:
        print(json.dumps({**report.to_dict(), "machine": choice.machine, "kernel": choice.to_dict(),
                          "reader_compute": "bf16" if bf16 else "fp32"},
                         ensure_ascii=False, indent=2))
    else:
        print(report.render())
    return 0 if report.ok else 1


def register_doctor(sub) -> None:
    p = sub.add_parser("doctor", help="check an index: store and BM25 agree, offsets valid; --repair fixes")
    p.add_argument("--repair", action="store_true",
                   help="sweep orphan chunks, re-ingest damaged documents, rebuild the BM25 cache")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--recalibrate", action="store_true",
                   help="measure the embedding kernels on this CPU again and store the choice")
    add_index_arg(p)
    p.set_defaults(func=cmd_doctor)
