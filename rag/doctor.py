"""`rag doctor`: check that an index is whole, and repair what can be repaired.

Checks
  - every chunk belongs to a document record and is of the version the record
    names (else: leftovers of an interrupted ingest or update, invisible)
  - every document has exactly its chunks <doc>::<version>::0..n_chunks-1
  - every chunk's offsets are valid: document.text[start:end] == chunk text
  - the sources ledger: every document recorded as ingested from a file still
    has its record (else: a document went missing); documents the user removed
    are gone; documents their file no longer has are gone
  - the dense index answers (a stored vector finds its own chunk)
  - the embedding kernel chosen for this machine reproduces the stored vectors
    (cosine >= 0.9999 on a sample), so questions are embedded like the index
  - the BM25 cache on disk matches the visible chunks; no torn temp files
  - the build signature matches the settings (else IndexMismatchError on open)
Repair (under the write lock)
  - sweep leftover chunks; finish interrupted removals and updates
  - missing documents: re-ingest their source file
  - documents with missing/extra/corrupt chunks: re-ingest from the recorded
    source file when it is unchanged; otherwise re-chunk the stored text (the
    document record is the committed truth, so nothing is lost)
  - bring the sources ledger up to date; rebuild the BM25 cache
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .errors import IndexLockedError
from .store import chunk_id

if TYPE_CHECKING:
    from .assistant import Assistant


@dataclass
class Problem:
    # orphan_chunks | stale_chunks | missing_chunks | extra_chunks | bad_offsets | bad_length |
    # missing_text | missing_document | unfinished_removal | unfinished_update | dense | sparse
    kind: str
    doc_id: Optional[str]
    detail: str
    repairable: bool = True

    def __str__(self) -> str:
        where = f"{self.doc_id}: " if self.doc_id else ""
        return f"[{self.kind}] {where}{self.detail}"


@dataclass
class DoctorReport:
    index: str
    documents: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"index": self.index, "ok": self.ok, "documents": self.documents, "chunks": self.chunks,
                "problems": [{"kind": p.kind, "doc_id": p.doc_id, "detail": p.detail,
                              "repairable": p.repairable} for p in self.problems],
                "repaired": self.repaired, "notes": self.notes}

    def render(self) -> str:
        lines = [f"index {self.index}: {self.documents} documents, {self.chunks} chunks"]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"repaired: {r}" for r in self.repaired]
        lines += [f"problem: {p}" for p in self.problems]
        if self.ok:
            lines.append("OK: store and BM25 index agree, every chunk's offsets are valid.")
        else:
            fixable = sum(p.repairable for p in self.problems)
            lines.append(f"{len(self.problems)} problem(s), {fixable} repairable: run `rag doctor --repair"
                         f" --index {self.index}`" if fixable else f"{len(self.problems)} problem(s).")
        return "\n".join(lines)


def check(a: "Assistant", dense_sample: int = 20) -> DoctorReport:
    """Read-only check of the index behind an Assistant."""
    store = a.store
    rep = DoctorReport(str(a.settings.chroma_url or a.settings.index_dir))
    try:
        with a.lock:
            pass
    except OSError:
        pass  # a read-only index can still be checked
    except IndexLockedError as e:
        rep.notes.append(f"an ingest is running ({e}); chunks it is writing may show as orphans")
    records = store.document_records()
    chunks = store.all_chunks()
    rep.documents = len(records)
    by_doc = defaultdict(list)
    stale = defaultdict(int)
    for c in chunks:
        rec = records.get(c.doc_id)
        if rec is not None and c.version != rec.get("version", ""):
            stale[c.doc_id] += 1
        else:
            by_doc[c.doc_id].append(c)
    rep.chunks = len(chunks) - sum(stale.values())
    orphans = sorted(d for d in by_doc if d not in records)
    if orphans:
        n = sum(len(by_doc[d]) for d in orphans)
        rep.problems.append(Problem("orphan_chunks", None, f"{n} chunk(s) of {len(orphans)} document(s) "
                                    f"with no document record ({', '.join(orphans[:5])}"
                                    f"{', ...' if len(orphans) > 5 else ''}): an interrupted ingest or removal "
                                    "(readers ignore them)"))
    if stale:
        rep.problems.append(Problem("stale_chunks", None, f"{sum(stale.values())} chunk(s) of another "
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
            rep.problems.append(Problem("missing_text", doc_id, "document record has no text", False))
            continue
        if rec.get("n_chars") is not None and rec["n_chars"] != len(doc.text):
            rep.problems.append(Problem("bad_length", doc_id, f"text is {len(doc.text)} chars, "
                                        f"record says {rec['n_chars']}"))
        if expected - have:
            rep.problems.append(Problem("missing_chunks", doc_id, f"{len(expected - have)} of "
                                        f"{len(expected)} chunk(s) missing"))
        if have - expected:
            rep.problems.append(Problem("extra_chunks", doc_id, f"{len(have - expected)} chunk(s) "
                                        "beyond the recorded count"))
        bad = [c for c in mine if not (0 <= c.start < c.end <= len(doc.text))
               or doc.text[c.start:c.end] != c.text]
        if bad:
            rep.problems.append(Problem("bad_offsets", doc_id, f"{len(bad)} chunk(s) whose text is not "
                                        f"document.text[start:end] (first: {bad[0].chunk_id})"))
    _check_ledger(store, records, rep)
    _check_dense(a, chunks, dense_sample, rep)
    _check_kernel(a, chunks, rep)
    _check_sparse(a, records, chunks, rep)
    return rep


def ledger_state(store, records: dict[str, dict]) -> dict:
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


def _check_ledger(store, records: dict[str, dict], rep: DoctorReport) -> None:
    st = ledger_state(store, records)
    for d, key in sorted(st["missing"].items()):
        src = Path(key)
        if src.is_file():
            rep.problems.append(Problem("missing_document", d, f"recorded as ingested from {key}, but "
                                        "the index has no such document: --repair re-ingests the file"))
        else:
            rep.problems.append(Problem("missing_document", d, f"recorded as ingested from {key}, but the "
                                        "index has no such document and the file is gone: restore the "
                                        f"file and run --repair, or forget it with `rag remove {d}`", False))
    for d in sorted(st["removed"]):
        rep.problems.append(Problem("unfinished_removal", d, "removed, but its record is still there "
                                    "(an interrupted `rag remove`): --repair finishes it"))
    for d in sorted(st["leftover"]):
        rep.problems.append(Problem("unfinished_update", d, f"{records[d].get('source_key')} no longer has "
                                    "this document (an interrupted ingest): --repair deletes it"))
    if st["behind"]:
        rep.notes.append(f"{len(st['behind'])} source(s) not recorded in the sources ledger yet (an older "
                         "index, or an ingest stopped right after committing); --repair or their next "
                         "ingest records them")


def _check_kernel(a: "Assistant", chunks, rep: DoctorReport, sample: int = 8) -> None:
    """The kernel(s) this machine embeds with must give the index's vectors."""
    import numpy as np

    from .kernels import MIN_COSINE

    if not chunks:
        return
    emb = a.embedder
    # auto runs two kernels (bulk, questions) when they differ: check each
    kernels = {e.kernel: e for e in (getattr(emb, "bulk", emb), getattr(emb, "small", emb))}
    ids = [c.chunk_id for c in random.Random(1).sample(chunks, min(sample, len(chunks)))]
    try:
        got = a.store.chunks.get(ids=ids, include=["embeddings", "documents"])
        stored = np.asarray(got["embeddings"], dtype=np.float32)
        stored /= np.clip(np.linalg.norm(stored, axis=1, keepdims=True), 1e-12, None)
        cos = {name: (stored * e.embed(list(got["documents"]))).sum(1) for name, e in kernels.items()}
    except Exception as e:  # reported by the dense check too
        rep.notes.append(f"kernel check skipped ({type(e).__name__}: {e})")
        return
    for name, c in cos.items():
        # the median: a kernel changes every vector; one tampered chunk is the offsets check's
        if float(np.median(c)) < MIN_COSINE:
            rep.problems.append(Problem(
                "kernel", None, f"the {name} kernel's vectors differ from the stored ones (median cosine "
                f"{np.median(c):.5f} < {MIN_COSINE} on {len(ids)} chunks): the index was embedded by "
                "another model or kernel. Force the kernel it was built with (RAG_EMBEDDING__PROVIDER), "
                "or re-ingest.", False))
        else:
            rep.notes.append(f"embedding kernel {name} reproduces the stored vectors "
                             f"(median cosine {np.median(c):.6f}, lowest {c.min():.6f}, {len(ids)} chunks)")


def _check_dense(a: "Assistant", chunks, sample: int, rep: DoctorReport) -> None:
    if not chunks:
        return
    ids = [c.chunk_id for c in random.Random(0).sample(chunks, min(sample, len(chunks)))]
    try:
        got = a.store.chunks.get(ids=ids, include=["embeddings"])
        res = a.store.chunks.query(query_embeddings=[list(map(float, e)) for e in got["embeddings"]],
                                   n_results=min(3, len(chunks)), include=["distances"])
        # found: itself, or a chunk with the very same text (and so the same vector)
        lost = [i for i, found, dist in zip(got["ids"], res["ids"], res["distances"])
                if i not in found and not (dist and min(dist) < 1e-4)]
    except Exception as e:  # a damaged vector index
        rep.problems.append(Problem("dense", None, f"vector search failed ({e})", False))
        return
    if lost or len(got["ids"]) != len(ids):
        rep.problems.append(Problem("dense", None, f"{len(lost) + len(ids) - len(got['ids'])} of {len(ids)} "
                                    "sampled chunks not found by their own vector", False))


def _check_sparse(a: "Assistant", records, chunks, rep: DoctorReport) -> None:
    cache = a.sparse
    if cache.dir.exists():
        tmp = list(cache.dir.glob("*.tmp"))
        if tmp:
            rep.problems.append(Problem("sparse", None, f"{len(tmp)} torn temporary file(s) in {cache.dir}"))
    gen = a.store.generation()
    idx = cache._load(gen)
    if idx is None:
        rep.notes.append("no BM25 cache for the current index yet (built on the next question)")
        return
    visible = {c.chunk_id for c in chunks
               if c.doc_id in records and c.version == records[c.doc_id].get("version", "")}
    cached = {r.chunk_id for r in idx.records}
    if cached != visible:
        rep.problems.append(Problem("sparse", None, f"BM25 cache has {len(cached)} chunks, the store "
                                    f"shows {len(visible)} ({len(cached ^ visible)} differ)"))


def repair(a: "Assistant") -> DoctorReport:
    """Fix what can be fixed, then check again. Raises IndexLockedError if a writer is busy."""
    from .chunking import chunk_document
    from .ingest import ingest_paths

    before = check(a)
    done: list[str] = []
    store = a.store
    with a.lock:
        stale = store.stale_chunk_ids()
        if stale:
            store._delete_chunk_ids(stale)
            store.bump_generation()
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
        reingest: dict[str, set[str]] = defaultdict(set)  # source file -> the documents it repairs
        for d, key in st["missing"].items():
            if Path(key).is_file():
                reingest[key].add(d)
        broken = sorted({p.doc_id for p in before.problems if p.doc_id and p.repairable
                         and p.kind not in ("missing_document", "unfinished_removal", "unfinished_update")})
        for doc_id in broken:
            if doc_id not in records or any(doc_id in ds for ds in reingest.values()):
                continue
            rec = records[doc_id]
            src = Path(rec.get("source_key") or "")
            if src.is_file() and _sha_of(src) == rec.get("sha256"):
                reingest[str(src)].add(doc_id)
                continue
            doc = store.get_document(doc_id)
            chunks = chunk_document(doc_id, doc.text, a.settings.chunking.max_words,
                                    a.settings.chunking.overlap_sentences,
                                    a.settings.chunking.max_chars, body_start=doc.body_start)
            vectors = a.embedder.embed([c.text for c in chunks])
            store.add_document(doc, chunks, vectors, rec.get("source_key", ""))  # a new version, switched
            why = "source file missing" if not src.is_file() else "source file changed since"
            done.append(f"{doc_id}: re-chunked from the stored text ({why})")
        for key, ds in sorted(reingest.items()):
            report = ingest_paths([key], store, a.embedder, a.settings, force=[key])
            got = set(report.added) | set(report.updated)
            for d in sorted(ds):
                how = "re-ingested" if d in got else "could not re-ingest (the file no longer has it)"
                done.append(f"{d}: {how} from {key} ({len(got)} document(s))")
        behind = ledger_state(store, store.document_records())["behind"]
        store.put_sources(behind)  # re-chunked documents are newer than their entry
        cache = a.sparse
        if cache.dir.exists():
            for f in list(cache.dir.glob("*.tmp")) + list(cache.dir.glob("bm25-*.pkl")):
                f.unlink(missing_ok=True)
        cache._index = None
        cache.invalidate()
        cache.get()
        done.append("rebuilt the BM25 cache")
    after = check(a)
    after.repaired = done
    return after


def _sha_of(path: Path) -> str:
    from .documents import sha256_bytes

    try:
        return sha256_bytes(path.read_bytes())
    except OSError:
        return ""
