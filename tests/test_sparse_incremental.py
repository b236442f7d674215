"""The BM25 snapshot follows the store incrementally: added, changed and removed
documents, a fresh process loading the persisted snapshot, batched ingest; its
check() and rebuild(). The BM25 side is the point, so the embedder is the fake one."""
from __future__ import annotations

from fakes import HashEmbedder
from rag import Assistant
from rag.sparse import SparseCache, SparseIndex
from rag.textnorm import terms


def _write(p, text):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_sparse_follows_adds_changes_and_removals(tmp_path, monkeypatch):
    a = Assistant(index_dir=tmp_path / "idx", embedder=HashEmbedder())  # BM25 is the point
    one = _write(tmp_path / "in" / "vns-2025-01-01-one.txt",
                 "Ferry news\n\nThe Quillbrook ferry carried 4,317 passengers last week.\n")
    two = _write(tmp_path / "in" / "vns-2025-01-02-two.txt",
                 "Bridge news\n\nThe Zephyrine bridge opened to 900 cars on Monday.\n")
    a.ingest([one])
    sp = a.sparse.get()
    assert sp.doc_ids == {"vns-2025-01-01-one"}

    fetched = []
    orig = a.store.chunks_of
    monkeypatch.setattr(a.store, "chunks_of", lambda ids: fetched.extend(ids) or orig(ids))
    a.ingest([two])
    sp = a.sparse.get()
    # the unchanged document was not re-read, and the new one came from the ingest itself
    # (ingest_paths' `written`), not read back from the store
    assert fetched == []
    assert sp.query(terms("Zephyrine bridge"), 3)[0][0].doc_id == "vns-2025-01-02-two"

    _write(one, "Ferry news\n\nThe Quillbrook ferry carried 5,000 passengers and the Marrowind tug helped.\n")
    fetched.clear()
    a.ingest([one])
    sp = a.sparse.get()
    assert fetched == []  # the changed document's new chunks, from the ingest too
    assert sp.query(terms("Marrowind"), 3)[0][0].doc_id == "vns-2025-01-01-one"
    assert "4,317" not in " ".join(r.text for r in sp.records)

    a.remove("vns-2025-01-02-two")
    sp = a.sparse.get()
    assert sp.doc_ids == {"vns-2025-01-01-one"} and not sp.query(terms("Zephyrine"), 3)

    # another process on the same index folder loads the persisted snapshot
    b = SparseCache(a.store, tmp_path / "idx")
    monkeypatch.setattr(b, "_build", lambda gen, written=None: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert b.get().doc_ids == {"vns-2025-01-01-one"}


def test_batched_ingest_many_small_files(tmp_path):
    src = tmp_path / "many"
    for i in range(60):
        _write(src / f"vns-2025-02-{i % 28 + 1:02d}-note-{i}.txt",
               f"Note {i}\n\nThe harbour counted {1000 + i} boats in week {i}. Crews named it Zorbel-{i}.\n")
    a = Assistant(index_dir=tmp_path / "idx", embedder=HashEmbedder())
    rep = a.ingest([src])
    assert len(rep.added) == 60 and not rep.refused
    assert a.store.chunks.count() == rep.chunks
    assert len(a.sparse.get().doc_ids) == 60
    assert a.ingest([src]).skipped and a.store.chunks.count() == rep.chunks  # unchanged: nothing rewritten


def test_check_finds_a_stale_or_missing_cache_and_rebuild_repairs_it(tmp_path):
    """SparseCache.check()/rebuild(), what `rag doctor` calls."""
    import pickle

    a = Assistant(index_dir=tmp_path / "idx", embedder=HashEmbedder())
    one = _write(tmp_path / "in" / "vns-2025-01-01-one.txt",
                 "Ferry news\n\nThe Quillbrook ferry carried 4,317 passengers last week.\n")
    two = _write(tmp_path / "in" / "vns-2025-01-02-two.txt",
                 "Bridge news\n\nThe Zephyrine bridge opened to 900 cars on Monday.\n")
    a.ingest([one, two])
    health = a.sparse.check()
    assert health.ok and not health.notes
    [snapshot] = a.sparse.dir.glob("bm25-*.pkl")

    # stale: the snapshot of the current generation lacks a document (a cache written by a
    # process that missed a write)
    idx = pickle.loads(snapshot.read_bytes())
    snapshot.write_bytes(pickle.dumps(SparseIndex([r for r in idx.records if r.doc_id != "vns-2025-01-02-two"],
                                                  idx.generation)))
    (a.sparse.dir / "tmpabc.tmp").write_bytes(b"torn")
    health = a.sparse.check()
    assert not health.ok and {p.kind for p in health.problems} == {"sparse"}
    assert any("1 torn temporary file" in p.detail for p in health.problems)
    assert any("BM25 cache has 1 chunks, the store shows 2" in p.detail for p in health.problems), health.problems
    fresh = SparseCache(a.store, tmp_path / "idx")
    assert not fresh.get().query(terms("Zephyrine"), 3)  # what a reader of that cache got

    rebuilt = a.sparse.rebuild()
    assert rebuilt.doc_ids == {"vns-2025-01-01-one", "vns-2025-01-02-two"}
    assert a.sparse.check().ok and not list(a.sparse.dir.glob("*.tmp"))
    assert SparseCache(a.store, tmp_path / "idx").get().query(terms("Zephyrine"), 3)[0][0].doc_id \
        == "vns-2025-01-02-two"

    # missing: no snapshot on disk is a note (the next question builds it), rebuild writes it
    for f in a.sparse.dir.glob("bm25-*.pkl"):
        f.unlink()
    health = a.sparse.check()
    assert health.ok and health.notes == ["no BM25 cache for the current index yet (built on the next question)"]
    a.sparse.rebuild()
    assert len(list(a.sparse.dir.glob("bm25-*.pkl"))) == 1
    health = a.sparse.check()
    assert health.ok and not health.notes


def test_a_killed_writers_temporary_snapshot_is_swept_and_a_live_writers_is_left_alone(tmp_path):
    """A process killed while writing its BM25 snapshot leaves bm25-<pid>-*.tmp behind: the next
    process to use the index removes it (doctor then has nothing to report), while a file a
    live process is writing now is neither reported nor touched."""
    import os
    import subprocess
    import sys

    a = Assistant(index_dir=tmp_path / "idx", embedder=HashEmbedder())
    a.ingest([_write(tmp_path / "in" / "vns-2025-01-01-one.txt",
                     "Ferry news\n\nThe Quillbrook ferry carried 4,317 passengers last week.\n")])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    killed = a.sparse.dir / f"bm25-{int(dead.stdout)}-x1.tmp"
    killed.write_bytes(b"torn")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        writing = a.sparse.dir / f"bm25-{live.pid}-x2.tmp"
        writing.write_bytes(b"being written")
        problems = a.sparse.check().problems
        assert [p.detail for p in problems] == [f"1 torn temporary file(s) in {a.sparse.dir}"]
        nxt = SparseCache(a.store, tmp_path / "idx")  # the next process to open the index
        assert nxt.get().query(terms("Quillbrook"), 3)[0][0].doc_id == "vns-2025-01-01-one"
        assert not killed.exists() and writing.exists()
        assert nxt.check().ok
        # `rag doctor --repair` rebuilds the cache: the live writer's file stays too
        nxt.rebuild()
        assert writing.exists() and nxt.check().ok
    finally:
        live.kill()
        live.wait()
    os.unlink(writing)
