"""The store: Chroma (through llama-index) for chunks, plus document records.

Layout of one index:
  <collection>_chunks  chunk vectors + text; llama-index TextNodes whose
                       start_char_idx/end_char_idx are offsets in the document.
                       Each chunk carries the *version* of the document it was
                       cut from (a token per write; "" in indexes built before
                       versions existed) and its id says so: DOC::VERSION::N.
  <collection>_docs    one record per document: full text + metadata, naming
                       the version whose chunks are the document. Readers (BM25
                       snapshot, dense hits, doctor) only see chunks of that
                       version; any other chunk is a leftover, invisible, and
                       swept by the next write or `rag doctor --repair`.
  <collection>_sources the sources ledger: one entry per ingested file, with
                       the hash of the content whose documents are committed,
                       their ids, and the ids the user removed since. It is
                       what lets `rag doctor` see a document that went missing.
  <collection>_meta    small records: "generation", a token every write
                       replaces (readers compare it to decide whether their
                       BM25 snapshot is current), and "writer-lease" (server
                       mode only, see serverlock.py).
The chunks collection's metadata records how the index was built (embedding
model, chunking); opening it with other settings raises IndexMismatchError.

Writes are ordered so that a kill at any instant leaves every document whole
in its old or its new version (see add_documents and remove_document).
Everything lives in Chroma so that several processes (or a Chroma server)
share one index; the BM25 side (sparse.py) is derived from it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Optional

import numpy as np

from .chunking import Chunk
from .documents import Document, Provenance
from .embeddings import VECTOR_SPACE
from .chromaclient import make_client
from .errors import DocumentNotFoundError, IndexMismatchError
from .settings import Settings

if TYPE_CHECKING:
    from .integrity import StoreHealth

SCHEMA = 1
# How files are read into documents (title, dateline, body_start). A record written by an
# older reading is re-ingested even when its file is unchanged (ingest.py checks it).
LOADER_VERSION = 3  # 3: provenance (where outlet, date and title come from)
# Chunks turned into nodes and written per Chroma add (store.write_chunks): bounds the
# memory a long document's nodes (each vector as a list of Python floats) take at once.
CHUNK_WRITE_BATCH = 512


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    version: str = ""


def build_signature(settings: Settings) -> dict:
    """What must match between the index and the settings that open it."""
    return {
        "rag_schema": SCHEMA,
        "rag_embedding_provider": VECTOR_SPACE.get(settings.embedding.provider, settings.embedding.provider),
        "rag_embedding_model": settings.embedding.model,
        "rag_chunk_max_words": settings.chunking.max_words,
        "rag_chunk_overlap_sentences": settings.chunking.overlap_sentences,
    }


def chunk_id(doc_id: str, version: str, index: int) -> str:
    return f"{doc_id}::{version}::{index}" if version else f"{doc_id}::{index}"


def new_version() -> str:
    return uuid.uuid4().hex[:10]


def _source_id(source_key: str) -> str:
    return "src-" + hashlib.sha256(source_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


PAGE = 5000  # chunks per Chroma get/delete: far below SQLite's limit of 32,766 variables
# Document records per Chroma get. An unpaged get of every record's metadata took 420 MB
# of transient memory at 12,176 documents (rag bench's 100k-chunk index; Chroma reads the
# stored documents too), 190 MB in pages of 2,000 and 76 MB in pages of 500, for the same
# ~0.5 s: it was the serving process's peak (scripts/measure_serve_memory.py).
DOC_PAGE = 500


def _doc_filter(doc_ids: list[str]) -> dict:
    return {"document_id": doc_ids[0]} if len(doc_ids) == 1 else {"document_id": {"$in": doc_ids}}


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
        self.sources = self.client.get_or_create_collection(
            f"{name}_sources", metadata={"rag_schema": SCHEMA}, embedding_function=None)
        self.meta = self.client.get_or_create_collection(
            f"{name}_meta", metadata={"rag_schema": SCHEMA}, embedding_function=None)
        # Server mode: the write lock sets this to a check that this process still
        # holds the writer lease; it runs right before each commit (the record switch).
        self.fence: Optional[Callable[[], None]] = None

    @functools.cached_property
    def vector_store(self):
        """llama-index's Chroma vector store over the chunk collection, which writes the chunks.
        Made at the first write: importing llama-index costs ~1 s, and a process that only
        answers from an existing index (`rag ask`, the UI) reads Chroma directly and never needs it."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

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
    def document_records(self, doc_ids: Optional[Iterable[str]] = None) -> dict[str, dict]:
        """Metadata of every document, or of the given ones."""
        if doc_ids is not None:
            ids = list(dict.fromkeys(doc_ids))
            pages = (self.docs.get(ids=ids[i:i + DOC_PAGE], include=["metadatas"])
                     for i in range(0, len(ids), DOC_PAGE))
        else:
            pages = self._pages(None, ["metadatas"], DOC_PAGE, self.docs)
        return {i: dict(m or {}) for got in pages for i, m in zip(got["ids"], got["metadatas"])}

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

    # -- the sources ledger ------------------------------------------------
    def source_entries(self) -> dict[str, dict]:
        """source_key -> {"sha256", "doc_ids": [...], "removed": [...], "at"}: per
        ingested file, the content whose documents are committed, what the user
        removed since, and when the entry was written."""
        got = self.sources.get(include=["metadatas"])
        out = {}
        for m in got["metadatas"]:
            m = dict(m or {})
            out[m.get("source_key", "")] = {"sha256": m.get("sha256", ""),
                                            "doc_ids": json.loads(m.get("doc_ids") or "[]"),
                                            "removed": json.loads(m.get("removed") or "[]"),
                                            "kept": json.loads(m.get("kept") or "[]"),
                                            "at": float(m.get("at") or 0)}
        return out

    def put_sources(self, entries: dict[str, dict]) -> None:
        """Write ledger entries (after the documents they name are committed)."""
        if not entries:
            return
        keys = list(entries)
        now = time.time()
        self.sources.upsert(
            ids=[_source_id(k) for k in keys], documents=keys, embeddings=[[1.0]] * len(keys),
            metadatas=[{"source_key": k, "sha256": entries[k].get("sha256") or "",
                        "doc_ids": json.dumps(sorted(entries[k].get("doc_ids") or [])),
                        "removed": json.dumps(sorted(entries[k].get("removed") or [])),
                        # documents whose older version stays because this content no longer
                        # yields them readably (a malformed .jsonl line)
                        "kept": json.dumps(sorted(entries[k].get("kept") or [])),
                        "at": now} for k in keys])

    # -- writes (callers hold the index write lock) -----------------------
    def add_document(self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, source_key: str) -> None:
        self.add_documents([(doc, chunks, vectors, source_key)])

    def add_documents(self, items: list[tuple[Document, list[Chunk], np.ndarray, str]]) -> None:
        """Add or replace documents, atomically for readers:
        1. the chunks of a new version of each document (readers ignore them:
           no record names that version yet), written by write_chunks;
        2. the records, naming the new versions, in one upsert: the switch
           (commit_documents);
        3. the chunks of any other version of these documents deleted.
        Killed before 2, the old version (or, for a new document, nothing) is
        what readers see; after 2, the new one. Leftover chunks are invisible
        and swept by the next write (sweep_orphans) or `rag doctor --repair`.
        Ingest calls the two steps itself, so that a long document's chunks are
        embedded and written a slice at a time rather than held all at once."""
        if not items:
            return
        commits = []
        for doc, chunks, vectors, key in items:
            v = new_version()
            for i in range(0, len(chunks), CHUNK_WRITE_BATCH):
                self.write_chunks(doc.doc_id, v, chunks[i:i + CHUNK_WRITE_BATCH],
                                  vectors[i:i + CHUNK_WRITE_BATCH])
            commits.append((doc, len(chunks), v, key))
        self.commit_documents(commits)

    def write_chunks(self, doc_id: str, version: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Step 1 of add_documents: chunks of `version` of a document, invisible to
        readers until commit_documents names that version. Callers pass slices
        (CHUNK_WRITE_BATCH): the nodes of one call are all in memory at once."""
        self.write_chunk_groups([(doc_id, version, chunks, vectors)])

    def write_chunk_groups(self, groups: list[tuple[str, str, list[Chunk], np.ndarray]]) -> None:
        """write_chunks for several documents' (doc_id, version, chunks, vectors) in one Chroma
        add: each add costs a transaction and an index update whatever its size, so ingest's
        one add per document took 4.5 ms a chunk at 8 chunks a document (rag bench's corpus),
        most of what ingest spent besides the model."""
        nodes = []
        for doc_id, version, chunks, vectors in groups:
            nodes.extend(self._nodes(doc_id, version, chunks, vectors))
        if nodes:
            self.vector_store.add(nodes)

    @staticmethod
    def chunk_records(doc_id: str, version: str, chunks: list[Chunk]) -> list[ChunkRecord]:
        """The records readers get back (chunks_of) for chunks write_chunks wrote."""
        return [ChunkRecord(chunk_id(doc_id, version, c.index), doc_id, c.start, c.end, c.text, version)
                for c in chunks]

    @staticmethod
    def _nodes(doc_id: str, version: str, chunks: list[Chunk], vectors: np.ndarray) -> list:
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        nodes = []
        for c, vec in zip(chunks, vectors):
            node = TextNode(
                id_=chunk_id(doc_id, version, c.index), text=c.text, start_char_idx=c.start,
                end_char_idx=c.end, metadata={"chunk": c.index, "version": version}, embedding=vec.tolist(),
                excluded_embed_metadata_keys=["chunk", "version"],
                excluded_llm_metadata_keys=["chunk", "version"],
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
            nodes.append(node)
        return nodes

    def commit_documents(self, items: list[tuple[Document, int, str, str]]) -> None:
        """Steps 2 and 3 of add_documents for (document, number of chunks, version
        whose chunks write_chunks wrote, source key): one upsert of the records
        switches every document to its new version, then older versions' chunks go."""
        if not items:
            return
        if self.fence is not None:
            self.fence()  # lost the writer lease: stop before anything becomes visible
        now = time.time()
        ids, texts, metas = [], [], []
        versions: dict[str, str] = {}
        for doc, n_chunks, version, source_key in items:
            versions[doc.doc_id] = version
            ids.append(doc.doc_id)
            texts.append(doc.text)
            metas.append({k: v for k, v in {
                "title": doc.title, "source": doc.source, "date": doc.date, "outlet": doc.outlet,
                "sha256": doc.sha256, "source_key": source_key, "n_chunks": n_chunks,
                "n_chars": len(doc.text), "ingested_at": now, "version": version,
                "body_start": doc.body_start, "place": doc.place, "loader": LOADER_VERSION,
                **doc.provenance.to_meta(),
            }.items() if v is not None})
        self.docs.upsert(ids=ids, documents=texts, metadatas=metas, embeddings=[[1.0]] * len(ids))
        self._delete_chunk_ids(self._stale_of(versions))
        self.bump_generation()

    def _stale_of(self, versions: dict[str, str]) -> list[str]:
        """Ids of chunks of these documents that are not of the given versions."""
        out: list[str] = []
        ids = list(versions)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for got in self._pages(_doc_filter(part), ["metadatas"]):
                out.extend(c for c, m in zip(got["ids"], got["metadatas"])
                           if (m or {}).get("version", "") != versions.get((m or {}).get("document_id")))
        return out

    def _pages(self, where: Optional[dict], include: list[str], batch: int = PAGE, collection=None):
        """Chunk query results (of every chunk when `where` is None) `batch` at a time, or those
        of another `collection`. One unpaged get of a document with more than ~32,000 chunks (a
        19 MB file makes 44,000) fails inside Chroma with SQLite's "too many SQL variables",
        after the whole file was embedded."""
        coll = self.chunks if collection is None else collection
        offset = 0
        while True:
            got = coll.get(where=where, include=include, limit=batch, offset=offset)
            if not got["ids"]:
                return
            yield got
            if len(got["ids"]) < batch:
                return
            offset += len(got["ids"])

    def _delete_chunk_ids(self, ids: list[str]) -> None:
        for i in range(0, len(ids), PAGE):
            self.chunks.delete(ids=ids[i:i + PAGE])

    def delete_document(self, doc_id: str) -> None:
        """Remove the record first (the document vanishes at once), then its
        chunks (all versions). Idempotent: run again, it finishes the job."""
        self.docs.delete(ids=[doc_id])
        ids = [c for got in self._pages({"document_id": doc_id}, []) for c in got["ids"]]
        self._delete_chunk_ids(ids)  # by id, a page at a time (see _pages)
        self.bump_generation()

    def remove_document(self, doc_id: str) -> str:
        """What `rag remove` does; safe to run again after it was interrupted.

        1. the sources ledger moves the id to its source's "removed" list, so
           neither `rag doctor --repair` nor re-ingesting the unchanged file
           brings it back;
        2. the record is deleted (the document is gone for readers);
        3. its chunks are deleted.
        Returns "removed", or "already removed" when an earlier, interrupted or
        finished, removal left nothing to do. Raises DocumentNotFoundError for
        an id this index never had."""
        got = self.docs.get(ids=[doc_id], include=["metadatas"])
        rec = dict(got["metadatas"][0] or {}) if got["ids"] else None
        has_chunks = bool(self.chunks.get(where={"document_id": doc_id}, limit=1, include=[])["ids"])
        entries = self.source_entries()
        key = rec.get("source_key", "") if rec is not None else next(
            (k for k, e in entries.items() if doc_id in e["doc_ids"] or doc_id in e["removed"]), None)
        entry = entries.get(key) if key is not None else None
        if rec is None and not has_chunks:
            if entry is not None and doc_id in entry["removed"]:
                return "already removed"
            if entry is None or doc_id not in entry["doc_ids"]:
                raise DocumentNotFoundError(doc_id)
        if key is not None:
            if entry is None:  # an index from before the ledger: record what the source has
                sha = rec.get("sha256", "") if rec else ""
                entry = {"sha256": sha, "doc_ids": [d for d, r in self.docs_for_source(key).items()
                                                    if r.get("sha256") == sha], "removed": []}
            if doc_id in entry["doc_ids"] or doc_id not in entry["removed"]:
                self.put_sources({key: {"sha256": entry["sha256"],
                                        "doc_ids": [d for d in entry["doc_ids"] if d != doc_id],
                                        "removed": sorted(set(entry["removed"]) | {doc_id})}})
        self.delete_document(doc_id)
        return "removed"

    def stale_chunk_ids(self, records: Optional[dict[str, dict]] = None) -> list[str]:
        """Chunks no reader sees: no record, or a version other than the record's."""
        recs = self.document_records() if records is None else records
        out: list[str] = []
        for cid, doc_id, version in self._chunk_keys():
            rec = recs.get(doc_id)
            if rec is None or rec.get("version", "") != version:
                out.append(cid)
        return out

    def sweep_orphans(self) -> int:
        """Delete the chunks no reader sees (leftovers of an interrupted write);
        returns how many."""
        recs = self.document_records()
        if self.chunks.count() <= sum(int(r.get("n_chunks") or 0) for r in recs.values()):
            return 0  # every chunk belongs to a record: skip reading 100k chunk ids
        stale = self.stale_chunk_ids(recs)
        self.delete_chunks(stale)
        return len(stale)

    def delete_chunks(self, ids: list[str]) -> None:
        """Delete these chunks (leftovers no reader sees) and tell readers the index changed."""
        if ids:
            self._delete_chunk_ids(ids)
            self.bump_generation()

    # -- health (what `rag doctor` runs; integrity.py does the work) ---------
    def check(self, dense_sample: int = 20) -> "StoreHealth":
        """Read-only: is every document whole, every chunk's offset valid, the sources
        ledger in step and the dense index answering? See integrity.check_store."""
        from .integrity import check_store

        return check_store(self, dense_sample)

    def rebuild(self, embed: Callable[[list[str]], np.ndarray], reingest: Callable[[str], set[str]],
                problems: Optional[list] = None) -> list[str]:
        """Make the store whole again (hold the write lock): sweep leftovers, finish interrupted
        removals and updates, re-ingest or re-chunk damaged documents. Returns what was done.
        See integrity.rebuild_store."""
        from .integrity import rebuild_store

        return rebuild_store(self, embed, reingest, problems)

    # -- chunks -------------------------------------------------------------
    def _chunk_keys(self, batch: int = 20000) -> list[tuple[str, str, str]]:
        """(chunk id, document id, version) of every chunk."""
        return [(c, (m or {}).get("document_id"), (m or {}).get("version", ""))
                for got in self._pages(None, ["metadatas"], batch) for c, m in zip(got["ids"], got["metadatas"])]

    def all_chunks(self, batch: int = PAGE) -> list[ChunkRecord]:
        return [_record_from_meta(i, m, t) for got in self._pages(None, ["metadatas", "documents"], batch)
                for i, m, t in zip(got["ids"], got["metadatas"], got["documents"])]

    def dense_query(self, vector: np.ndarray, k: int) -> list[tuple[ChunkRecord, float]]:
        """Nearest chunks. Straight to Chroma (no count() round trip, no
        llama-index node rebuild); the score is llama-index's exp(-distance)."""
        res = self.chunks.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                                include=["metadatas", "documents", "distances"])
        return [(_record_from_meta(i, m, t), math.exp(-d)) for i, m, t, d in
                zip(res["ids"][0], res["metadatas"][0], res["documents"][0], res["distances"][0])]

    def chunks_of(self, doc_ids: list[str]) -> list[ChunkRecord]:
        """All chunks of these documents, of every version (paged queries); readers
        keep those of the version each record names."""
        if not doc_ids:
            return []
        return [_record_from_meta(c, m, t) for got in self._pages(_doc_filter(list(doc_ids)), ["metadatas", "documents"])
                for c, m, t in zip(got["ids"], got["metadatas"], got["documents"])]

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
                       node["end_char_idx"], text, meta.get("version", ""))


def _to_document(doc_id: str, text: str, meta: Optional[dict]) -> Document:
    m = meta or {}
    return Document(doc_id=doc_id, title=m.get("title", doc_id), source=m.get("source", ""),
                    text=text, date=m.get("date"), outlet=m.get("outlet"), sha256=m.get("sha256", ""),
                    body_start=int(m.get("body_start") or 0), place=m.get("place"),
                    provenance=Provenance.from_meta(m))
