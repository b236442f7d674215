"""Benchmark: ingest throughput against the embedding model's own ceiling,
query latency at 1k/10k/100k chunks, UI cold start, peak memory.

    python eval/bench.py                       # sizes 1000,10000,100000
    python eval/bench.py --quick               # 300 and 1000 chunks, fewer queries
    rag bench --sizes 1000,10000 --out DIR

Each size runs in two fresh subprocesses so that peak memory (ru_maxrss) is
per size and per role: `build` (generate the corpus, measure the model alone
on exactly the chunk texts ingest will embed, then ingest) and `serve` (open
the existing index, answer questions with the index warm). Sizes above
--embed-max (10k) insert vectors computed once and reused: each chunk gets the
vector the real model gave the same text, or the same sentence skeleton
(names and figures removed), in the largest really-embedded corpus, plus a
little noise; the output says so.

CPU is shared on the machines this runs on, so throughput is also reported in
CPU seconds of this process (`*_cpu`), which other processes do not inflate.

Every result carries the machine (CPU model, flags, cores, library versions) and
the embedding kernel chosen for it (rag/kernels.py); the report starts with them,
and --resume never mixes in results measured on another machine. The build step
also times plain sentence-transformers fp32 on a sample of the same chunks
(--baseline-sample) and gives the cosine of the chosen kernel's vectors to it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

T_START = time.perf_counter()


def machine_info() -> dict:
    from rag import hardware

    return {"cpu": hardware.describe(), "machine_key": hardware.machine_key(), **hardware.machine(),
            "platform": platform.platform()}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


# -- build ------------------------------------------------------------------
class ReuseEmbedder:
    """Vectors for the 100k corpus without an hour of embedding (see module doc)."""

    def __init__(self, texts: list[str], vecs, seed: int = 0):
        import numpy as np

        self.np = np
        self.vecs = vecs
        self.exact = {t: i for i, t in enumerate(texts)}
        self.by_skeleton: dict[str, int] = {}
        for i, t in enumerate(texts):
            self.by_skeleton.setdefault(self.skeleton(t), i)
        self.rng = np.random.default_rng(seed)
        self.stats = {"exact": 0, "skeleton": 0, "random": 0}
        self.name = "reused-vectors"

    @staticmethod
    def skeleton(text: str) -> str:
        return " ".join(w for w in text.split() if w[:1].islower())

    def embed(self, texts: list[str]):
        np = self.np
        out = np.empty((len(texts), self.vecs.shape[1]), dtype=np.float32)
        for row, t in enumerate(texts):
            i = self.exact.get(t)
            if i is not None:
                self.stats["exact"] += 1
                out[row] = self.vecs[i]
                continue
            i = self.by_skeleton.get(self.skeleton(t))
            self.stats["skeleton" if i is not None else "random"] += 1
            if i is None:
                i = int(self.rng.integers(len(self.vecs)))
            v = self.vecs[i] + self.rng.normal(0, 0.01, self.vecs.shape[1]).astype(np.float32)
            out[row] = v / np.linalg.norm(v)
        return out


def chunk_texts(corpus_dir: Path, settings) -> list[str]:
    from rag.chunking import chunk_document

    out = []
    for p in sorted(corpus_dir.glob("*.txt")):
        out.extend(c.text for c in chunk_document("x", p.read_text(encoding="utf-8"),
                                                   settings.chunking.max_words,
                                                   settings.chunking.overlap_sentences))
    return out


def save_vectors(store, path: Path) -> None:
    import numpy as np

    texts, vecs, offset = [], [], 0
    while True:
        got = store.chunks.get(include=["documents", "embeddings"], limit=5000, offset=offset)
        if not got["ids"]:
            break
        texts.extend(got["documents"])
        vecs.append(np.asarray(got["embeddings"], dtype=np.float32))
        offset += len(got["ids"])
    np.savez(path, texts=np.array(texts, dtype=object), vecs=np.concatenate(vecs))


def worker_build(args) -> dict:
    import numpy as np

    import corpus
    from rag import Assistant
    from rag.settings import Settings

    work = Path(args.work)
    settings = Settings()
    cdir = work / f"corpus-{args.size}"
    if not cdir.exists():
        info = corpus.generate(args.size, cdir, settings.chunking.max_words, settings.chunking.overlap_sentences)
        (work / f"corpus-{args.size}.json").write_text(json.dumps(info))
    info = json.loads((work / f"corpus-{args.size}.json").read_text())
    idx = work / f"index-{args.size}"
    shutil.rmtree(idx, ignore_errors=True)
    a = Assistant(index_dir=idx, settings=settings, bootstrap=False)
    res = {"size": args.size, "articles": info["articles"], "chunks": info["chunks"],
           "kb": info["bytes"] / 1000, "provider": settings.embedding.provider,
           "machine_key": machine_info()["machine_key"]}
    real = args.size <= args.embed_max
    emb = a.embedder
    res["kernel"] = getattr(emb, "kernel", settings.embedding.provider)
    from rag.kernels import SMALL_CALL

    emb.embed(["warm up the model"] * 8)  # the answer path's kernel ...
    emb.embed(["warm up the model"] * (SMALL_CALL + 1))  # ... and the bulk one (auto may run two)
    if real:
        texts = chunk_texts(cdir, settings)
        # The model alone on the chunk texts ingest will embed: all of them, or
        # an even sample of --ceiling-sample (same text distribution), scaled up.
        step = max(1, -(-len(texts) // args.ceiling_sample))
        sample = texts[::step]
        t, c = time.perf_counter(), time.process_time()
        emb.embed(sample)
        scale = len(texts) / len(sample)
        res["ceiling_s"] = (time.perf_counter() - t) * scale
        res["ceiling_cpu_s"] = (time.process_time() - c) * scale
        res["ceiling_sample"] = f"{len(sample)} of {len(texts)} chunks"
        res["ceiling_chunks_per_s"] = len(texts) / res["ceiling_s"]
        res["ceiling_kb_per_s"] = res["kb"] / res["ceiling_s"]
        res["vectors"] = "computed by the model"
    else:
        pools = sorted(work.glob("vectors-*.npz"), key=lambda p: int(p.stem.split("-")[1]))
        if pools:
            z = np.load(pools[-1], allow_pickle=True)
            ptexts, pvecs = list(z["texts"]), z["vecs"]
        else:  # no smaller real run: embed a sample for the pool
            ptexts = chunk_texts(cdir, settings)[:2000]
            pvecs = emb.embed(ptexts)
        reuse = ReuseEmbedder(ptexts, pvecs)
        a._embedder = reuse
        res["vectors"] = f"REUSED from {len(ptexts)} real vectors (+ noise), not computed"
    inner = a.embedder.embed
    acc = {"wall": 0.0, "cpu": 0.0}

    def timed(texts):
        t, c = time.perf_counter(), time.process_time()
        out = inner(texts)
        acc["wall"] += time.perf_counter() - t
        acc["cpu"] += time.process_time() - c
        return out

    a.embedder.embed = timed
    t, c = time.perf_counter(), time.process_time()
    report = a.ingest([cdir])  # includes the BM25 build (SparseCache.invalidate)
    res["ingest_s"], res["ingest_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    res["ingested_chunks"] = report.chunks
    res["embed_s"], res["embed_cpu_s"] = acc["wall"], acc["cpu"]
    res["ingest_kb_per_s"] = res["kb"] / res["ingest_s"]
    res["ingest_chunks_per_s"] = report.chunks / res["ingest_s"]
    res["embed_share"] = acc["wall"] / res["ingest_s"]
    if real:
        res["ingest_vs_ceiling"] = res["ceiling_s"] / res["ingest_s"]
        res["ingest_vs_ceiling_cpu"] = res["ceiling_cpu_s"] / res["ingest_cpu_s"]
        save_vectors(a.store, work / f"vectors-{args.size}.npz")
    else:
        res["reuse_stats"] = reuse.stats
    res["build_peak_rss_mb"] = peak_rss_mb()  # before the fp32 baseline loads a second model
    if real and args.baseline_sample > 0:
        res.update(fp32_baseline(emb, texts, args.baseline_sample, settings))
    return res


def fp32_baseline(emb, texts: list[str], n: int, settings) -> dict:
    """The chosen kernel against plain sentence-transformers fp32 (what a user could
    script instead) on the same even sample of chunk texts: speed, interleaved twice,
    best of each; and the cosine of the kernel's vectors to the fp32 ones."""
    import numpy as np

    from rag.embeddings import SentenceTransformerEmbedder

    sample = texts[::max(1, -(-len(texts) // n))]
    kb = sum(len(t.encode("utf-8")) for t in sample) / 1000
    st = SentenceTransformerEmbedder(settings.embedding.model, batch_size=settings.embedding.batch_size)
    st.embed(sample[:8])
    times: dict[str, list] = {"kernel": [], "st": []}
    vecs = {}
    for _rep in range(2):
        for name, e in (("kernel", emb), ("st", st)):
            t, c = time.perf_counter(), time.process_time()
            vecs[name] = e.embed(sample)
            times[name].append((time.perf_counter() - t, time.process_time() - c))
    cos = (vecs["kernel"] * vecs["st"]).sum(1)
    k_wall, k_cpu = min(w for w, _ in times["kernel"]), min(c for _, c in times["kernel"])
    s_wall, s_cpu = min(w for w, _ in times["st"]), min(c for _, c in times["st"])
    return {"baseline_sample": len(sample), "kernel_sample_kb_per_s": kb / k_wall,
            "st_fp32_kb_per_s": kb / s_wall, "kernel_vs_st_fp32": s_wall / k_wall,
            "kernel_vs_st_fp32_cpu": s_cpu / k_cpu, "cos_to_fp32_min": float(np.min(cos)),
            "cos_to_fp32_mean": float(np.mean(cos))}


# -- serve ------------------------------------------------------------------
def worker_serve(args) -> dict:
    import inspect

    import corpus
    from rag import Assistant
    from rag.textnorm import terms  # noqa: F401  (import cost outside the timings)

    idx = Path(args.work) / f"index-{args.size}"
    a = Assistant(index_dir=idx, bootstrap=False)
    qs = corpus.QUESTIONS[: args.queries]
    first = a.ask(qs[0])
    res = {"size": args.size, "open_and_first_answer_s": time.perf_counter() - T_START,
           "machine_key": machine_info()["machine_key"],
           "serve_kernel": getattr(a.embedder, "kernel", a.settings.embedding.provider)}
    for q in qs:  # warm: model, HNSW, BM25 snapshot, caches
        a.ask(q)
    retr, extr, retr_cpu, extr_cpu, verbatim, short = [], [], [], [], 0, 0
    for _rep in range(args.reps):
        for q in qs:
            t, c = time.perf_counter(), time.process_time()
            qv = a.embedder.embed([q])[0]
            a.retriever.retrieve(q, qv)
            retr.append((time.perf_counter() - t) * 1000)
            retr_cpu.append((time.process_time() - c) * 1000)
            a.answerer.embedder.clear()  # time each question as a new one: no sentence vectors kept
            t, c = time.perf_counter(), time.process_time()
            ans = a.ask(q)
            extr.append((time.perf_counter() - t) * 1000)
            extr_cpu.append((time.process_time() - c) * 1000)
            shown = ans.quotes + ans.closest + ([ans.short] if ans.short else [])
            docs = a.store.get_documents(x.doc_id for x in shown)
            verbatim += all(docs[x.doc_id].text[x.start:x.end] == x.text for x in shown)
            short += ans.short is not None
    res.update(retrieval_p50_ms=pct(retr, 50), retrieval_p95_ms=pct(retr, 95),
               extractive_p50_ms=pct(extr, 50), extractive_p95_ms=pct(extr, 95),
               retrieval_cpu_p50_ms=pct(retr_cpu, 50), extractive_cpu_p50_ms=pct(extr_cpu, 50),
               load_avg=os.getloadavg()[0], n_queries=len(retr), verbatim_ok=f"{verbatim}/{len(extr)}", first_answer=first.text[:80])
    reader = a.answerer._reader  # loaded by ask() only if the answer path ran the trained reader
    res.update(reader=str(reader.path) if reader is not None else "NOT USED",
               reader_bf16=getattr(reader, "bf16", None), reader_bf16_reason=getattr(reader, "bf16_reason", None),
               short_answers=f"{short}/{len(extr)}", stages=stage_breakdown(a, qs))
    if "llm" in inspect.signature(a.ask).parameters and not args.no_llm:
        llm = []
        try:
            a.ask(qs[0], llm="local")
            for q in qs[: args.llm_queries]:
                t = time.perf_counter()
                a.ask(q, llm="local")
                llm.append((time.perf_counter() - t) * 1000)
            res.update(llm_p50_ms=pct(llm, 50), llm_p95_ms=pct(llm, 95), llm_n=len(llm))
        except Exception as e:  # report, do not hide
            res["llm"] = f"failed: {type(e).__name__}: {e}"[:200]
    else:
        res["llm"] = "skipped" if args.no_llm else "missing: Assistant.ask has no llm= parameter"
    if args.profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for q in qs:
            a.ask(q)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(60)
        (Path(args.work) / f"profile-ask-{args.size}.txt").write_text(buf.getvalue())
    res["serve_peak_rss_mb"] = peak_rss_mb()
    return res


STAGES = ("question embedding", "dense search", "retrieval (dense + BM25 + fusion)", "sentence scoring",
          "reader", "ask() total")


def stage_breakdown(a, qs: list[str]) -> dict:
    """Where one extractive answer's time goes: p50 wall and CPU ms per stage over the
    questions, timed by wrapping the parts ask() calls (one extra pass, after the timed ones)."""
    from rag.answering import pipeline

    acc: dict[str, list] = {}

    def wrap(obj, attr, name, when=lambda *a, **k: True):
        inner = getattr(obj, attr)

        def timed(*args, **kw):
            if not when(*args, **kw):
                return inner(*args, **kw)
            t, c = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kw)
            finally:
                acc[name][-1][0] += (time.perf_counter() - t) * 1000
                acc[name][-1][1] += (time.process_time() - c) * 1000
        setattr(obj, attr, timed)
        return lambda: setattr(obj, attr, inner) if obj is pipeline else delattr(obj, attr)

    scoring = [0]  # > 0 inside sentence scoring, whose one-sentence calls are not the question's

    def question_call(texts, *_a, **_k):
        return len(texts) == 1 and not scoring[0]

    def counted(inner):
        def f(*args, **kw):
            scoring[0] += 1
            try:
                return inner(*args, **kw)
            finally:
                scoring[0] -= 1
        return f

    inner_scoring = pipeline.score_spans_lazily
    pipeline.score_spans_lazily = counted(inner_scoring)
    undo = [lambda: setattr(pipeline, "score_spans_lazily", inner_scoring),
            wrap(a.embedder, "embed", "question embedding", question_call),
            wrap(a.store, "dense_query", "dense search"),
            wrap(a.retriever, "retrieve", "retrieval (dense + BM25 + fusion)"),
            wrap(pipeline, "score_spans_lazily", "sentence scoring"),
            wrap(a.answerer.reader, "read_scored", "reader")]
    try:
        for q in qs:
            for name in STAGES:
                acc.setdefault(name, []).append([0.0, 0.0])
            a.answerer.embedder.clear()
            t, c = time.perf_counter(), time.process_time()
            a.ask(q)
            acc["ask() total"][-1] = [(time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000]
    finally:
        for u in reversed(undo):
            u()
    return {name: {"wall_p50_ms": pct([w for w, _ in v], 50), "cpu_p50_ms": pct([c for _, c in v], 50)}
            for name, v in acc.items()}


# -- UI cold start ------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ui_cold_start(index: Path, timeout: float = 180.0) -> dict:
    import urllib.request

    ui = ROOT / "ui.py"
    if not ui.exists():
        return {"ui": "missing: no ui.py"}
    port = free_port()
    env = dict(os.environ, RAG_INDEX_DIR=str(index), RAG_UI__PORT=str(port), RAG_UI__HOST="127.0.0.1",
               GRADIO_ANALYTICS_ENABLED="False")
    gen_files = set((index / "sparse").glob("*")) if (index / "sparse").is_dir() else set()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ui)], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    out: dict = {}
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                out["ui"] = f"exited {proc.returncode}: {proc.stderr.read().decode()[-300:]}"
                return out
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        out["ui_ready_s"] = time.perf_counter() - t0
                        break
            except Exception:
                time.sleep(0.1)
        else:
            out["ui"] = f"not ready after {timeout:.0f}s"
        try:
            hwm = [ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if ln.startswith("VmHWM")]
            out["ui_peak_rss_mb"] = int(hwm[0].split()[1]) / 1024 if hwm else None
        except OSError:
            pass
        now = set((index / "sparse").glob("*")) if (index / "sparse").is_dir() else set()
        out["ui_rebuilt_sparse"] = now != gen_files
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


# -- report -------------------------------------------------------------------
def fmt(v, spec=".0f") -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, str):
        return v
    return format(v, spec)


def machine_lines(extra: dict) -> list[str]:
    m, k = extra.get("machine", {}), extra.get("kernel", {})
    libs = ", ".join(f"{n} {v}" for n, v in (m.get("libraries") or {}).items() if v)
    load = "; ".join(f"load average {when} {', '.join(f'{x:.1f}' for x in m[key])}"
                     for when, key in (("at start", "load_avg_at_start"), ("at end", "load_avg_at_end"))
                     if m.get(key))
    return [f"Machine: {m.get('cpu', '?')}; {libs}; {m.get('platform', '')} "
            f"(key {m.get('machine_key', '?')}); {load}.",
            f"Embedding kernel: {k.get('summary', '?')}.", ""]


def table(results: list[dict], extra: dict) -> str:
    lines = machine_lines(extra) + ["| chunks | articles | KB | vectors | ingest KB/s | ingest chunks/s | embedding share | model alone KB/s "
             "| ingest / model (wall) | ingest / model (CPU) | retrieval p50/p95 ms | extractive p50/p95 ms "
             "| CPU ms per query: retrieval / extractive (p50) | LLM p50/p95 ms | peak RSS build / serve MB |",
             "|" + "---|" * 15]
    for r in results:
        real = "ceiling_s" in r
        llm = (f"{fmt(r.get('llm_p50_ms'))} / {fmt(r.get('llm_p95_ms'))}" if "llm_p50_ms" in r
               else r.get("llm", "–").split(":")[0])
        lines.append(
            f"| {r.get('chunks', r['size']):,} | {r.get('articles', '–')} | {fmt(r.get('kb'))} "
            f"| {'model' if real else 'reused'} | {fmt(r.get('ingest_kb_per_s'), '.1f')} "
            f"| {fmt(r.get('ingest_chunks_per_s'), '.1f')} | {fmt(r.get('embed_share'), '.0%')} "
            f"| {fmt(r.get('ceiling_kb_per_s'), '.1f') if real else '–'} "
            f"| {fmt(r.get('ingest_vs_ceiling'), '.0%') if real else '–'} "
            f"| {fmt(r.get('ingest_vs_ceiling_cpu'), '.0%') if real else '–'} "
            f"| {fmt(r.get('retrieval_p50_ms'))} / {fmt(r.get('retrieval_p95_ms'))} "
            f"| {fmt(r.get('extractive_p50_ms'))} / {fmt(r.get('extractive_p95_ms'))} "
            f"| {fmt(r.get('retrieval_cpu_p50_ms'))} / {fmt(r.get('extractive_cpu_p50_ms'))} | {llm} "
            f"| {fmt(r.get('build_peak_rss_mb'))} / {fmt(r.get('serve_peak_rss_mb'))} |")
    ui = extra.get("ui_cold_start", {})
    lines.append("")
    if "ui_ready_s" in ui:
        lines.append(f"UI cold start to HTTP 200 with the {ui.get('index_chunks', '?'):,}-chunk index: "
                     f"{ui['ui_ready_s']:.1f} s (peak RSS {fmt(ui.get('ui_peak_rss_mb'))} MB, "
                     f"BM25 rebuilt on start: {ui.get('ui_rebuilt_sparse')}).")
    else:
        lines.append(f"UI cold start: {ui.get('ui', 'not measured')}.")
    for r in results:
        if "reuse_stats" in r:
            lines.append(f"{r['size']:,} chunks: vectors {r['vectors']}; per chunk: {r['reuse_stats']}.")
        if "ceiling_sample" in r:
            lines.append(f"{r['size']:,} chunks: model alone ({r.get('kernel', '?')} kernel) measured on "
                         f"{r['ceiling_sample']} in the same run.")
        if "kernel_vs_st_fp32" in r:
            lines.append(f"{r['size']:,} chunks: {r.get('kernel')} vs plain sentence-transformers fp32 on "
                         f"{r['baseline_sample']} of the chunks: {r['kernel_sample_kb_per_s']:.1f} vs "
                         f"{r['st_fp32_kb_per_s']:.1f} KB/s = {r['kernel_vs_st_fp32']:.2f}x wall, "
                         f"{r['kernel_vs_st_fp32_cpu']:.2f}x CPU; cosine to fp32 min "
                         f"{r['cos_to_fp32_min']:.6f}, mean {r['cos_to_fp32_mean']:.6f}.")
        if "reader" in r:
            st = r.get("stages", {})
            parts = "; ".join(f"{k} {v['wall_p50_ms']:.0f} ({v['cpu_p50_ms']:.0f} CPU)" for k, v in st.items())
            lines.append(f"{r['size']:,} chunks: extractive answer read by the trained reader {r['reader']} "
                         f"(bf16 autocast: {r.get('reader_bf16')}); short answers {r.get('short_answers')}; "
                         f"p50 ms per stage, wall (CPU): {parts}.")
        if "open_and_first_answer_s" in r:
            lines.append(f"{r['size']:,} chunks: process start to first answer {r['open_and_first_answer_s']:.1f} s; "
                         f"quotes verbatim {r.get('verbatim_ok')}; load average during queries "
                         f"{fmt(r.get('load_avg'), '.1f')}.")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    xs = [r.get("chunks", r["size"]) for r in results]
    for key, label in (("retrieval", "retrieval"), ("extractive", "extractive answer"), ("llm", "LLM answer")):
        p50 = [r.get(f"{key}_p50_ms") for r in results]
        if any(v is not None for v in p50):
            pts = [(x, v, r.get(f"{key}_p95_ms")) for x, v, r in zip(xs, p50, results) if v is not None]
            ax[0].plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{label} p50")
            ax[0].plot([p[0] for p in pts], [p[2] for p in pts], "x--", label=f"{label} p95")
    ax[0].axhline(30, color="grey", lw=0.6, ls=":")
    ax[0].axhline(150, color="grey", lw=0.6, ls=":")
    ax[0].axhline(250, color="grey", lw=0.6, ls="--")  # extractive with the trained reader
    ax[0].set(xscale="log", yscale="log", xlabel="chunks", ylabel="ms", title="query latency (warm)")
    ax[0].legend(fontsize=7)
    real = [r for r in results if "ceiling_kb_per_s" in r]
    if real:
        lab = [f"{r['chunks']:,}" for r in real]
        w = 0.38
        ax[1].bar([i - w / 2 for i in range(len(real))], [r["ceiling_kb_per_s"] for r in real], w, label="model alone")
        ax[1].bar([i + w / 2 for i in range(len(real))], [r["ingest_kb_per_s"] for r in real], w, label="ingest")
        ax[1].set_xticks(range(len(real)), lab)
        ax[1].set(ylabel="KB of article text / s", title="ingest vs embedding ceiling")
        ax[1].legend(fontsize=8)
    ax[2].plot(xs, [r.get("build_peak_rss_mb") for r in results], "o-", label="build (ingest)")
    ax[2].plot(xs, [r.get("serve_peak_rss_mb") for r in results], "o-", label="serve (questions)")
    ax[2].axhline(2048, color="grey", lw=0.6, ls=":")
    ax[2].set(xscale="log", xlabel="chunks", ylabel="MB", title="peak RSS")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_worker(role: str, size: int, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", role, "--size", str(size),
           "--work", str(args.work), "--embed-max", str(args.embed_max),
           "--ceiling-sample", str(args.ceiling_sample), "--queries", str(args.queries),
           "--reps", str(args.reps), "--llm-queries", str(args.llm_queries),
           "--baseline-sample", str(args.baseline_sample)]
    cmd += ["--no-llm"] if args.no_llm else []
    cmd += ["--profile"] if args.profile else []
    out = Path(args.work) / f"{role}-{size}.json"
    if args.resume and out.exists():
        kept = json.loads(out.read_text())
        if kept.get("machine_key") == args.machine_key:
            print(f"  {role} {size}: kept from {out}", file=sys.stderr)
            return kept
        print(f"  {role} {size}: {out} was measured on another machine or library set: run again",
              file=sys.stderr)
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    p = subprocess.run(cmd + ["--result", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0 or not out.exists():
        err = p.stderr.decode(errors="replace")[-800:]
        print(f"  {role} {size}: FAILED ({p.returncode})\n{err}", file=sys.stderr)
        return {"size": size, f"{role}_error": err[-300:]}
    r = json.loads(out.read_text())
    print(f"  {role} {size}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return r


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="rag bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=None, help="chunk counts, comma-separated (default 1000,10000,100000)")
    p.add_argument("--quick", action="store_true", help="300 and 1000 chunks, 8 questions once each")
    p.add_argument("--out", default=str(ROOT / "eval" / "bench-results"), help="folder for bench.json, bench.png, bench.md")
    p.add_argument("--work", default="/tmp/rag-bench", help="folder for generated corpora and indexes")
    p.add_argument("--embed-max", type=int, default=10000, help="largest size embedded by the model; above it vectors are reused")
    p.add_argument("--ceiling-sample", type=int, default=3000,
                   help="chunks embedded to measure the model alone (an even sample when the corpus is larger)")
    p.add_argument("--baseline-sample", type=int, default=300,
                   help="chunks embedded by plain sentence-transformers fp32 to compare the kernel with (0: skip)")
    p.add_argument("--queries", type=int, default=16)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--llm-queries", type=int, default=5)
    p.add_argument("--no-llm", action="store_true")
    p.add_argument("--no-ui", action="store_true")
    p.add_argument("--profile", action="store_true", help="write a pyinstrument profile of ask() per size")
    p.add_argument("--resume", action="store_true",
                   help="keep results already in --work (build-N.json, serve-N.json); run only the missing ones")
    p.add_argument("--worker", choices=["build", "serve"], help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        res = (worker_build if args.worker == "build" else worker_serve)(args)
        Path(args.result).write_text(json.dumps(res, default=str))
        return 0
    if args.quick:
        args.queries, args.reps, args.llm_queries = 8, 1, 2
    sizes = [int(s) for s in (args.sizes or ("300,1000" if args.quick else "1000,10000,100000")).split(",")]
    from rag.kernels import chosen_kernel

    machine = {**machine_info(), "load_avg_at_start": os.getloadavg()}
    args.machine_key = machine["machine_key"]
    choice = chosen_kernel()  # measured once per machine (before the workers, which then reuse it)
    kernel = {**choice.to_dict(), "summary": choice.summary()}
    print("\n".join(machine_lines({"machine": machine, "kernel": kernel})), file=sys.stderr)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sorted(sizes):
        print(f"size {size:,} chunks", file=sys.stderr)
        r = run_worker("build", size, args)
        r.update(run_worker("serve", size, args))
        results.append(r)
    extra = {"machine": {**machine, "load_avg_at_end": os.getloadavg()}, "kernel": kernel}
    if not args.no_ui:
        real = [r for r in results if "ceiling_s" in r] or results
        biggest = real[-1]
        ui = ui_cold_start(Path(args.work) / f"index-{biggest['size']}")
        ui["index_chunks"] = biggest.get("chunks", biggest["size"])
        extra["ui_cold_start"] = ui
    text = table(results, extra)
    print(text)
    (out / "bench.json").write_text(json.dumps({"results": results, **extra}, indent=1, default=str))
    (out / "bench.md").write_text(text + "\n")
    plot(results, out / "bench.png")
    print(f"\nwrote {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
