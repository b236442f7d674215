"""Ingest time and peak memory for the largest files ingest accepts (issue 20, item 3).

    python scripts/measure_hostile_ingest.py [--mb 19.5] [--only one-sentence|normal] [--keep DIR]

Makes two files just under the 20 MB file limit from the bundled articles (and the Rhine
article when present), varied by eval/corpus.py so that no two chunks are the same:

  normal        news prose: sentences, paragraphs;
  one-sentence  the same words with every sentence break and newline removed, so the
                whole file is one "sentence" (it became one 19 MB chunk before the fix).

Each file is ingested by `rag ingest` logic in a fresh child process into a fresh
temporary index with the real embedding model (settings from the environment). Printed
per file: wall and CPU seconds, RSS of the child once the model is loaded and its peak, chunks written, the longest
chunk (characters, words); then one question over each index (answer time, longest quote
shown).
The machine (CPU model, cores, load average before/after) is printed too: these are
single runs on a shared machine, so take the wall times as rough; CPU seconds are less
disturbed by other processes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_files(folder: Path, mb: float) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "eval"))
    from corpus import templates, vary  # noqa: E402

    rng = random.Random(20)
    tpl = templates()
    target = int(mb * 1_000_000)
    parts, size = [], 0
    while size < target:
        _slug, text = rng.choice(tpl)
        t = vary(text, rng) + "\n\n"
        parts.append(t)
        size += len(t.encode("utf-8"))
    normal = "".join(parts).encode("utf-8")[:target].decode("utf-8", "ignore")
    normal = normal[:normal.rfind("\n\n")] + "\n"
    one = re.sub(r"\s+", " ", re.sub(r"[.!?…]+", "", normal)).strip()
    one = one + " and the Kelvar mill employs 7500 people"  # a fact at the very end
    normal = normal + "\nThe Kelvar mill employs 7500 people.\n"  # the same fact, as a sentence
    paths = {"normal": folder / f"normal-{mb:g}mb.txt", "one-sentence": folder / f"one-sentence-{mb:g}mb.txt"}
    paths["normal"].write_text(normal, encoding="utf-8")
    paths["one-sentence"].write_text(one, encoding="utf-8")
    return paths


def child(path: str, index: str, question: str) -> None:
    """Runs in the measured process: ingest one file, report, optionally ask."""
    from rag import Assistant
    from rag.settings import Settings

    s = Settings()
    s = s.model_copy(update={"bootstrap_dir": None})
    a = Assistant(index_dir=index, settings=s)
    a.embedder.embed(["warm up"])  # model load is not ingest time
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, t0 = time.process_time(), time.perf_counter()
    report = a.ingest([path])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_ingest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    doc_id = (report.added + report.updated)[0]
    doc = a.document(doc_id)
    chunks = a.store.chunks_of([doc_id])
    assert all(doc.text[c.start:c.end] == c.text for c in chunks), "a chunk is not verbatim"
    out = {"file_mb": Path(path).stat().st_size / 1e6, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
           "rss_before_mb": round(rss_before), "peak_rss_mb": round(rss_ingest), "chunks": len(chunks),
           "longest_chunk_chars": max(len(c.text) for c in chunks),
           "longest_chunk_words": max(len(c.text.split()) for c in chunks),
           "refused": [e.reason for e in report.refused]}
    if question:
        t1 = time.perf_counter()
        ans = a.ask(question)
        shown = ans.quotes + ans.closest
        out.update({"answer": ans.text[:80], "ask_s": round(time.perf_counter() - t1, 2),
                    "longest_quote_chars": max((len(q.text) for q in shown), default=0),
                    "quotes_verbatim": all(a.document(q.doc_id).text[q.start:q.end] == q.text for q in shown)})
    print("RESULT " + json.dumps(out), flush=True)


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=19.5)
    ap.add_argument("--only", choices=["normal", "one-sentence"])
    ap.add_argument("--keep", type=Path, help="write the files here and keep them")
    ap.add_argument("--child", nargs=3, metavar=("FILE", "INDEX", "QUESTION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = make_files(folder, args.mb)
        for name, path in files.items():
            if args.only and name != args.only:
                continue
            question = "How many people does the Kelvar mill employ?"
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            r = subprocess.run([sys.executable, __file__, "--child", str(path), str(Path(tmp) / f"idx-{name}"),
                                question], capture_output=True, text=True, env=env)
            line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if r.returncode or line is None:
                print(f"{name}: failed (exit {r.returncode})\n{r.stderr[-2000:]}")
                continue
            print(f"{name}: {line[7:]}")
            print(f"  (load average now {os.getloadavg()[0]:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
