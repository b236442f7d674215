"""The BM25 snapshot follows the store incrementally: added, changed and removed
documents, a fresh process loading the persisted snapshot, batched ingest."""
from __future__ import annotations

from rag import Assistant
from rag.sparse import SparseCache
from rag.textnorm import terms


def _write(p, text):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_sparse_follows_adds_changes_and_removals(tmp_path, monkeypatch):
    a = Assistant(index_dir=tmp_path / "idx")
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
    assert fetched == ["vns-2025-01-02-two"]  # the unchanged document was not re-read
    assert sp.query(terms("Zephyrine bridge"), 3)[0][0].doc_id == "vns-2025-01-02-two"

    _write(one, "Ferry news\n\nThe Quillbrook ferry carried 5,000 passengers and the Marrowind tug helped.\n")
    fetched.clear()
    a.ingest([one])
    sp = a.sparse.get()
    assert fetched == ["vns-2025-01-01-one"]
    assert sp.query(terms("Marrowind"), 3)[0][0].doc_id == "vns-2025-01-01-one"
    assert "4,317" not in " ".join(r.text for r in sp.records)

    a.remove("vns-2025-01-02-two")
    sp = a.sparse.get()
    assert sp.doc_ids == {"vns-2025-01-01-one"} and not sp.query(terms("Zephyrine"), 3)

    # another process on the same index folder loads the persisted snapshot
    b = SparseCache(a.store, tmp_path / "idx")
    monkeypatch.setattr(b, "_build", lambda gen: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert b.get().doc_ids == {"vns-2025-01-01-one"}


def test_batched_ingest_many_small_files(tmp_path):
    src = tmp_path / "many"
    for i in range(60):
        _write(src / f"vns-2025-02-{i % 28 + 1:02d}-note-{i}.txt",
               f"Note {i}\n\nThe harbour counted {1000 + i} boats in week {i}. Crews named it Zorbel-{i}.\n")
    a = Assistant(index_dir=tmp_path / "idx")
    rep = a.ingest([src])
    assert len(rep.added) == 60 and not rep.refused
    assert a.store.chunks.count() == rep.chunks
    assert len(a.sparse.get().doc_ids) == 60
    assert a.ingest([src]).skipped and a.store.chunks.count() == rep.chunks  # unchanged: nothing rewritten
