"""Whether an index's store is whole, and making it whole again: the work behind
`Store.check()` and `Store.rebuild()` (which `rag doctor` calls).

Checked: every chunk belongs to a document record and is of the version the
record names; every document has exactly its chunks <doc>::<version>::0..n-1;
`document.text[start:end]` is each chunk's text; the sources ledger agrees
with the records; the dense index finds a stored vector's own chunk.
Rebuilt (the caller holds the write lock): leftover chunks swept, interrupted
removals and updates finished, the ledger brought up to date, damaged or
missing documents re-ingested from their unchanged source file, else re-chunked
from the stored text (the record is the committed truth, so nothing is lost).
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

if TYPE_CHECKING:
    from .store import Store


@dataclass
class Problem:
    # orphan_chunks | stale_chunks | missing_chunks | extra_chunks | bad_offsets | bad_length |
    # missing_text | missing_document | unfinished_removal | unfinished_update | dense | kernel | sparse
    kind: str
    doc_id: Optional[str]
    detail: str
    repairable: bool = True

    def __str__(self) -> str:
        where = f"{self.doc_id}: " if self.doc_id else ""
        return f"[{self.kind}] {where}{self.detail}"


@dataclass
class Health:
    """What a check found: problems (the index is not whole) and notes (worth saying, not wrong)."""
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class StoreHealth(Health):
    documents: int = 0
    chunks: int = 0                                    # visible chunks
    visible: set[str] = field(default_factory=set)     # their ids (what BM25 must hold)
    all_chunks: list = field(default_factory=list)     # every chunk record read (for sampled checks)


def check_store(store: "Store", dense_sample: int = 20) -> StoreHealth:
    from .store import chunk_id

    records = store.document_records()
    chunks = store.all_chunks()
    h = StoreHealth(documents=len(records), all_chunks=chunks)
    by_doc = defaultdict(list)
    stale = defaultdict(int)
    for c in chunks:
        rec = records.get(c.doc_id)
        if rec is not None and c.version != rec.get("version", ""):
            stale[c.doc_id] += 1
        else:
            by_doc[c.doc_id].append(c)
    h.chunks = len(chunks) - sum(stale.values())
    h.visible = {c.chunk_id for c in chunks
                 if c.doc_id in records and c.version == records[c.doc_id].get("version", "")}
    orphans = sorted(d for d in by_doc if d not in records)
    if orphans:
        n = sum(len(by_doc[d]) for d in orphans)
        h.problems.append(Problem("orphan_chunks", None, f"{n} chunk(s) of {len(orphans)} document(s) "
                                  f"with no document record ({', '.join(orphans[:5])}"
                                  f"{', ...' if len(orphans) > 5 else ''}): an interrupted ingest or removal "
                                  "(readers ignore them)"))
    if stale:
        h.problems.append(Problem("stale_chunks", None, f"{sum(stale.values())} chunk(s) of another "
                                  f"version than their record names, of {len(stale)} document(s) "
                                  f"({', '.join(sorted(stale)[:5])}{', ...' if len(stale) > 5 else ''}): "
                                  "an interrupted update (readers ignore them)"))
    docs = store.get_documents(records) if records else {}
    for doc_id, rec in sorted(records.items()):
        doc = docs.get(doc_id)
        mine = by_doc.get(doc_id, [])
        version = rec.get("version", "")
        expected = {chunk_id(doc_id, version, i) for i in range(int(rec.get("n_chunks") or 0))}
        have = {c.chunk_id for c in mine}
        if doc is None:
            h.problems.append(Problem("missing_text", doc_id, "document record has no text", False))
            continue
        if rec.get("n_chars") is not None and rec["n_chars"] != len(doc.text):
            h.problems.append(Problem("bad_length", doc_id, f"text is {len(doc.text)} chars, "
                                      f"record says {rec['n_chars']}"))
        if expected - have:
            h.problems.append(Problem("missing_chunks", doc_id, f"{len(expected - have)} of "
                                      f"{len(expected)} chunk(s) missing"))
        if have - expected:
            h.problems.append(Problem("extra_chunks", doc_id, f"{len(have - expected)} chunk(s) "
                                      "beyond the recorded count"))
        bad = [c for c in mine if not (0 <= c.start < c.end <= len(doc.text))
               or doc.text[c.start:c.end] != c.text]
        if bad:
            h.problems.append(Problem("bad_offsets", doc_id, f"{len(bad)} chunk(s) whose text is not "
                                      f"document.text[start:end] (first: {bad[0].chunk_id})"))
    _check_ledger(store, records, h)
    _check_dense(store, chunks, dense_sample, h)
    return h


def ledger_state(store: "Store", records: dict[str, dict]) -> dict:
    """Compare the sources ledger with the document records. Returns
    {"missing": {doc_id: source_key}, "removed": [...], "leftover": [...],
     "behind": {source_key: entry}}: listed documents without a record, records
    the user removed, records their file no longer has, and sources whose
    ledger entry is missing or older than their records (rewritten from them)."""
    entries = store.source_entries()
    by_source: dict[str, dict[str, dict]] = defaultdict(dict)
    for d, r in records.items():
        by_source[r.get("source_key", "")][d] = r
    out: dict = {"missing": {}, "removed": [], "leftover": [], "behind": {}}
    for key, recs in by_source.items():
        e = entries.get(key)
        newest = max(recs.values(), key=lambda r: float(r.get("ingested_at") or 0))
        if e is None or float(newest.get("ingested_at") or 0) > e["at"]:
            # committed, but the ledger entry was not written after it (an index from
            # before the ledger, or a kill in between): the newest content is the truth
            sha = newest.get("sha256", "")
            removed = e["removed"] if e is not None and e["sha256"] == sha else []
            entries[key] = e = {"sha256": sha, "doc_ids": sorted(d for d, r in recs.items()
                                                               if r.get("sha256") == sha and d not in removed),
                                "removed": removed, "at": 0.0}
            out["behind"][key] = e
        for d in recs:
            if d in e["removed"]:
                out["removed"].append(d)
            elif d not in e["doc_ids"]:
                out["leftover"].append(d)
    for key, e in entries.items():
        for d in e["doc_ids"]:
            if d not in records:
                out["missing"][d] = key
    return out


def _check_ledger(store: "Store", records: dict[str, dict], h: Health) -> None:
    st = ledger_state(store, records)
    for d, key in sorted(st["missing"].items()):
        src = Path(key)
        if src.is_file():
            h.problems.append(Problem("missing_document", d, f"recorded as ingested from {key}, but "
                                      "the index has no such document: --repair re-ingests the file"))
        else:
            h.problems.append(Problem("missing_document", d, f"recorded as ingested from {key}, but the "
                                      "index has no such document and the file is gone: restore the "
                                      f"file and run --repair, or forget it with `rag remove {d}`", False))
    for d in sorted(st["removed"]):
        h.problems.append(Problem("unfinished_removal", d, "removed, but its record is still there "
                                  "(an interrupted `rag remove`): --repair finishes it"))
    for d in sorted(st["leftover"]):
        h.problems.append(Problem("unfinished_update", d, f"{records[d].get('source_key')} no longer has "
                                  "this document (an interrupted ingest): --repair deletes it"))
    if st["behind"]:
        h.notes.append(f"{len(st['behind'])} source(s) not recorded in the sources ledger yet (an older "
                       "index, or an ingest stopped right after committing); --repair or their next "
                       "ingest records them")


def _check_dense(store: "Store", chunks, sample: int, h: Health) -> None:
    if not chunks:
        return
    ids = [c.chunk_id for c in random.Random(0).sample(chunks, min(sample, len(chunks)))]
    try:
        got = store.chunks.get(ids=ids, include=["embeddings"])
        res = store.chunks.query(query_embeddings=[list(map(float, e)) for e in got["embeddings"]],
                                 n_results=min(3, len(chunks)), include=["distances"])
        # found: itself, or a chunk with the very same text (and so the same vector)
        lost = [i for i, found, dist in zip(got["ids"], res["ids"], res["distances"])
                if i not in found and not (dist and min(dist) < 1e-4)]
    except Exception as e:  # a damaged vector index
        h.problems.append(Problem("dense", None, f"vector search failed ({e})", False))
        return
    if lost or len(got["ids"]) != len(ids):
        h.problems.append(Problem("dense", None, f"{len(lost) + len(ids) - len(got['ids'])} of {len(ids)} "
                                  "sampled chunks not found by their own vector", False))


def rebuild_store(store: "Store", embed: Callable[[list[str]], np.ndarray],
                  reingest: Callable[[str], set[str]], problems: Optional[list[Problem]] = None) -> list[str]:
    """Fix what can be fixed; returns what was done. `embed` embeds re-chunked text;
    `reingest(source_key)` ingests that file again and returns the ids it added or
    updated. `problems` is a check's findings (run one when not given)."""
    from .chunking import chunk_document

    if problems is None:
        problems = check_store(store).problems
    done: list[str] = []
    stale = store.stale_chunk_ids()
    if stale:
        store.delete_chunks(stale)
        done.append(f"removed {len(stale)} leftover chunk(s) of interrupted writes")
    records = store.document_records()
    st = ledger_state(store, records)
    if st["behind"]:
        store.put_sources(st["behind"])
        done.append(f"recorded {len(st['behind'])} source(s) in the sources ledger")
    for d in sorted(st["removed"]) + sorted(st["leftover"]):
        store.delete_document(d)
        records.pop(d, None)
        done.append(f"{d}: deleted (finished an interrupted "
                    f"{'removal' if d in st['removed'] else 'update'})")
    todo: dict[str, set[str]] = defaultdict(set)  # source file -> the documents it repairs
    for d, key in st["missing"].items():
        if Path(key).is_file():
            todo[key].add(d)
    broken = sorted({p.doc_id for p in problems if p.doc_id and p.repairable
                     and p.kind not in ("missing_document", "unfinished_removal", "unfinished_update")})
    cfg = store.settings.chunking
    for doc_id in broken:
        if doc_id not in records or any(doc_id in ds for ds in todo.values()):
            continue
        rec = records[doc_id]
        src = Path(rec.get("source_key") or "")
        if src.is_file() and _sha_of(src) == rec.get("sha256"):
            todo[str(src)].add(doc_id)
            continue
        doc = store.get_document(doc_id)
        chunks = chunk_document(doc_id, doc.text, cfg.max_words, cfg.overlap_sentences, cfg.max_chars,
                                body_start=doc.body_start)
        store.add_document(doc, chunks, embed([c.text for c in chunks]), rec.get("source_key", ""))
        why = "source file missing" if not src.is_file() else "source file changed since"
        done.append(f"{doc_id}: re-chunked from the stored text ({why})")
    for key, ds in sorted(todo.items()):
        got = reingest(key)
        for d in sorted(ds):
            how = "re-ingested" if d in got else "could not re-ingest (the file no longer has it)"
            done.append(f"{d}: {how} from {key} ({len(got)} document(s))")
    store.put_sources(ledger_state(store, store.document_records())["behind"])  # re-chunked ones are newer
    return done


def _sha_of(path: Path) -> str:
    from .documents import sha256_bytes

    try:
        return sha256_bytes(path.read_bytes())
    except OSError:
        return ""
