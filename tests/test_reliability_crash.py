"""Crash mid-ingest: SIGKILL an ingesting process at random points, again and again.

Afterwards the index opens; every document reported complete before a kill is
fully there (text intact, all its chunks, found by a question about its unique
content); a document whose ingest was cut is absent or complete, never half
there; the BM25 snapshot agrees with the store; `rag doctor` finds nothing
that `--repair` cannot fix.

To keep it fast, a "zygote" process imports everything and loads the embedding
model once, then forks one ingesting child per run; the children are killed.
Run as a script, this file is that zygote.
"""
from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import filler_prose

N_DOCS = 20
N_KILLS = 12
SEED = 20251110
PLACES = ["Quellmere", "Dravik", "Ostbrun", "Velmora", "Kastelin", "Tirrow", "Almsby", "Corvant",
          "Peltrane", "Yssel", "Brackwater", "Nimhold", "Sorvenne", "Haldrup", "Ekhart", "Marrowby",
          "Ulvstad", "Fennick", "Graymoor", "Zentha"]


def article(i: int) -> tuple[str, str]:
    """(file name, text): each article has a unique place, project and figure."""
    place = PLACES[i]
    figure = f"{(i + 1) * 173 + 4000:,}"
    title = f"{place} opens the {place} Tidewall"
    body = (f"{title}\n\nThe {place} Tidewall cost {figure} million dong, the {place} council said on Monday. "
            + filler_prose(i, 4 * (2 + i % 4))
            + f"\n\nThe {place} Tidewall protects {i + 11} villages along the coast. " + filler_prose(1000 + i, 4))
    return f"crash-2025-01-{i + 1:02d}-{place.lower()}-tidewall.txt", body


# -- the zygote (this file run as a script) -----------------------------------------
def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def child_run(index_dir: str, folder: str) -> None:
    """In a forked child: check what the last kill left, then ingest file by file."""
    from rag import Assistant

    a = Assistant(index_dir=index_dir, bootstrap=False)
    _say("check " + json.dumps(structure(a)))
    for f in sorted(Path(folder).iterdir()):
        report = a.ingest([f])  # also rebuilds + persists the BM25 snapshot
        for d in report.added + report.updated:
            _say(f"done {d} {a.store.document_records()[d]['n_chunks']}")
        for e in report.refused:
            _say(f"refused {e.source} {e.reason}")
    _say("finished")


def structure(a) -> dict:
    """What the index looks like right after opening it (no repair)."""
    from rag.store import chunk_id

    recs = a.store.document_records()
    by_doc: dict[str, list] = {}
    for c in a.store.all_chunks():
        by_doc.setdefault(c.doc_id, []).append(c)
    docs = a.store.get_documents(recs)
    half = []
    for d, rec in recs.items():
        cs = by_doc.get(d, [])
        cs = [c for c in cs if c.version == rec.get("version", "")]  # other versions: invisible leftovers
        ids = {c.chunk_id for c in cs}
        if ids != {chunk_id(d, rec.get("version", ""), i) for i in range(rec["n_chunks"])} or any(
                docs[d].text[c.start:c.end] != c.text for c in cs):
            half.append(d)
    sparse = a.sparse.get()
    visible = {c.chunk_id for d in recs for c in by_doc.get(d, []) if c.version == recs[d].get("version", "")}
    return {"docs": sorted(recs), "half": half, "orphan_docs": sorted(set(by_doc) - set(recs)),
            "sparse_ok": {r.chunk_id for r in sparse.records} == visible,
            "n_chunks": {d: r["n_chunks"] for d, r in recs.items()}}


def final_check(index_dir: str, folder: str) -> dict:
    """Everything the test asserts, from a fresh process."""
    from rag import Assistant
    from rag.doctor import check

    a = Assistant(index_dir=index_dir, bootstrap=False)
    out = structure(a)
    texts = {p.name: p.read_text(encoding="utf-8") for p in Path(folder).iterdir()}
    out["text_ok"] = {}
    out["found"] = {}
    for d in out["docs"]:
        doc = a.document(d)
        out["text_ok"][d] = doc.text == texts.get(Path(doc.source).name)
        place = d.split("-")[4].capitalize()
        q = f"How much did the {place} Tidewall cost?"
        hits = a.retriever.retrieve(q, a.embedder.embed([q])[0])
        out["found"][d] = bool(hits) and hits[0].record.doc_id == d
    out["doctor"] = [str(p) for p in check(a).problems]
    return out


def zygote(folder: str) -> None:
    import torch

    torch.set_num_threads(1)
    from rag import Assistant  # noqa: F401  (import everything once)
    from rag.embeddings import get_embedder
    from rag.settings import Settings

    e = Settings().embedding
    get_embedder(e.provider, e.model, e.device, e.batch_size)  # load, but run nothing before fork
    from chroma_helpers import preload_write_side

    preload_write_side()

    _say("ready")
    for cmd in sys.stdin:
        cmd, _, index_dir = cmd.strip().partition(" ")
        if cmd == "quit":
            break
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                if cmd == "run":
                    child_run(index_dir, folder)
                else:
                    _say("final " + json.dumps(final_check(index_dir, folder)))
            except BaseException as exc:  # report, never hang the test
                _say(f"error {type(exc).__name__}: {exc}")
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        _say(f"child {pid}")
        _, status = os.waitpid(pid, 0)
        _say(f"reaped {pid} {status}")


# -- the test -------------------------------------------------------------------------
class Lines:
    def __init__(self, proc: subprocess.Popen):
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def next(self, timeout: float) -> str:
        line = self.q.get(timeout=timeout)
        if line is None:
            raise EOFError("zygote exited")
        return line

    def until(self, prefix: str, timeout: float, seen: list) -> str:
        end = time.monotonic() + timeout
        while True:
            line = self.next(max(0.01, end - time.monotonic()))
            seen.append(line)
            if line.startswith(prefix):
                return line


def _collect(seen: list, completed: dict) -> None:
    for s in seen:
        if s.startswith("done "):
            _, d, n = s.split()
            completed[d] = int(n)


@pytest.mark.timeout(300)
def test_sigkill_mid_ingest(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(N_DOCS):
        name, text = article(i)
        (folder / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, __file__, "zygote", str(folder)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    lines = Lines(proc)
    rnd = random.Random(SEED)
    indexes = [tmp_path / "idx0"]
    completed: dict[Path, dict[str, int]] = {indexes[0]: {}}  # doc_id -> n_chunks, reported
    kills, checks, seen = 0, [], []

    def send(cmd: str) -> None:
        proc.stdin.write(cmd + "\n")
        proc.stdin.flush()

    try:
        lines.until("ready", 120, seen)
        for run in range(N_KILLS + 10):
            if kills >= N_KILLS:
                break
            idx = indexes[-1]
            seen = []
            send(f"run {idx}")
            pid = int(lines.until("child", 30, seen).split()[1])
            checks.append(json.loads(lines.until("check", 60, seen)[6:]))
            # kill after a random number of completed documents plus a random delay
            target, delay = rnd.randint(0, 1), rnd.uniform(0.0, 0.8)
            done_now, finished = 0, False
            while done_now < target and not finished:
                line = lines.until("", 60, seen)
                done_now += line.startswith("done ")
                finished = line.startswith(("finished", "error", "reaped"))
            t_end = time.monotonic() + delay
            while not finished and time.monotonic() < t_end:
                try:
                    line = lines.next(max(0.001, t_end - time.monotonic()))
                except queue.Empty:
                    break
                seen.append(line)
                finished = line.startswith(("finished", "error", "reaped"))
            if not finished:
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
            if not any(s.startswith("reaped") for s in seen):
                lines.until(f"reaped {pid}", 60, seen)
            assert not any(s.startswith(("error", "refused")) for s in seen), seen[-5:]
            _collect(seen, completed[idx])
            if any(s == "finished" for s in seen):  # all in: go on in a fresh index
                indexes.append(tmp_path / f"idx{len(indexes)}")
                completed[indexes[-1]] = {}
        assert kills >= N_KILLS, f"landed only {kills} kills"
        finals = {}
        for idx in indexes:
            send(f"final {idx}")
            finals[idx] = json.loads(lines.until("final", 120, seen)[6:])
        send("quit")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    for c in checks:  # the state each kill left behind, as the next process saw it on opening
        assert c["half"] == [], c
        assert c["sparse_ok"], c
    for idx in indexes:
        _assert_final(finals[idx], completed[idx])
    n_done = sum(len(c) for c in completed.values())
    print(f"\n[reliability] {kills} SIGKILLs survived over {len(checks)} runs; {n_done} documents reported "
          f"complete, all whole and retrievable; {sum(len(c['orphan_docs']) for c in checks)} "
          "half-written documents left invisible and swept")


def _assert_final(final: dict, completed: dict[str, int]) -> None:
    assert final["half"] == [], final
    assert final["sparse_ok"], final
    for d, n in completed.items():
        assert d in final["docs"], f"{d} was reported complete but is gone"
        assert final["n_chunks"][d] == n
        assert final["text_ok"][d], d
        assert final["found"][d], f"{d} not retrieved by a question about its content"
    assert all(final["text_ok"].values()) and all(final["found"].values()), final
    # orphans are invisible (checked by `found` and sparse_ok); doctor names them as repairable
    assert all(p.startswith("[orphan_chunks]") for p in final["doctor"]), final["doctor"]


if __name__ == "__main__":
    zygote(sys.argv[2])
