"""`rag doctor` finds a damaged index and `--repair` makes it whole again."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant
from rag.doctor import check, repair
from rag.errors import DocumentNotFoundError
from rag.store import chunk_id

ROOT = Path(__file__).resolve().parent.parent
VNS = "vns-2025-11-10-mofa-patriotic-emulation-congress"
VOV = "vov-2025-11-10-pm-calls-for-proactive-multilateral-diplomacy"


def doctor_cli(idx: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", "doctor", "--index", str(idx), *extra],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_doctor_finds_and_repairs_damage(tmp_path, articles_copy, capsys):
    from rag.cli import main

    (articles_copy / "feed.jsonl").write_text(
        json.dumps({"id": "harbour", "text": "The harbour expansion will add 14 berths by 2027."}) + "\n"
        + json.dumps({"id": "ferry", "text": "The new ferry carries 912 passengers a day."}) + "\n",
        encoding="utf-8")
    lonely = tmp_path / "lonely.txt"
    lonely.write_text("Lonely report\n\nThe lighthouse at Mui Ne was rebuilt for 3.2 billion dong.\n",
                      encoding="utf-8")
    idx = tmp_path / "idx"
    a = Assistant(index_dir=idx)
    assert a.ingest([articles_copy, lonely]).ok
    a.ask("How many berths will the harbour add?")  # BM25 snapshot on disk
    assert check(a).ok

    # damage it, directly through chromadb
    chunks = a.store.chunks
    recs = a.store.document_records()

    def cid(doc_id: str, i: int) -> str:
        return chunk_id(doc_id, recs[doc_id]["version"], i)

    chunks.delete(ids=[cid(VNS, 0), cid(VNS, 3)])                          # missing chunks
    got = chunks.get(ids=[cid(VOV, 1)], include=["documents", "embeddings", "metadatas"])
    chunks.upsert(ids=[cid(VOV, 1)], documents=[got["documents"][0] + " TAMPERED"],      # bad offsets
                  embeddings=got["embeddings"], metadatas=got["metadatas"])
    a.store.docs.delete(ids=["ferry"])                                    # record gone: orphans
    chunks.delete(ids=[cid("harbour", 0)])                                # .jsonl sibling
    chunks.delete(ids=[cid("lonely", 0)])
    lonely.unlink()                                                       # source gone: use stored text
    (a.sparse.dir / "tmpxyz.tmp").write_bytes(b"torn")

    rep = check(a)
    kinds = {(p.kind, p.doc_id) for p in rep.problems}
    assert {("missing_chunks", VNS), ("bad_offsets", VOV), ("orphan_chunks", None),
            ("missing_chunks", "harbour"), ("missing_chunks", "lonely"), ("sparse", None),
            ("missing_document", "ferry")} <= kinds, kinds
    # the command's report, run in this process (a `rag doctor` process would load the models
    # again just for this; the one after the repair below is a real process reading the index)
    capsys.readouterr()
    code, r = main(["doctor", "--index", str(idx)]), capsys.readouterr()
    assert code == 1, r.out + r.err
    for word in ("missing_chunks", "bad_offsets", "orphan_chunks", "sparse", "missing_document", "--repair"):
        assert word in r.out, r.out

    fixed = repair(a)
    assert fixed.ok, fixed.render()
    text = "\n".join(fixed.repaired)
    assert "re-ingested" in text and "stored text (source file missing)" in text and "BM25" in text
    # "ferry" lost its record, but came back with its sibling from the unchanged .jsonl file
    assert {d["doc_id"] for d in a.documents()} == {VNS, VOV, "harbour", "ferry", "lonely"}
    assert "3.2 billion" in a.ask("How much did rebuilding the Mui Ne lighthouse cost?").short.text
    assert "14 berths" in a.ask("How many berths will the harbour expansion add?").short.text
    r = doctor_cli(idx, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stdout + r.stderr


def test_doctor_on_missing_index(tmp_path):
    r = doctor_cli(tmp_path / "nope")
    assert r.returncode == 2 and "no index" in r.stderr


def test_committed_records_are_seen_even_if_the_token_was_not_replaced(tmp_path, articles_copy,
                                                                       monkeypatch):
    """A writer killed right after committing its records, before bumping the generation token."""
    idx = tmp_path / "idx"
    a = Assistant(index_dir=idx)
    a.ingest([articles_copy / f"{VNS}.txt"])
    a.sparse.get()
    monkeypatch.setattr(type(a.store), "bump_generation", lambda self: "")
    monkeypatch.setattr(type(a.sparse), "invalidate", lambda self, written=None: None)
    a.ingest([articles_copy / f"{VOV}.txt"])
    monkeypatch.undo()
    b = Assistant(index_dir=idx)
    assert {r.doc_id for r in b.sparse.get().records} == {VNS, VOV}


def test_remove_finishes_an_interrupted_removal_and_doctor_sees_a_vanished_document(tmp_path, articles_copy):
    """A removal killed after deleting the record (chunks left) is finished by running
    `rag remove` again; a document that vanished entirely is reported and re-ingested."""
    idx = tmp_path / "idx"
    a = Assistant(index_dir=idx)
    assert a.ingest([articles_copy]).ok

    a.store.docs.delete(ids=[VNS])  # what a kill between the two deletes used to leave
    r = subprocess.run([sys.executable, "-m", "rag", "remove", VNS, "--index", str(idx)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0 and f"removed {VNS}" in r.stdout, r.stdout + r.stderr
    assert a.store.chunks_of([VNS]) == [] and check(a).ok
    r = subprocess.run([sys.executable, "-m", "rag", "remove", VNS, "--index", str(idx)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0 and f"{VNS} was already removed" in r.stdout, r.stdout + r.stderr
    with pytest.raises(DocumentNotFoundError):
        a.remove("no-such-article")
    assert repair(a).ok and VNS not in {d["doc_id"] for d in a.documents()}  # repair does not bring it back

    # the old failure: an update killed between deleting the old version and writing the new
    a.store.docs.delete(ids=[VOV])
    a.store.chunks.delete(where={"document_id": VOV})
    rep = check(a)
    assert [(p.kind, p.doc_id) for p in rep.problems] == [("missing_document", VOV)], rep.render()
    fixed = repair(a)
    assert fixed.ok and any(f"{VOV}: re-ingested" in x for x in fixed.repaired), fixed.render()
    ans = a.ask("How much did vaccine diplomacy save the state budget?")
    assert not ans.abstained and any(q.doc_id == VOV for q in ans.quotes)
    for q in ans.quotes:
        assert a.document(q.doc_id).text[q.start:q.end] == q.text
