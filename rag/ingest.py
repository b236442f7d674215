"""Ingest: files -> documents -> chunks with offsets -> vectors -> store.

Incremental by content hash: a file whose bytes are unchanged is skipped; a
changed file's documents are replaced. Refusals are collected per file
(or .jsonl line) and never stop the other files.

Crash safety (store.py has the write order): a changed document's new version
is written beside the old one and switched in one record write, so a kill at
any moment leaves it in its old or its new version. A file's sources-ledger
entry is written after its documents are committed, and only then are the
documents the file no longer has deleted. Running the same ingest again after
a kill finishes the job.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Callable, Iterable, Optional


from .chunking import chunk_document
from .documents import ORIGIN_BUNDLED, ORIGIN_FILE, ORIGIN_UPLOAD, Document, sha256_bytes
from .embeddings import Embedder
from .errors import IngestError
from .heap import trim_heap
from .loaders import discover, load_file
from .settings import Settings
from .store import LOADER_VERSION, ChunkRecord, Store, new_version

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[IngestError] = field(default_factory=list)
    chunks: int = 0
    kept: list[str] = field(default_factory=list)  # indexed version kept: the new one is unreadable

    @property
    def ok(self) -> bool:
        return not self.refused

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "skipped": self.skipped,
                "refused": [{"source": e.source, "reason": e.reason} for e in self.refused],
                "kept": self.kept, "chunks": self.chunks}


def _unique_id(doc: Document, source_key: str, records: dict[str, dict]) -> str:
    """Keep readable ids; disambiguate when another source already uses one."""
    rec = records.get(doc.doc_id)
    if rec is None or rec.get("source_key") == source_key:
        return doc.doc_id
    return f"{doc.doc_id}-{sha256_bytes(source_key.encode())[:6]}"


SHIPPED_ARTICLES = Path(__file__).resolve().parent / "data" / "articles"


@lru_cache(maxsize=1)
def _shipped_hashes() -> frozenset[str]:
    return frozenset(sha256_bytes(p.read_bytes()) for p in SHIPPED_ARTICLES.glob("*") if p.is_file())


def origin_of(path: Path, sha256: str, settings: Settings) -> str:
    """Who supplied the file: the package (the bytes of a shipped article, wherever the copy
    is), the web UI's upload folder, or whoever ran ingest on it."""
    if sha256 in _shipped_hashes():
        return ORIGIN_BUNDLED
    uploads = (Path(settings.index_dir) / "uploads").resolve()
    if path.resolve().parent == uploads:
        return ORIGIN_UPLOAD
    return ORIGIN_FILE


BATCH_CHUNKS = 512  # chunks embedded and written per call (see flush below)


def ingest_paths(paths: Iterable[str | Path], store: Store, embedder: Embedder,
                 settings: Settings, progress: Optional[Progress] = None,
                 force: Iterable[str | Path] = (),
                 written: Optional[dict[str, list[ChunkRecord]]] = None) -> IngestReport:
    """Documents are queued until BATCH_CHUNKS chunks are pending, then embedded
    in calls of BATCH_CHUNKS chunks (the model sorts them by length and pads less;
    per-document calls of ~8 chunks ran at half the model's throughput), each
    slice written by one Chroma add under its documents' new versions, then one
    upsert of their records (the commit). Memory is bounded by the slice, not
    by the length of a document.

    `force`: files to re-ingest even if unchanged (`rag doctor --repair`);
    documents the user removed from such a file stay removed.

    `written`: filled with the chunks committed, by document (the version committed), so that
    the BM25 index takes them from memory instead of reading them back from Chroma
    (SparseCache.invalidate)."""
    report = IngestReport()
    files, refused = discover(paths, settings.ingest.extensions)
    report.refused.extend(refused)
    max_bytes = int(settings.ingest.max_file_mb * 1_000_000)
    forced = {str(Path(f).resolve()) for f in force}
    records = store.document_records()
    ledger = store.source_entries()
    by_source: dict[str, set[str]] = {}  # source_key -> doc ids (a scan per file is quadratic at 10k files)
    for i, r in records.items():
        by_source.setdefault(r.get("source_key"), set()).add(i)
    pending: list[tuple[Document, list, str, bool]] = []
    entries: dict[str, dict] = {}  # ledger entries, written once their documents are committed
    leftovers: list[str] = []  # documents deleted after that: gone from their file, or removed

    def flush() -> None:
        if pending:
            # Embedded and written a slice of BATCH_CHUNKS chunks at a time, each under its
            # document's new version (invisible until the commit below): one long document
            # is one pending item of ~45,000 chunks, whose nodes (vectors as Python floats)
            # took ~15 KB each when built all at once. Then one upsert of the records commits all.
            versions = [new_version() for _ in pending]
            flat = [(k, c) for k, (_d, chunks, _key, _u) in enumerate(pending) for c in chunks]
            for i in range(0, len(flat), BATCH_CHUNKS):
                part = flat[i:i + BATCH_CHUNKS]
                vectors = embedder.embed([c.text for _k, c in part])
                trim_heap()  # torch's freed activations otherwise stay in the heap: RSS grew with the file
                at, groups = 0, []
                for k, group in groupby(part, key=lambda kc: kc[0]):
                    cs = [c for _k, c in group]
                    groups.append((pending[k][0].doc_id, versions[k], cs, vectors[at:at + len(cs)]))
                    at += len(cs)
                store.write_chunk_groups(groups)  # one Chroma add per slice, not per document
            del flat
            store.commit_documents([(doc, len(chunks), versions[k], key)
                                    for k, (doc, chunks, key, _u) in enumerate(pending)])
            for k, (doc, chunks, _key, updated) in enumerate(pending):
                (report.updated if updated else report.added).append(doc.doc_id)
                report.chunks += len(chunks)
                if written is not None:
                    written[doc.doc_id] = Store.chunk_records(doc.doc_id, versions[k], chunks)
            pending.clear()
        store.put_sources(entries)
        entries.clear()
        for doc_id in leftovers:
            store.delete_document(doc_id)
            if written is not None:
                written.pop(doc_id, None)
        leftovers.clear()

    for n, path in enumerate(files, start=1):
        if progress:
            progress(n - 1, len(files), str(path))
        try:
            loaded = load_file(path, max_bytes)
        except IngestError as e:
            report.refused.append(e)
            continue
        try:
            report.refused.extend(loaded.refused)
            source_key = str(path.resolve())
            old = {i: records[i] for i in by_source.get(source_key, ()) if i in records}
            entry = ledger.get(source_key)
            same = entry is not None and entry["sha256"] == loaded.sha256 and bool(entry["doc_ids"])
            listed = set(entry["doc_ids"]) if same else set()
            if source_key not in forced:
                kept_before = set(entry.get("kept") or []) if same else set()
                if same and all((records.get(d, {}).get("sha256") == loaded.sha256 or d in kept_before)
                                and records.get(d, {}).get("loader") == LOADER_VERSION for d in listed):
                    # this content is committed; finish what a killed run or removal left
                    report.skipped.extend(sorted(listed))
                    for d in sorted(set(old) - listed):
                        leftovers.append(d)
                        records.pop(d, None)
                    continue
                if not same and old and all(r.get("sha256") == loaded.sha256 and r.get("loader") == LOADER_VERSION
                                            for r in old.values()):
                    # committed before its ledger entry was written (an older index, or a kill)
                    report.skipped.extend(sorted(old))
                    entries[source_key] = {"sha256": loaded.sha256, "doc_ids": sorted(old), "removed": []}
                    continue
            removed = set(entry["removed"]) if same else set()
            origin, now = origin_of(path, loaded.sha256, settings), time.time()
            new_ids: list[str] = []
            unreadable = bool(loaded.refused)
            for doc in loaded.documents:
                doc_id = _unique_id(doc, source_key, records)
                if doc_id in removed:
                    continue
                doc = replace(doc, doc_id=doc_id, provenance=replace(doc.provenance, origin=origin, added_at=now))
                chunks = chunk_document(doc.doc_id, doc.text, settings.chunking.max_words,
                                        settings.chunking.overlap_sentences, settings.chunking.max_chars,
                                        body_start=doc.body_start)
                if not chunks:
                    report.refused.append(IngestError(doc.source, "no sentences found; nothing to index"))
                    unreadable = True
                    continue
                if any(d.doc_id == doc.doc_id for d, _c, _k, _u in pending):
                    flush()  # one Chroma call must not carry the same ids twice
                pending.append((doc, chunks, source_key, doc.doc_id in old))
                new_ids.append(doc.doc_id)
                records[doc.doc_id] = {"source_key": source_key, "sha256": doc.sha256}
                by_source.setdefault(source_key, set()).add(doc.doc_id)
                if sum(len(c) for _d, c, _k, _u in pending) >= BATCH_CHUNKS:
                    flush()
            # a part of the file that could not be read never removes what was indexed from it
            kept = set(old) - set(new_ids) - removed if unreadable else set()
            report.kept.extend(sorted(kept))
            entries[source_key] = {"sha256": loaded.sha256, "doc_ids": sorted(set(new_ids) | kept),
                                   "removed": sorted(removed), "kept": sorted(kept)}
            for d in sorted(set(old) - set(new_ids) - kept):
                leftovers.append(d)
                records.pop(d, None)
        except Exception as e:  # a bug on one odd file must not sink the batch
            report.refused.append(IngestError(str(path), f"could not be indexed ({type(e).__name__}: {e}); "
                                                         "please report this file"))
            continue
    flush()
    if progress:
        progress(len(files), len(files), "")
    return report
