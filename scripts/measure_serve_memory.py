"""Where a serving process's memory goes, stage by stage, on an existing index.

    python scripts/measure_serve_memory.py INDEX_DIR [--questions 16]

Opens INDEX_DIR (e.g. the 100k-chunk index `rag bench --work DIR` leaves in DIR/index-100000)
the way the UI and `rag ask` do, then loads each part in the order a first question does and
prints, after each stage, the process's RSS, its peak so far (VmHWM) and the RSS once glibc has
handed free pages back (malloc_trim): a peak far above the trimmed RSS is a transient allocation
of that stage. The questions are the bench's (eval/corpus.py). Prints the machine first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))


def status() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                out[line.split(":")[0]] = int(line.split()[1]) // 1024
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("index", type=Path)
    p.add_argument("--questions", type=int, default=16)
    a = p.parse_args()
    if not (a.index / "chroma").is_dir():
        print(f"error: {a.index} holds no index (no chroma/ folder): pass an index folder, "
              "e.g. DIR/index-100000 after `rag bench --work DIR`.", file=sys.stderr)
        return 2
    from rag import hardware
    from rag.heap import trim_heap

    print(f"machine: {hardware.describe()}")
    rows = []

    def stage(name: str) -> None:
        s = status()
        trim_heap()
        rows.append((name, s["VmRSS"], s["VmHWM"], status()["VmRSS"]))

    stage("python started")
    import corpus
    from rag import Assistant

    stage("rag imported")
    asst = Assistant(index_dir=a.index, bootstrap=False)
    stage("index opened")
    qs = corpus.QUESTIONS[: a.questions]
    qv = asst.embedder.embed([qs[0]])[0]
    stage("question embedder loaded")
    asst.store.dense_query(qv, 20)
    stage("dense index (HNSW) loaded")
    asst.sparse.get()
    stage("BM25 snapshot loaded")
    asst.retriever.retrieve(qs[0], qv)
    stage("first retrieval")
    asst.answerer.reader  # noqa: B018 - loads the trained reader
    stage("reader loaded")
    asst.ask(qs[0])
    stage("first answer")
    for q in qs:
        asst.ask(q)
    stage(f"{len(qs)} more answers")
    chunks = asst.store.chunks.count()
    print(f"index: {a.index} ({chunks:,} chunks, {len(asst.documents()):,} documents)")
    print("| stage | RSS MB | peak so far MB | RSS after trim MB |")
    print("|---|---|---|---|")
    for name, rss, hwm, trimmed in rows:
        print(f"| {name} | {rss} | {hwm} | {trimmed} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
