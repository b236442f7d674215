"""Ingest: files -> documents -> chunks with offsets -> vectors -> store.

Incremental by content hash: a file whose bytes are unchanged is skipped; a
changed file's old documents are replaced. Refusals are collected per file
(or .jsonl line) and never stop the other files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from .chunking import chunk_document
from .documents import Document, sha256_bytes
from .embeddings import Embedder
from .errors import IngestError
from .loaders import discover, load_file
from .settings import Settings
from .store import Store

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


def _prepare(loaded, source_key: str, records: dict[str, dict], settings: Settings,
             report: IngestReport) -> list[tuple[Document, list]]:
    """The loaded documents with their chunks (refusing those without any), before
    anything already indexed is touched."""
    out = []
    for doc in loaded.documents:
        doc_id = _unique_id(doc, source_key, records)
        if doc_id != doc.doc_id:
            doc = Document(doc_id, doc.title, doc.source, doc.text, doc.date, doc.outlet, doc.sha256)
        chunks = chunk_document(doc.doc_id, doc.text, settings.chunking.max_words,
                                settings.chunking.overlap_sentences, settings.chunking.max_chars)
        if not chunks:
            report.refused.append(IngestError(doc.source, "no sentences found; nothing to index"))
            continue
        out.append((doc, chunks))
    return out


BATCH_CHUNKS = 512  # chunks embedded and written per call (see flush below)


def ingest_paths(paths: Iterable[str | Path], store: Store, embedder: Embedder,
                 settings: Settings, progress: Optional[Progress] = None) -> IngestReport:
    """Documents are queued until BATCH_CHUNKS chunks are pending, then embedded
    in one call (the model sorts them by length and pads less; per-document
    calls of ~8 chunks ran at half the model's throughput) and written with one
    Chroma add plus one upsert of their records (the commit marker)."""
    report = IngestReport()
    files, refused = discover(paths, settings.ingest.extensions)
    report.refused.extend(refused)
    max_bytes = int(settings.ingest.max_file_mb * 1_000_000)
    records = store.document_records()
    by_source: dict[str, set[str]] = {}  # source_key -> doc ids (a scan per file is quadratic at 10k files)
    for i, r in records.items():
        by_source.setdefault(r.get("source_key"), set()).add(i)
    pending: list[tuple[Document, list, str, bool]] = []

    def flush() -> None:
        if not pending:
            return
        texts = [c.text for _d, chunks, _k, _u in pending for c in chunks]
        # one long document is one pending item of ~30,000 chunks: tokenizing them all at
        # once held ~GB of tokenizer state; slices keep it to BATCH_CHUNKS texts
        vectors = np.concatenate([embedder.embed(texts[i:i + BATCH_CHUNKS])
                                  for i in range(0, len(texts), BATCH_CHUNKS)])
        items, at = [], 0
        for doc, chunks, key, _updated in pending:
            items.append((doc, chunks, vectors[at:at + len(chunks)], key))
            at += len(chunks)
        store.add_documents(items)
        for doc, chunks, _key, updated in pending:
            (report.updated if updated else report.added).append(doc.doc_id)
            report.chunks += len(chunks)
        pending.clear()

    for n, path in enumerate(files, start=1):
        if progress:
            progress(n - 1, len(files), str(path))
        source_key = str(path.resolve())
        try:
            loaded = load_file(path, max_bytes)
            report.refused.extend(loaded.refused)
            old = {i: records[i] for i in by_source.get(source_key, ()) if i in records}
            if old and all(loaded.sha256 in (r.get("sha256"), r.get("kept_in")) for r in old.values()):
                report.skipped.extend(sorted(old))
                continue
            docs = _prepare(loaded, source_key, records, settings, report)
        except IngestError as e:
            report.refused.append(e)
            continue
        except Exception as e:  # a bug on one odd file must not sink the batch
            report.refused.append(IngestError(str(path), f"could not be indexed ({type(e).__name__}: {e}); "
                                                         "please report this file"))
            continue
        # Part of the new version unreadable (a .jsonl line now malformed): the articles it no
        # longer yields may be the ones on the refused lines, so their indexed version stays.
        new_ids = {d.doc_id for d, _c in docs}
        unreadable = bool(loaded.refused) or len(docs) < len(loaded.documents)
        kept = sorted(i for i in old if i not in new_ids) if unreadable else []
        if kept:
            store.mark_kept(kept, loaded.sha256)
            report.kept.extend(kept)
        for doc_id in old:
            if doc_id not in kept:
                store.delete_document(doc_id)
                records.pop(doc_id, None)
        for doc, chunks in docs:
            if any(d.doc_id == doc.doc_id for d, _c, _k, _u in pending):
                flush()  # one Chroma call must not carry the same ids twice
            pending.append((doc, chunks, source_key, doc.doc_id in old))
            records[doc.doc_id] = {"source_key": source_key, "sha256": doc.sha256}
            by_source.setdefault(source_key, set()).add(doc.doc_id)
            if sum(len(c) for _d, c, _k, _u in pending) >= BATCH_CHUNKS:
                flush()
    flush()
    if progress:
        progress(len(files), len(files), "")
    return report
