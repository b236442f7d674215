"""Crash-safe updates and removals: SIGKILL a re-ingest of changed files, and a
`rag remove`, at many moments, on the embedded store and on a `chroma run` server.

Each run gets a fresh index holding version A of two files (tide.txt, one
article; feed.jsonl, three), then version B is written over them (tide and
harbour change, ferry's line stays, quarry's line goes, mill's line comes) and
ingested (or a document is removed), and the process is killed:
- right after its n-th Chroma write, for every n (every step boundary), and
- at moments spread over the operation's duration (measured once per store).
A fresh process then checks what the kill left, as a reader would see it:
every document is in its old or its new version, whole (its record's text,
exactly its chunks of the version the record names, `document.text[start:end]`
for each) and found by a question about it, dense and BM25 side; `rag doctor`
is clean or `--repair` makes it clean; running the same ingest (or removal)
again completes, after which doctor finds nothing and no leftover chunk remains.

A "zygote" process imports everything and loads the embedding model once, then
forks one child per step. Run as a script, this file is that zygote.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chroma_helpers import ChromaServer

FILLER = ["Officials said the work had been planned for several years.",
          "Local residents attended the ceremony and asked about the timetable.",
          "The provincial committee approved the budget in spring after a long debate.",
          "Engineers from three companies took part in the project.",
          "Traffic on the coastal road was diverted for two weeks.",
          "The contractor said the materials were sourced from the region."]


def _body(lead: str, n: int) -> str:
    return " ".join([lead] + [FILLER[i % len(FILLER)] for i in range(n)])


# (text of version A, text of version B, question); None: not in that version
TIDE_A = "Quellmere Tidewall\n\n" + _body("The Quellmere Tidewall cost 4,173 million dong, the council said.", 30)
TIDE_B = ("Quellmere Tidewall\n\n" + _body("The Quellmere Tidewall cost 5,219 million dong after the redesign.", 30)
          + "\n\n" + _body("The Quellmere Tidewall protects 14 villages.", 14))
HARBOUR_A = _body("The Brackwater harbour expansion will add 14 berths by 2027.", 16)
HARBOUR_B = _body("The Brackwater harbour expansion will add 22 berths by 2028.", 22)
FERRY = _body("The Velmora ferry carries 912 passengers a day.", 6)
QUARRY = _body("The Ostbrun quarry closed after 61 years.", 6)
MILL = _body("The Kastelin mill employs 305 people.", 6)
DOCS = {  # doc_id: (A, B, question)
    "tide": (TIDE_A, TIDE_B, "How much did the Quellmere Tidewall cost?"),
    "harbour": (HARBOUR_A, HARBOUR_B, "How many berths will the Brackwater harbour add?"),
    "ferry": (FERRY, FERRY, "How many passengers does the Velmora ferry carry?"),
    "quarry": (QUARRY, None, "When did the Ostbrun quarry close?"),
    "mill": (None, MILL, "How many people does the Kastelin mill employ?"),
}


def write_version(folder: Path, v: int) -> list[Path]:
    """Version v (0 = A, 1 = B) of the two source files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tide.txt").write_text(DOCS["tide"][v], encoding="utf-8")
    lines = [json.dumps({"id": d, "title": d.capitalize(), "text": DOCS[d][v]})
             for d in ("harbour", "ferry", "quarry", "mill") if DOCS[d][v] is not None]
    (folder / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [folder / "tide.txt", folder / "feed.jsonl"]


# -- the zygote (this file run as a script) -----------------------------------------
def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _assistant(job: dict):
    from rag import Assistant
    from rag.settings import Settings

    s = Settings(index_dir=Path(job["base"]) / f"idx{job['run']}", collection=f"run{job['run']}",
                 chroma_url=job.get("url"), bootstrap_dir=None, chroma_retry_s=20)
    return Assistant(settings=s, bootstrap=False)


def _count_writes(kill_after):
    """Count this thread's Chroma writes once armed; SIGKILL right after the kill_after-th."""
    from chromadb.api.models.Collection import Collection

    state = {"n": 0, "armed": False}
    main = threading.main_thread()
    for name in ("add", "upsert", "update", "delete"):
        orig = getattr(Collection, name)

        def wrapped(self, *a, _orig=orig, **kw):
            out = _orig(self, *a, **kw)
            if state["armed"] and threading.current_thread() is main:
                state["n"] += 1
                if state["n"] == kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr(Collection, name, wrapped)
    return state


def child_op(job: dict) -> None:
    """Prepare version A, then do the operation (the part that gets killed)."""
    state = _count_writes(job.get("kill_after"))
    a = _assistant(job)
    src = Path(job["base"]) / f"src{job['run']}"
    files = write_version(src, 0)
    assert a.ingest(files).ok
    if job["op"] == "update":
        write_version(src, 1)
    state["armed"] = True
    _say("go")
    t0 = time.perf_counter()
    if job["op"] == "update":
        rep = a.ingest(files)
        assert rep.ok, rep.to_dict()
    else:
        assert a.remove(job["target"]) == "removed"
    _say(f"done {state['n']} {time.perf_counter() - t0:.4f}")


def whole(a, recs: dict, d: str) -> dict:
    """A reader's view of one document: its version's chunks, exact and findable."""
    from rag.store import chunk_id

    rec = recs[d]
    doc = a.document(d)
    version = rec.get("version", "")
    mine = [c for c in a.store.chunks_of([d]) if c.version == version]
    ok = ({c.chunk_id for c in mine} == {chunk_id(d, version, i) for i in range(rec["n_chunks"])}
          and all(doc.text[c.start:c.end] == c.text for c in mine) and rec["n_chars"] == len(doc.text))
    q = DOCS[d][2]
    hits = a.retriever.retrieve(q, a.embedder.embed([q])[0])
    sparse = a.sparse.get()
    return {"text": doc.text, "whole": ok,
            "found": bool(hits) and hits[0].record.doc_id == d
            and doc.text[hits[0].record.start:hits[0].record.end] == hits[0].record.text,
            "bm25": sparse.versions.get(d) == version
            and sum(r.doc_id == d for r in sparse.records) == rec["n_chunks"]}


def child_check(job: dict) -> None:
    from rag.doctor import check, repair

    a = _assistant(job)
    recs = a.store.document_records()
    seen = {d: whole(a, recs, d) for d in recs}
    first = check(a)
    out = {"seen": seen, "doctor": [str(p) for p in first.problems], "repaired": []}
    if not first.ok:
        fixed = repair(a)
        out["repaired"] = fixed.repaired
        out["after_repair"] = [str(p) for p in fixed.problems]
    # run the same operation again: it completes
    src = Path(job["base"]) / f"src{job['run']}"
    if job["op"] == "update":
        rep = a.ingest([src / "tide.txt", src / "feed.jsonl"])
        out["again"] = "ok" if rep.ok else rep.to_dict()
    else:
        try:
            out["again"] = a.remove(job["target"])
        except Exception as e:  # noqa: BLE001 - reported to the test
            out["again"] = f"{type(e).__name__}: {e}"
    recs = a.store.document_records()
    out["final"] = {d: whole(a, recs, d) for d in recs}
    out["final_doctor"] = [str(p) for p in check(a).problems]
    out["leftover_chunks"] = len(a.store.stale_chunk_ids())
    out["target_chunks"] = len(a.store.chunks_of([job["target"]])) if job.get("target") else 0
    _say("result " + json.dumps(out))


def zygote() -> None:
    from rag import Assistant  # noqa: F401  (import everything once)
    from rag.embeddings import get_embedder
    from rag.settings import Settings

    e = Settings().embedding
    emb = get_embedder(e.provider, e.model, e.device, e.batch_size)  # load, but run nothing before fork
    # `auto` loads its bulk kernel at the first bulk call; the doctor's kernel check (every
    # check step) embeds with it too, so every child loaded it (torch and the model: most of
    # a run's time). Loaded here once; each child still runs the check itself.
    getattr(emb, "bulk", emb)
    from chroma_helpers import preload_write_side

    preload_write_side()

    _say("ready")
    for line in sys.stdin:
        job = json.loads(line)
        if job.get("quit"):
            break
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                (child_check if job["step"] == "check" else child_op)(job)
            except BaseException as exc:  # report, never hang the test
                import traceback

                _say("error " + json.dumps(f"{type(exc).__name__}: {exc} {traceback.format_exc()[-1500:]}"))
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        _say(f"child {pid}")
        _, status = os.waitpid(pid, 0)
        _say(f"reaped {pid} {status}")


# -- the test -------------------------------------------------------------------------
class Zygote:
    def __init__(self, base: Path):
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "HF_HUB_OFFLINE": "1",
               "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.base = base
        self.proc = subprocess.Popen([sys.executable, __file__, "zygote"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.until("ready", 600)
        self.run = 0

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def next(self, timeout: float) -> str:
        line = self.q.get(timeout=timeout)
        if line is None:
            raise EOFError("zygote exited")
        if line.startswith("error "):
            raise AssertionError(json.loads(line[6:]))
        return line

    def until(self, prefix: str, timeout: float) -> str:
        end = time.monotonic() + timeout
        while True:
            line = self.next(max(0.01, end - time.monotonic()))
            if line.startswith(prefix):
                return line

    def send(self, **job) -> None:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()

    def operate(self, url, op: str, target=None, kill_after=None, kill_at=None) -> dict:
        """One run: fresh index with version A, then the operation; killed after its
        kill_after-th write, or kill_at seconds after it started, or not at all."""
        self.run += 1
        job = dict(base=str(self.base), run=self.run, url=url, op=op, target=target)
        self.send(step="op", kill_after=kill_after, **job)
        pid = int(self.until("child", 60).split()[1])
        self.until("go", 600)
        killed, done = False, None
        if kill_at is not None:
            try:
                line = self.q.get(timeout=kill_at)
                if line is None:
                    raise EOFError("zygote exited")
                if line.startswith("error "):
                    raise AssertionError(json.loads(line[6:]))
                if line.startswith("done"):
                    done = line
            except queue.Empty:
                pass
            if done is None:
                os.kill(pid, signal.SIGKILL)
                killed = True
        reaped = self.until(f"reaped {pid}", 600) if done else None
        if reaped is None:
            lines = []
            while True:
                line = self.next(600)
                lines.append(line)
                if line.startswith(f"reaped {pid}"):
                    break
            done = next((s for s in lines if s.startswith("done")), None)
            status = int(lines[-1].split()[2])
            killed = killed or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
        self.send(step="check", **job)
        result = json.loads(self.until("result", 900)[7:])
        result["killed"] = killed and done is None
        result["done"] = done
        return result

    def close(self) -> None:
        try:
            self.send(quit=True)
            self.proc.wait(30)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def _version(d: str, text: str) -> str:
    a, b, _q = DOCS[d]
    return "A" if text == a else "B" if text == b else "?"


ALLOWED = {"tide": "AB", "harbour": "AB", "ferry": "A", "quarry": "A", "mill": "B"}  # after a kill


def _assert_update_run(r: dict, label: str) -> int:
    """Returns the number of documents lost (the assertions make sure it is 0)."""
    seen = r["seen"]
    lost = [d for d in ("tide", "harbour", "ferry") if d not in seen]
    assert not lost, (label, "lost", lost)
    for d, v in seen.items():
        ver = _version(d, v["text"])
        assert ver in ALLOWED[d], (label, d, ver)
        assert v["whole"] and v["found"] and v["bm25"], (label, d, {**v, "text": ver})
    if r["doctor"]:
        assert r["repaired"] and r["after_repair"] == [], (label, r["doctor"], r.get("after_repair"))
    assert r["again"] == "ok", (label, r["again"])
    final = r["final"]
    assert set(final) == {"tide", "harbour", "ferry", "mill"}, (label, sorted(final))
    for d, v in final.items():
        assert _version(d, v["text"]) == ("A" if d == "ferry" else "B"), (label, d)
        assert v["whole"] and v["found"] and v["bm25"], (label, d)
    assert r["final_doctor"] == [] and r["leftover_chunks"] == 0, (label, r["final_doctor"])
    return len(lost)


def _assert_remove_run(r: dict, label: str, target: str) -> None:
    seen = r["seen"]
    for d, v in seen.items():  # the target: still whole, or gone; the others untouched
        assert _version(d, v["text"]) == "A" and v["whole"] and v["found"] and v["bm25"], (label, d)
    assert set(seen) - {target} == {"tide", "harbour", "ferry", "quarry"} - {target}, (label, sorted(seen))
    if r["doctor"]:
        assert r["repaired"] and r["after_repair"] == [], (label, r["doctor"], r.get("after_repair"))
    assert r["again"] in ("removed", "already removed"), (label, r["again"])
    assert target not in r["final"] and r["target_chunks"] == 0, label
    assert set(r["final"]) == {"tide", "harbour", "ferry", "quarry"} - {target}, label
    assert r["final_doctor"] == [] and r["leftover_chunks"] == 0, (label, r["final_doctor"])


# SIGKILLs that must land per operation and store: one after each Chroma write (3-5), the
# rest at moments spread over the operation. 10 until 2026-11-26; 8 keeps every write and
# at least 3 moments in between covered, and the test took a fifth of the suite's time.
MIN_KILLS = 8


def _kill_everywhere(z: Zygote, url, store: str) -> dict:
    """Kill each operation right after each of its Chroma writes, then at moments spread
    over its uninterrupted duration (4 at least, more until at least MIN_KILLS landed)."""
    stats = {}
    for op in ("update", "remove"):
        calib = z.operate(url, op, target="harbour" if op == "remove" else None)
        writes, secs = int(calib["done"].split()[1]), float(calib["done"].split()[2])
        assert not calib["killed"] and writes >= 3, calib["done"]
        c = {"kills": 0, "lost": 0, "repaired": 0, "runs": 0}

        def run(how: str, **kw) -> None:
            target = ("tide", "harbour")[c["runs"] % 2] if op == "remove" else None
            c["runs"] += 1
            r = z.operate(url, op, target=target, **kw)
            label = f"{store} {op} killed {how}"
            if op == "update":
                c["lost"] += _assert_update_run(r, label)
            else:
                _assert_remove_run(r, label, target)
            c["kills"] += r["killed"]
            c["repaired"] += bool(r["repaired"])
            print(f"{label}: {'killed' if r['killed'] else 'finished first'}; doctor "
                  f"{'repaired ' + str(r['doctor']) if r['repaired'] else 'clean'}", flush=True)
            return r

        for n in range(1, writes + 1):
            run(f"after write {n} of {writes}", kill_after=n)
        timed = 0
        while timed < 4 or (c["kills"] < MIN_KILLS and timed < 16):
            frac = (timed % 7 + 0.5) / 7 if timed < 7 else (timed % 7 + 1.0) / 7
            r = run(f"at {frac * secs:.3f} s of {secs:.3f} s", kill_at=frac * secs)
            if not r["killed"] and r["done"]:
                # it finished before the kill: the operation runs faster now than when it was
                # timed (warm caches, a quieter machine), so later moments spread over the
                # duration just measured (a removal took 0.16 s timed and finished in under
                # 0.06 s later in one CI run, and only 7 of 8 kills landed)
                secs = min(secs, float(r["done"].split()[2]))
            timed += 1
        stats[op] = {"kills": c["kills"], "runs": c["runs"], "writes": writes, "seconds": round(secs, 3),
                     "lost": c["lost"], "doctor_repaired": c["repaired"]}
    return stats


# one test per store, so that the two halves (each ~95 s) can run on different workers
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("store", ["local", "server"])
def test_kill_updates_and_removals(tmp_path, store):
    z = Zygote(tmp_path)
    server = None
    try:
        if store == "server":
            server = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log").start()
        stats = _kill_everywhere(z, server.url if server else None, store)
    finally:
        z.close()
        if server is not None:
            server.stop()
    for op, s in stats.items():
        assert s["kills"] >= MIN_KILLS, (store, op, s)
        assert s["lost"] == 0
        print(f"\n[reliability] {store} store, {op}: {s['kills']} SIGKILLs landed in {s['runs']} runs "
              f"({s['writes']} Chroma writes, {s['seconds']} s uninterrupted); documents lost: {s['lost']}; "
              f"doctor repaired after {s['doctor_repaired']} kill(s), clean after the others")


if __name__ == "__main__":
    zygote()


def test_an_unreadable_line_does_not_remove_what_it_held(tmp_path):
    """A changed .jsonl whose line became malformed: the other lines are updated, the
    article that line held stays indexed (old version), and the line is refused by name."""
    from rag import Assistant

    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": "harbour", "text": HARBOUR_A}) + "\n"
                    + json.dumps({"id": "ferry", "text": FERRY}) + "\n", encoding="utf-8")
    a = Assistant(index_dir=tmp_path / "idx", bootstrap=False)
    assert a.ingest([feed]).ok
    feed.write_text(json.dumps({"id": "harbour", "text": HARBOUR_B}) + "\n"
                    + '{"id": "ferry", "text": "The Velmora ferry\n', encoding="utf-8")
    rep = a.ingest([feed])
    assert rep.updated == ["harbour"] and len(rep.refused) == 1 and "feed.jsonl" in rep.refused[0].source
    assert a.document("harbour").text == HARBOUR_B and a.document("ferry").text == FERRY
    ans = a.ask("How many passengers does the Velmora ferry carry?")
    assert "912" in ans.short.text and all(a.document(q.doc_id).text[q.start:q.end] == q.text for q in ans.quotes)
