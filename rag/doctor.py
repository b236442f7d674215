"""`rag doctor`: check that an index is whole, and repair what can be repaired.

Checks
  - every chunk belongs to a document record (else: orphans of an interrupted ingest)
  - every document has exactly its chunks <doc>::0..n_chunks-1
  - every chunk's offsets are valid: document.text[start:end] == chunk text
  - the dense index answers (a stored vector finds its own chunk)
  - the embedding kernel chosen for this machine reproduces the stored vectors
    (cosine >= 0.9999 on a sample), so questions are embedded like the index
  - the BM25 cache on disk matches the visible chunks; no torn temp files
  - the build signature matches the settings (else IndexMismatchError on open)
Repair (under the write lock)
  - sweep orphan chunks
  - documents with missing/extra/corrupt chunks: re-ingest from the recorded
    source file when it is unchanged; otherwise re-chunk the stored text (the
    document record is the committed truth, so nothing is lost)
  - rebuild the BM25 cache
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .errors import IndexLockedError

if TYPE_CHECKING:
    from .assistant import Assistant


@dataclass
class Problem:
    kind: str  # orphan_chunks | missing_chunks | extra_chunks | bad_offsets | bad_length | dense | sparse
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
    rep.documents, rep.chunks = len(records), len(chunks)
    by_doc = defaultdict(list)
    for c in chunks:
        by_doc[c.doc_id].append(c)
    orphans = sorted(d for d in by_doc if d not in records)
    if orphans:
        n = sum(len(by_doc[d]) for d in orphans)
        rep.problems.append(Problem("orphan_chunks", None, f"{n} chunk(s) of {len(orphans)} document(s) "
                                    f"with no document record ({', '.join(orphans[:5])}"
                                    f"{', ...' if len(orphans) > 5 else ''}): an interrupted ingest"))
    docs = store.get_documents(records) if records else {}
    for doc_id, rec in sorted(records.items()):
        doc = docs.get(doc_id)
        mine = by_doc.get(doc_id, [])
        expected = {f"{doc_id}::{i}" for i in range(int(rec.get("n_chunks") or 0))}
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
    _check_dense(a, chunks, dense_sample, rep)
    _check_kernel(a, chunks, rep)
    _check_sparse(a, records, chunks, rep)
    return rep


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
    visible = {c.chunk_id for c in chunks if c.doc_id in records}
    cached = {r.chunk_id for r in idx.records}
    if cached != visible or idx.doc_ids != {c.doc_id for c in chunks if c.doc_id in records}:
        rep.problems.append(Problem("sparse", None, f"BM25 cache has {len(cached)} chunks, the store "
                                    f"shows {len(visible)} ({len(cached ^ visible)} differ)"))


def repair(a: "Assistant") -> DoctorReport:
    """Fix what can be fixed, then check again. Raises IndexLockedError if a writer is busy."""
    from .chunking import chunk_document
    from .ingest import ingest_paths

    before = check(a)
    done: list[str] = []
    with a.lock:
        n = a.store.sweep_orphans()
        if n:
            done.append(f"removed the chunks of {n} document(s) with no record")
        broken = sorted({p.doc_id for p in before.problems if p.doc_id and p.repairable})
        records = a.store.document_records()
        by_source: dict[str, list[str]] = defaultdict(list)
        for doc_id, rec in records.items():
            by_source[rec.get("source_key", "")].append(doc_id)
        reingested: set[str] = set()
        for doc_id in broken:
            if doc_id in reingested or doc_id not in records:
                continue
            rec = records[doc_id]
            src = Path(rec.get("source_key") or "")
            if src.is_file() and _sha_of(src) == rec.get("sha256"):
                siblings = by_source[str(src)]
                for d in siblings:  # a .jsonl file's documents are re-ingested together
                    a.store.delete_document(d)
                report = ingest_paths([src], a.store, a.embedder, a.settings)
                reingested.update(siblings)
                done.append(f"{doc_id}: re-ingested from {src} ({len(report.added)} document(s))")
            else:
                doc = a.store.get_document(doc_id)
                chunks = chunk_document(doc_id, doc.text, a.settings.chunking.max_words,
                                        a.settings.chunking.overlap_sentences)
                vectors = a.embedder.embed([c.text for c in chunks])
                a.store.vector_store.delete(ref_doc_id=doc_id)  # keep the record: it holds the text
                a.store.add_document(doc, chunks, vectors, rec.get("source_key", ""))
                why = "source file missing" if not src.is_file() else "source file changed since"
                done.append(f"{doc_id}: re-chunked from the stored text ({why})")
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
