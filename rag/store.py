"""The store: Chroma (through llama-index) for chunks, plus document records.

Layout of one index:
  <collection>_chunks  chunk vectors + text; llama-index TextNodes whose
                       start_char_idx/end_char_idx are offsets in the document
  <collection>_docs    one record per document: full text + metadata. Written
                       *after* its chunks, so it is the commit marker: chunks
                       whose document has no record are invisible and swept.
The chunks collection's metadata records how the index was built (embedding
model, chunking); opening it with other settings raises IndexMismatchError.
  <collection>_meta    small records: "generation", a token every write
                       replaces (readers compare it to decide whether their
                       BM25 snapshot is current), and "writer-lease" (server
                       mode only, see serverlock.py).
Everything lives in Chroma so that several processes (or a Chroma server)
share one index; the BM25 side (sparse.py) is derived from it.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import urlparse

import numpy as np

from .chunking import Chunk
from .documents import Document
from .embeddings import VECTOR_SPACE
from .errors import ConfigError, DocumentNotFoundError, IndexMismatchError
from .settings import Settings

SCHEMA = 1


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str


def build_signature(settings: Settings) -> dict:
    """What must match between the index and the settings that open it."""
    return {
        "rag_schema": SCHEMA,
        "rag_embedding_provider": VECTOR_SPACE.get(settings.embedding.provider, settings.embedding.provider),
        "rag_embedding_model": settings.embedding.model,
        "rag_chunk_max_words": settings.chunking.max_words,
        "rag_chunk_overlap_sentences": settings.chunking.overlap_sentences,
    }


def make_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        u = urlparse(settings.chroma_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"RAG_CHROMA_URL={settings.chroma_url!r} is not an http(s)://host:port URL.")
        try:
            return chromadb.HttpClient(host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
                                       ssl=u.scheme == "https", settings=chroma_settings)
        except Exception as e:
            raise ConfigError(f"Cannot reach the Chroma server at {settings.chroma_url} ({e}). "
                              "Start it (chroma run --path DIR --port N) or fix RAG_CHROMA_URL.") from None
    path = Path(settings.index_dir) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class Store:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = make_client(settings)
        sig = build_signature(settings)
        name = settings.collection
        self.chunks = self.client.get_or_create_collection(
            f"{name}_chunks", metadata={**sig, "hnsw:space": "cosine"}, embedding_function=None)
        self._check_signature(sig)
        # Document records carry no vector; Chroma insists on one, so a constant
        # 1-d placeholder is stored.
        self.docs = self.client.get_or_create_collection(
            f"{name}_docs", metadata={"rag_schema": SCHEMA}, embedding_function=None)
        self.meta = self.client.get_or_create_collection(
            f"{name}_meta", metadata={"rag_schema": SCHEMA}, embedding_function=None)
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.vector_store = ChromaVectorStore(chroma_collection=self.chunks)

    # -- build signature -------------------------------------------------
    def _check_signature(self, sig: dict) -> None:
        meta = self.chunks.metadata or {}
        diffs = [f"{k.removeprefix('rag_')}: index has {meta.get(k)!r}, settings say {v!r}"
                 for k, v in sig.items() if meta.get(k) != v]
        if diffs:
            where = self.settings.chroma_url or str(self.settings.index_dir)
            raise IndexMismatchError(
                f"The index at {where} was built with other settings ({'; '.join(diffs)}). "
                "Use the settings it was built with, or re-ingest into a new index "
                "(rag ingest --index NEW_DIR PATHS...)."
            )

    # -- documents ---------------------------------------------------------
    def document_records(self) -> dict[str, dict]:
        got = self.docs.get(include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"])}

    def get_document(self, doc_id: str) -> Document:
        got = self.docs.get(ids=[doc_id], include=["documents", "metadatas"])
        if not got["ids"]:
            raise DocumentNotFoundError(doc_id)
        return _to_document(doc_id, got["documents"][0], got["metadatas"][0])

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        got = self.docs.get(ids=ids, include=["documents", "metadatas"])
        return {i: _to_document(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def docs_for_source(self, source: str) -> dict[str, dict]:
        got = self.docs.get(where={"source_key": source}, include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"])}

    # -- writes (callers hold the index write lock) -----------------------
    def add_document(self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, source_key: str) -> None:
        self.add_documents([(doc, chunks, vectors, source_key)])

    def add_documents(self, items: list[tuple[Document, list[Chunk], np.ndarray, str]]) -> None:
        """Write the chunks of several documents in one Chroma call, then their
        records (the commit marker) in one more, then bump the generation."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        if not items:
            return
        def node(doc: Document, c: Chunk, vec: np.ndarray) -> TextNode:
            n = TextNode(
                id_=c.id, text=c.text, start_char_idx=c.start, end_char_idx=c.end,
                metadata={"chunk": c.index}, embedding=vec.tolist(),
                excluded_embed_metadata_keys=["chunk"], excluded_llm_metadata_keys=["chunk"],
            )
            n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.doc_id)
            return n

        # nodes are built 5000 at a time (a 20 MB document has ~30,000 chunks; their
        # vectors as Python float lists all at once took ~GB)
        flat = ((doc, c, vec) for doc, chunks, vectors, _key in items for c, vec in zip(chunks, vectors))
        while batch := [node(*x) for x in itertools.islice(flat, 5000)]:
            self.vector_store.add(batch)
        now = time.time()
        ids, texts, metas = [], [], []
        for doc, chunks, _vectors, source_key in items:
            ids.append(doc.doc_id)
            texts.append(doc.text)
            metas.append({k: v for k, v in {
                "title": doc.title, "source": doc.source, "date": doc.date, "outlet": doc.outlet,
                "sha256": doc.sha256, "source_key": source_key, "n_chunks": len(chunks),
                "n_chars": len(doc.text), "ingested_at": now,
            }.items() if v is not None})
        self.docs.upsert(ids=ids, documents=texts, metadatas=metas, embeddings=[[1.0]] * len(ids))
        self.bump_generation()

    def mark_kept(self, doc_ids: list[str], sha256: str) -> None:
        """These documents stay as indexed although their source file changed to the
        version `sha256`, which no longer yields them readably (a malformed .jsonl line):
        an unchanged re-ingest of that version skips the file instead of redoing it."""
        if doc_ids:
            self.docs.update(ids=list(doc_ids), metadatas=[{"kept_in": sha256}] * len(doc_ids))

    def delete_document(self, doc_id: str) -> None:
        """Remove the record first (the document vanishes at once), then its chunks."""
        self.docs.delete(ids=[doc_id])
        self.vector_store.delete(ref_doc_id=doc_id)
        self.bump_generation()

    def sweep_orphans(self) -> int:
        """Delete chunks whose document record is missing (an interrupted ingest)."""
        recs = self.document_records()
        if self.chunks.count() <= sum(int(r.get("n_chunks") or 0) for r in recs.values()):
            return 0  # every chunk belongs to a record: skip reading 100k chunk ids
        known = set(recs)
        orphans = sorted({d for d in self.chunk_doc_ids() if d not in known})
        for d in orphans:
            self.vector_store.delete(ref_doc_id=d)
        if orphans:
            self.bump_generation()
        return len(orphans)

    # -- chunks -------------------------------------------------------------
    def chunk_doc_ids(self) -> set[str]:
        got = self.chunks.get(include=["metadatas"])
        return {m.get("document_id") for m in got["metadatas"] if m}

    def all_chunks(self, batch: int = 5000) -> list[ChunkRecord]:
        out: list[ChunkRecord] = []
        offset = 0
        while True:
            got = self.chunks.get(include=["metadatas", "documents"], limit=batch, offset=offset)
            if not got["ids"]:
                break
            out.extend(_record_from_meta(i, m, t)
                       for i, m, t in zip(got["ids"], got["metadatas"], got["documents"]))
            offset += len(got["ids"])
        return out

    def dense_query(self, vector: np.ndarray, k: int) -> list[tuple[ChunkRecord, float]]:
        """Nearest chunks. Straight to Chroma (no count() round trip, no
        llama-index node rebuild); the score is llama-index's exp(-distance)."""
        res = self.chunks.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                                include=["metadatas", "documents", "distances"])
        return [(_record_from_meta(i, m, t), math.exp(-d)) for i, m, t, d in
                zip(res["ids"][0], res["metadatas"][0], res["documents"][0], res["distances"][0])]

    def chunk_ids(self, batch: int = 20000) -> list[str]:
        out: list[str] = []
        while True:
            got = self.chunks.get(include=[], limit=batch, offset=len(out))
            if not got["ids"]:
                return out
            out.extend(got["ids"])

    def chunks_by_id(self, ids: list[str], batch: int = 2000) -> list[ChunkRecord]:
        out: list[ChunkRecord] = []
        for i in range(0, len(ids), batch):
            got = self.chunks.get(ids=ids[i:i + batch], include=["metadatas", "documents"])
            out.extend(_record_from_meta(c, m, t)
                       for c, m, t in zip(got["ids"], got["metadatas"], got["documents"]))
        return out

    def chunks_of(self, doc_ids: list[str]) -> list[ChunkRecord]:
        """All chunks of these documents (one query)."""
        if not doc_ids:
            return []
        where = {"document_id": doc_ids[0]} if len(doc_ids) == 1 else {"document_id": {"$in": list(doc_ids)}}
        got = self.chunks.get(where=where, include=["metadatas", "documents"])
        return [_record_from_meta(c, m, t) for c, m, t in zip(got["ids"], got["metadatas"], got["documents"])]

    # -- generation ---------------------------------------------------------
    def bump_generation(self) -> str:
        """Every write replaces the token (not a counter: two writers on one
        server cannot lose an increment, they just leave a fresh token)."""
        token = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        self.meta.upsert(ids=["generation"], documents=[token], metadatas=[{"value": token}],
                         embeddings=[[1.0]])
        return token

    def generation(self) -> str:
        """Changes whenever any document is added, changed or removed.

        One small record read (a few ms even over HTTP), so readers can poll it
        every couple of seconds; indexes written before the record existed
        fall back to a hash of the document records.
        """
        got = self.meta.get(ids=["generation"], include=["metadatas"])
        if got["ids"]:
            # The counts catch a writer killed between committing its records and
            # replacing the token: otherwise every BM25 snapshot (and the dense
            # hits filtered by it) would miss the committed documents until the
            # next write.
            return f"{got['metadatas'][0]['value']}-{self.docs.count()}-{self.chunks.count()}"
        recs = self.document_records()
        h = hashlib.sha256()
        for i in sorted(recs):
            h.update(f"{i}\0{recs[i].get('sha256')}\0{recs[i].get('ingested_at')}\n".encode())
        h.update(str(self.chunks.count()).encode())
        return "legacy-" + h.hexdigest()[:16]


def _record_from_meta(chunk_id: str, meta: dict, text: str) -> ChunkRecord:
    # llama-index keeps the node (with its offsets) as JSON in `_node_content`
    # and the text itself as the Chroma document.
    node = json.loads(meta["_node_content"])
    return ChunkRecord(chunk_id, meta.get("document_id"), node["start_char_idx"],
                       node["end_char_idx"], text)


def _to_document(doc_id: str, text: str, meta: Optional[dict]) -> Document:
    m = meta or {}
    return Document(doc_id=doc_id, title=m.get("title", doc_id), source=m.get("source", ""),
                    text=text, date=m.get("date"), outlet=m.get("outlet"), sha256=m.get("sha256", ""))
