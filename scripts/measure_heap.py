"""Embedding speed and RSS with three ways of handling glibc's heap (rag/heap.py).

    python scripts/measure_heap.py [--texts 3000] [--call 512]

Each way runs in a fresh child process with the bulk embedding kernel chosen for this
machine, on chunk texts of the bundled articles cut to random lengths (100-1,200
characters, seeded), embedded in calls of --call texts as ingest does:

  nothing    glibc's defaults;
  mmap-1mib  a fixed 1 MiB mmap threshold (mallopt M_MMAP_THRESHOLD: what ingest used before);
  trim       malloc_trim(0) after each batch of the PyTorch kernels and each call
             (rag.heap.trim_heap: what the embedder and ingest do now).

Printed: the machine, then per way wall and CPU seconds, RSS after the last call, the
largest RSS seen between calls and the process's peak RSS (ru_maxrss).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYS = ("nothing", "mmap-1mib", "trim")


def rss_mb() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20


def child(way: str, n: int, call: int) -> dict:
    from rag import heap, kernels
    from rag.embeddings import get_embedder
    from rag.settings import Settings

    chunks, _ = kernels.calibration_texts()
    rnd = random.Random(1)
    texts = [rnd.choice(chunks)[: rnd.randint(100, 1200)] for _ in range(n)]
    e = Settings().embedding
    emb = get_embedder(e.provider, e.model, e.device, e.batch_size, e.kernel_cache)
    if way != "trim":  # the embedder trims between its batches: not in the other ways
        heap.trim_heap = lambda: False
    if way == "mmap-1mib":
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    emb.embed(texts[:call + 1])  # load the bulk kernel
    start, between = rss_mb(), 0
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, n, call):
        emb.embed(texts[i:i + call])
        heap.trim_heap()  # as ingest does after each call (a no-op in the other ways)
        between = max(between, rss_mb())
    return {"way": way, "kernel": getattr(emb, "kernel", e.provider), "wall_s": time.perf_counter() - t,
            "cpu_s": time.process_time() - c, "rss_start_mb": start, "rss_end_mb": rss_mb(),
            "rss_between_calls_max_mb": between,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=3000)
    ap.add_argument("--call", type=int, default=512)  # ingest's BATCH_CHUNKS
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.texts, a.call)))
        return 0
    sys.path.insert(0, str(ROOT))
    from rag import hardware

    print(f"machine: {hardware.describe()}; load average {os.getloadavg()[0]:.1f}")
    print("| way | kernel | wall s | CPU s | RSS after | max RSS between calls | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for way in WAYS:
        p = subprocess.run([sys.executable, __file__, "--child", way, "--texts", str(a.texts), "--call", str(a.call)],
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            print(f"| {way} | failed: {(p.stderr.strip().splitlines() or ['?'])[-1][:120]} |")
            continue
        r = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"| {way} | {r['kernel']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['rss_end_mb']} MB | "
              f"{r['rss_between_calls_max_mb']} MB | {r['peak_rss_mb']} MB |")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
