"""`rag doctor`: check that an index is whole, and repair what can be repaired.

It composes the parts' own checks: Store.check()/rebuild() (rag/integrity.py),
the embedding kernel against the stored vectors (here), SparseCache.check()/rebuild().

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import IndexLockedError
from .integrity import Problem

if TYPE_CHECKING:
    from .assistant import Assistant


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
    """Read-only check of the index behind an Assistant: the store (Store.check), the
    embedding kernel against the stored vectors, the BM25 cache (SparseCache.check)."""
    rep = DoctorReport(str(a.settings.chroma_url or a.settings.index_dir))
    try:
        with a.lock:
            pass
    except OSError:
        pass  # a read-only index can still be checked
    except IndexLockedError as e:
        rep.notes.append(f"an ingest is running ({e}); chunks it is writing may show as orphans")
    store = a.store.check(dense_sample)
    rep.documents, rep.chunks = store.documents, store.chunks
    rep.problems += store.problems
    rep.notes += store.notes
    _check_kernel(a, store.all_chunks, rep)
    sparse = a.sparse.check(store.visible)
    rep.problems += sparse.problems
    rep.notes += sparse.notes
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


def repair(a: "Assistant") -> DoctorReport:
    """Fix what can be fixed (Store.rebuild, SparseCache.rebuild), then check again.
    Raises IndexLockedError if a writer is busy."""
    from .ingest import ingest_paths

    before = check(a)

    def reingest(key: str) -> set[str]:
        report = ingest_paths([key], a.store, a.embedder, a.settings, force=[key])
        return set(report.added) | set(report.updated)

    with a.lock:
        done = a.store.rebuild(a.embedder.embed, reingest, before.problems)
        a.sparse.rebuild()
        done.append("rebuilt the BM25 cache")
    after = check(a)
    after.repaired = done
    return after
