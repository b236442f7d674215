"""The embedding kernel: chosen per machine, vectors kept, the choice cached and shown.

Speed is not asserted here (that is `rag bench`'s job); these tests check what a user
relies on: the chosen kernel gives the index's vectors, a forced setting wins, the
measurement runs once per machine and is recorded, int8 is another model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, hardware, kernels
from rag.embeddings import SentenceTransformerEmbedder, TorchBf16Embedder, get_embedder
from rag.errors import IndexMismatchError
from rag.settings import EmbeddingSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
MODEL = "all-MiniLM-L6-v2"


def settings_with(provider: str, cache: Path) -> Settings:
    return Settings(embedding=EmbeddingSettings(provider=provider, kernel_cache=cache))


@pytest.fixture(scope="session")
def kernel_cache(tmp_path_factory) -> Path:
    """A private cache in which `auto` measured this machine once (a real run)."""
    cache = tmp_path_factory.mktemp("kernels") / "kernels.json"
    kernels.choose("auto", MODEL, 64, cache)
    return cache


@pytest.fixture(scope="session")
def texts() -> list[str]:
    chunks, queries = kernels.calibration_texts()
    return chunks + queries + ["Who won?", "Thủ tướng Phạm Minh Chính kêu gọi ngoại giao đa phương."]


@pytest.fixture(scope="session")
def fp32(texts) -> np.ndarray:
    return SentenceTransformerEmbedder(MODEL).embed(texts)


def test_auto_kernel_keeps_the_fp32_vectors(kernel_cache, texts, fp32):
    emb = get_embedder("auto", MODEL, kernel_cache=kernel_cache)
    entry = kernels.cached_entry(MODEL, 64, kernel_cache)
    assert (emb.bulk.kernel, emb.small.kernel) == (entry["chosen"], entry["query"])
    assert {emb.bulk.kernel, emb.small.kernel} <= set(kernels.EXACT)
    # both paths: bulk (ingest) and small calls (a question, an answer's sentences)
    many = (texts * (kernels.SMALL_CALL // len(texts) + 1))[:kernels.SMALL_CALL + 1]
    for vecs, ref in ((emb.embed(many)[:len(texts)], fp32), (emb.embed(texts[:5]), fp32[:5])):
        cos = (vecs * ref).sum(1)
        assert cos.min() >= kernels.MIN_COSINE, (emb.kernel, cos.min())


def test_onnx_cuts_batches_by_length_and_keeps_the_vectors(texts, fp32):
    """An answer's sentences (short and long mixed) are not all padded to the longest one,
    and the vectors are those of fp32, whichever batch a text lands in."""
    from rag.embeddings_onnx import OnnxEmbedder, plan_batches

    assert sorted(map(sorted, plan_batches([12] * 8 + [150], 64))) == [list(range(8)), [8]]
    lengths = [len(t.split()) * 2 for t in texts]
    batches = plan_batches(lengths, 4)
    assert sorted(i for b in batches for i in b) == list(range(len(texts))) and max(map(len, batches)) <= 4
    emb = OnnxEmbedder(MODEL)
    mixed = emb.embed(texts)
    assert (mixed * fp32).sum(1).min() >= kernels.MIN_COSINE
    alone = np.vstack([emb.embed([t]) for t in texts])
    assert (mixed * alone).sum(1).min() >= 0.99999
    # its thread pool sleeps between runs: spinning, it took the cores from the span reader
    # that runs right after it on the answer path (README, "Where the time went")
    opts = emb.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_bf16_autocast_holds_the_cosine_on_this_cpu(texts, fp32):
    """The claim that makes torch-bf16 share an index with fp32, checked on this CPU
    (with bf16 hardware here; elsewhere emulated, and the same numbers)."""
    vecs = TorchBf16Embedder(MODEL).embed(texts)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    cos = (vecs * fp32).sum(1)
    assert cos.min() >= kernels.MIN_COSINE, cos.min()
    # and it really is a different computation, not fp32 under another name
    assert cos.min() < 0.999999


def test_choice_is_measured_once_per_machine_and_recorded(kernel_cache, monkeypatch):
    entry = kernels.cached_entry(MODEL, 64, kernel_cache)
    m = entry["machine"]
    assert m["model"] == hardware.cpu_info()["model"] and m["flags"] == hardware.cpu_info()["flags"]
    assert m["libraries"]["torch"] and m["libraries"]["onnxruntime"]
    assert set(entry["candidates"]) == set(kernels.candidates())
    assert ("torch-bf16" in entry["candidates"]) == hardware.bf16_fast()
    measured = entry["measured"]
    assert set(measured) >= set(entry["candidates"])
    for k in (entry["chosen"], entry["query"]):
        assert measured[k]["cos_min"] >= kernels.MIN_COSINE
    # the fastest of those that hold the cosine: per CPU second for bulk, per question for answers
    ok = [k for k in entry["candidates"] if measured[k]["cos_min"] >= kernels.MIN_COSINE]
    assert measured[entry["chosen"]]["cpu_chunks_per_s"] == max(measured[k]["cpu_chunks_per_s"] for k in ok)
    best = min(ok, key=lambda k: measured[k]["answer_ms"])
    # onnxruntime keeps the answer path unless another kernel needs under 1/QUERY_MARGIN of its time
    if measured[best]["answer_ms"] * kernels.QUERY_MARGIN > measured["onnx"]["answer_ms"]:
        best = "onnx"
    assert entry["query"] == best

    # another process on this machine reads the choice instead of measuring again
    before = kernel_cache.stat().st_mtime_ns
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_EMBEDDING__KERNEL_CACHE=str(kernel_cache))
    r = subprocess.run([sys.executable, "-c", "from rag.hardware import chosen_kernel as c; "
                        "k = c(); print(k.name, k.bf16)"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [entry["chosen"], str(entry["chosen"] == "torch-bf16")]
    assert "measuring" not in r.stderr and kernel_cache.stat().st_mtime_ns == before

    # another CPU, or other library versions, is another machine: no stored choice
    info = dict(hardware.cpu_info())
    monkeypatch.setattr(hardware, "cpu_info", lambda: {**info, "model": info["model"] + " (another CPU)"})
    assert kernels.cached_entry(MODEL, 64, kernel_cache) is None
    # one flag more or less (whatever this machine has: the suite runs on AVX2-only and AMX CPUs)
    monkeypatch.setattr(hardware, "cpu_info", lambda: {**info, "flags": sorted(set(info["flags"]) ^ {"avx512f"})})
    assert kernels.cached_entry(MODEL, 64, kernel_cache) is None
    monkeypatch.setattr(hardware, "cpu_info", lambda: {**info, "flags": ["avx2", "fma"]})
    assert kernels.candidates() == ["onnx", "sentence-transformers"]  # AVX2 only: no emulated bf16
    monkeypatch.setattr(hardware, "cpu_info", lambda: info)
    assert kernels.cached_entry(MODEL, 64, kernel_cache) is not None
    libs = dict(hardware.library_versions())
    monkeypatch.setattr(hardware, "library_versions", lambda: {**libs, "torch": "0.0.1"})
    assert kernels.cached_entry(MODEL, 64, kernel_cache) is None


@pytest.mark.parametrize("forced", ["sentence-transformers", "torch-bf16"])
def test_a_forced_kernel_is_honoured_without_measuring(tmp_path, forced):
    cache = tmp_path / "never-written.json"
    s = settings_with(forced, cache)
    a = Assistant(index_dir=tmp_path / "idx", settings=s, bootstrap=False)
    assert a.embedder.kernel == forced
    choice = hardware.chosen_kernel(s)
    assert choice.name == forced and "forced" in choice.reason
    assert choice.bf16 == (forced == "torch-bf16")  # what the span reader follows
    assert not cache.exists()  # nothing was measured


def test_int8_is_another_model_in_the_index(tmp_path, kernel_cache, articles_copy):
    exact = tmp_path / "exact"
    a = Assistant(index_dir=exact, settings=settings_with("auto", kernel_cache), bootstrap=False)
    a.ingest([articles_copy])
    # every exact kernel opens the index built by auto, and answers from it
    for k in kernels.EXACT:
        b = Assistant(index_dir=exact, settings=settings_with(k, kernel_cache), bootstrap=False)
        assert b.ask("How many berths?").text  # opens and answers
    # int8 does not: it would mix vectors of two models
    with pytest.raises(IndexMismatchError, match="onnx-int8"):
        Assistant(index_dir=exact, settings=settings_with("onnx-int8", kernel_cache), bootstrap=False)
    q8 = tmp_path / "int8"
    Assistant(index_dir=q8, settings=settings_with("onnx-int8", kernel_cache), bootstrap=False).ingest([articles_copy])
    with pytest.raises(IndexMismatchError, match="re-ingest"):
        Assistant(index_dir=q8, settings=settings_with("auto", kernel_cache), bootstrap=False)


def test_doctor_shows_the_machine_and_kernel_and_checks_the_vectors(tmp_path, kernel_cache, articles_copy,
                                                                    capsys, monkeypatch):
    from rag.cli import main
    from rag.doctor import check

    idx = tmp_path / "idx"
    a = Assistant(index_dir=idx, settings=settings_with("auto", kernel_cache), bootstrap=False)
    a.ingest([articles_copy])
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_EMBEDDING__KERNEL_CACHE=str(kernel_cache))
    r = subprocess.run([sys.executable, "-m", "rag", "doctor", "--index", str(idx)],
                       capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    entry = kernels.cached_entry(MODEL, 64, kernel_cache)
    chosen = entry["chosen"]
    assert hardware.cpu_info()["model"] in r.stdout
    assert all(f in r.stdout for f in hardware.cpu_info()["flags"])
    assert "embedding kernel: " + chosen in r.stdout and "(auto: measured on this machine" in r.stdout
    # the span reader follows the kernel: bf16 autocast with torch-bf16, fp32 elsewhere
    assert f"span reader: {'bf16 autocast' if chosen == 'torch-bf16' else 'fp32'}: follows the embedding kernel" in r.stdout
    for k in {chosen, entry["query"]}:
        assert f"embedding kernel {k} reproduces the stored vectors" in r.stdout
    # --json in this process (a second `rag doctor` process would only load the models again)
    monkeypatch.setenv("RAG_EMBEDDING__KERNEL_CACHE", str(kernel_cache))
    capsys.readouterr()
    assert main(["doctor", "--json", "--index", str(idx)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["kernel"]["name"] == chosen
    assert report["reader_compute"] == ("bf16" if chosen == "torch-bf16" else "fp32")
    assert report["machine"]["flags"] == hardware.cpu_info()["flags"]

    # a kernel that does not reproduce the index's vectors (int8 forced onto it) is a problem
    a._embedder = get_embedder("onnx-int8", MODEL)
    rep = check(a)
    assert [p.kind for p in rep.problems] == ["kernel"], rep.render()
    assert "RAG_EMBEDDING__PROVIDER" in rep.problems[0].detail


def test_an_unwritable_kernel_cache_says_how_to_fix_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    choice = kernels.choose("auto", MODEL, 64, blocker / "kernels.json")
    assert choice.name == kernels.capability_rule() and choice.name in kernels.EXACT
    assert "RAG_EMBEDDING__KERNEL_CACHE" in choice.reason and str(blocker) in choice.reason


def test_a_failed_measurement_is_kept_for_an_hour_then_measured_again(tmp_path, monkeypatch):
    """A measurement that failed (here for real: a model that does not exist, so the
    micro-benchmark process exits with an error) falls back on the capability rule and says
    so; other processes reuse that for RETRY_FAILED_S instead of each measuring again, and
    after it the next process measures again by itself (it used to stay until
    `rag doctor --recalibrate`)."""
    cache = tmp_path / "kernels.json"
    model = str(tmp_path / "no-such-model")
    monkeypatch.setattr(kernels, "_memo", {})
    first = kernels.choose("auto", model, 64, cache)
    assert first.name == kernels.capability_rule() and "micro-benchmark failed" in first.reason
    assert "rag doctor --recalibrate" in first.reason
    assert "no-such-model' does not exist" in first.reason  # said before loading torch (~1 s, was ~13 s)
    entry = kernels.cached_entry(model, 64, cache)
    assert entry["measured"] == {} and entry["failed_at"] > 0

    calls = []
    real = kernels._calibrate_in_subprocess
    monkeypatch.setattr(kernels, "_calibrate_in_subprocess", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setattr(kernels, "_memo", {})  # as a new process
    kernels.choose("auto", model, 64, cache)
    assert calls == []  # within the hour: the stored fallback, no new measurement

    data = json.loads(cache.read_text())
    for e in data.values():
        e["failed_at"] -= kernels.RETRY_FAILED_S + 60  # the failure is older than the retry period
    cache.write_text(json.dumps(data))
    monkeypatch.setattr(kernels, "_memo", {})
    again = kernels.choose("auto", model, 64, cache)
    assert len(calls) == 1 and "micro-benchmark failed" in again.reason  # measured again (and failed again)
    assert kernels.cached_entry(model, 64, cache)["failed_at"] > data[next(iter(data))]["failed_at"]
