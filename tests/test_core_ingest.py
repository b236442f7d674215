"""Ingest into a real Chroma index: incremental updates, removal, refusals, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import assert_quotes_verbatim
from fakes import HashEmbedder
from rag import Assistant
from rag.errors import DocumentNotFoundError, IndexMismatchError, QuestionError
from rag.settings import Settings

NEW_FACT = ("Lake Thanh Binh festival\n\nThe Lake Thanh Binh lantern festival drew 41,500 visitors "
            "on its opening night, organisers said. Tickets cost 30,000 dong each.\n")


def chunk_count(a: Assistant) -> int:
    return a.store.chunks.count()


def test_reingest_unchanged_is_a_no_op(tmp_path, articles_copy):
    a = Assistant(index_dir=tmp_path / "idx", embedder=HashEmbedder())  # no question: the model is not the point
    first = a.ingest([articles_copy])
    assert len(first.added) == 2 and first.ok
    n = chunk_count(a)
    second = a.ingest([articles_copy])
    assert second.added == [] and second.updated == []
    assert sorted(second.skipped) == sorted(first.added)
    assert chunk_count(a) == n


def test_changed_file_replaces_its_chunks(tmp_path, articles_copy):
    a = Assistant(index_dir=tmp_path / "idx")
    f = articles_copy / "local-2025-11-12-lantern-festival.txt"
    f.write_text(NEW_FACT, encoding="utf-8")
    a.ingest([articles_copy])
    ans = a.ask("How many visitors did the lantern festival draw?")
    assert "41,500" in ans.short.text
    f.write_text(NEW_FACT.replace("41,500", "52,800"), encoding="utf-8")
    report = a.ingest([articles_copy])
    assert report.updated == ["local-2025-11-12-lantern-festival"]
    assert len(report.skipped) == 2
    ans = a.ask("How many visitors did the lantern festival draw?")
    assert "52,800" in ans.short.text and not ans.abstained
    assert_quotes_verbatim(a, ans)
    texts = [r.text for r in a.store.all_chunks()]
    assert not any("41,500" in t for t in texts), "old chunks are gone"
    assert a.document("local-2025-11-12-lantern-festival").text == f.read_text(encoding="utf-8")


def test_remove_document(tmp_path, articles_copy):
    a = Assistant(index_dir=tmp_path / "idx")
    a.ingest([articles_copy])
    doc_id = "vov-2025-11-10-pm-calls-for-proactive-multilateral-diplomacy"
    a.remove(doc_id)
    assert doc_id not in {d["doc_id"] for d in a.documents()}
    with pytest.raises(DocumentNotFoundError, match="rag docs"):
        a.document(doc_id)
    ans = a.ask("How much did vaccine diplomacy save the state budget?")
    assert all(q.doc_id != doc_id for q in ans.quotes + ans.closest)
    assert a.remove(doc_id) == "already removed"  # idempotent: running it again is not an error
    with pytest.raises(DocumentNotFoundError):
        a.remove("no-such-document")


def test_bad_inputs_are_refused_by_name_and_the_rest_is_ingested(tmp_path, articles_copy):
    a = Assistant(index_dir=tmp_path / "idx")
    a.ingest([articles_copy])
    before = {d["doc_id"] for d in a.documents()}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" + bytes(range(256)))
    (bad / "latin1.txt").write_bytes("Caf\xe9 in H\xe0 N\xf4i".encode("latin-1"))
    (bad / "notes.pdf").write_bytes(b"%PDF-1.4")
    (bad / "good.md").write_text(NEW_FACT, encoding="utf-8")
    report = a.ingest([bad / "empty.txt", bad / "binary.txt", bad / "latin1.txt",
                       bad / "notes.pdf", bad / "good.md", tmp_path / "missing.txt"])
    reasons = {Path(e.source).name: e.reason for e in report.refused}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "unsupported" in reasons["notes.pdf"] and ".pdf" in reasons["notes.pdf"]
    assert "no such file" in reasons["missing.txt"]
    assert report.added == ["good"]
    assert {d["doc_id"] for d in a.documents()} == before | {"good"}
    assert "41,500" in a.ask("How many visitors came on the opening night?").short.text


def test_html_and_jsonl_loaders(tmp_path):
    a = Assistant(index_dir=tmp_path / "idx")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Bridge opens</title><style>p{color:red}</style>"
        "<script>var secret='SCRIPT-TEXT';</script></head><body><h1>Bridge opens</h1>"
        "<p>The Rồng Vàng bridge opened on March 3 after costing 120 million dollars.</p></body></html>",
        encoding="utf-8")
    (tmp_path / "feed.jsonl").write_text(
        json.dumps({"text": "The harbour expansion will add 14 berths by 2027.", "title": "Harbour",
                    "url": "https://example.test/harbour", "date": "2025-01-02"}) + "\n"
        + "{not json\n" + json.dumps({"title": "no text"}) + "\n", encoding="utf-8")
    report = a.ingest([tmp_path / "page.html", tmp_path / "feed.jsonl"])
    assert sorted(report.added) == ["feed-1", "page"]
    refused = {e.source: e.reason for e in report.refused}
    assert any(s.endswith("feed.jsonl:2") and "invalid JSON" in r for s, r in refused.items())
    assert any(s.endswith("feed.jsonl:3") and '"text"' in r for s, r in refused.items())
    page = a.document("page")
    assert page.title == "Bridge opens" and "SCRIPT-TEXT" not in page.text and "color" not in page.text
    feed = a.document("feed-1")
    assert feed.source == "https://example.test/harbour" and feed.date == "2025-01-02"
    ans = a.ask("How many berths will the harbour expansion add?")
    assert "14 berths" in ans.short.text
    assert_quotes_verbatim(a, ans)
    ans = a.ask("How much did the Rong Vang bridge cost?")
    assert "120 million" in ans.short.text


def test_question_errors_are_clear(bundled_assistant):
    with pytest.raises(QuestionError, match="empty"):
        bundled_assistant.ask("   \n ")
    with pytest.raises(QuestionError, match="limit"):
        bundled_assistant.ask("why " * 2500)


def test_index_remembers_how_it_was_built(tmp_path, articles_copy):
    a = Assistant(index_dir=tmp_path / "idx")
    a.ingest([articles_copy])
    other = Settings()
    other = other.model_copy(update={"chunking": other.chunking.model_copy(update={"max_words": 300})})
    with pytest.raises(IndexMismatchError, match="re-ingest"):
        Assistant(index_dir=tmp_path / "idx", settings=other)
    # and the index is still intact for the right settings
    assert len(Assistant(index_dir=tmp_path / "idx").documents()) == 2


def test_unknown_embedding_provider_is_a_clear_error(tmp_path):
    from rag.embeddings import get_embedder
    from rag.errors import UnknownProviderError

    with pytest.raises(UnknownProviderError, match="RAG_EMBEDDING__PROVIDER"):
        get_embedder("word2vec", "x")


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_end_to_end(tmp_path, articles_copy):
    idx = str(tmp_path / "idx")
    (articles_copy / "broken.txt").write_bytes(b"\xff\xfe\x00bad")
    r = run_cli("ingest", str(articles_copy), "--index", idx)
    assert r.returncode == 1, "anything refused means a non-zero exit"
    assert "broken.txt" in r.stderr and "Traceback" not in r.stderr
    assert "2 added" in r.stdout
    r = run_cli("ask", "How much did vaccine diplomacy save the state budget?", "--json", "--index", idx)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert "900" in d["text"] and not d["abstained"]
    assert set(d["timings"]) >= {"retrieve_ms", "answer_ms", "total_ms"}
    for q in d["quotes"]:
        doc = json.loads(run_cli("show", q["doc_id"], "--json", "--index", idx).stdout)
        assert doc["text"][q["start"]:q["end"]] == q["text"]
    r = run_cli("ask", "", "--index", idx)
    assert r.returncode != 0 and "empty" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("docs", "--index", idx)
    assert "vns-2025-11-10-mofa-patriotic-emulation-congress" in r.stdout
    r = run_cli("remove", "nope", "--index", idx)
    assert r.returncode != 0 and "nope" in r.stderr


def test_answering_from_an_existing_index_never_imports_the_write_side_or_transformers(tmp_path, articles_copy):
    """A process that only answers (`rag ask`, the UI over an existing index) reads Chroma
    directly and runs the reader in plain PyTorch: llama-index (its writer, ~1 s of imports) and
    transformers (~2.3 s) stay unimported, and the answer is the same as from the process that
    wrote the index, with verbatim quotes. A write in that process then works (llama-index loaded
    at the first write)."""
    a = Assistant(index_dir=tmp_path / "idx")
    assert a.ingest([articles_copy]).ok
    q = "How many doses of vaccines did Vietnam receive?"
    expected = a.ask(q).short.text
    code = ("import sys, json; from rag import Assistant; a = Assistant(index_dir=sys.argv[1]); "
            f"ans = a.ask({q!r}); ok = all(a.document(x.doc_id).text[x.start:x.end] == x.text for x in ans.quotes); "
            "mods = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('llama_index', 'transformers')}); "
            "added = a.ingest([sys.argv[2]]).added; "
            "print(json.dumps([ans.short.text, ok, mods, added, 'llama_index' in sys.modules]))")
    extra = tmp_path / "ferry.txt"
    extra.write_text("Ferry service resumes\nThe Velmora ferry resumed service on Monday with 912 seats.\n",
                     encoding="utf-8")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "idx"), str(extra)], capture_output=True,
                       text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0, r.stderr[-1500:]
    short, verbatim, imported, added, loaded_for_write = json.loads(r.stdout.strip().splitlines()[-1])
    assert short == expected and "258 million" in short and verbatim
    assert imported == [], imported
    assert added == ["ferry"] and loaded_for_write
    assert "912" in Assistant(index_dir=tmp_path / "idx").ask("How many seats does the Velmora ferry have?").short.text


def test_bm25_after_ingest_is_the_store_read_back_without_reading_it_back(tmp_path, articles_copy):
    """Ingest hands the chunks it committed to the BM25 index (ingest_paths' `written`) instead
    of reading every new chunk back from Chroma (13 s of a 34,000-chunk file's ingest): the
    index holds what a fresh read of the store gives (records, their terms, evidence flags),
    for new, changed and unchanged files; and chunks another writer committed
    after ours (a record naming another version) are read back, not taken from memory."""
    from rag.sparse import SparseIndex

    def same_as_store(a: Assistant) -> None:
        mem = a.sparse.get()
        full = SparseIndex([], "").updated(a.store, mem.generation)
        assert mem.records == full.records and len(mem.records) == chunk_count(a)
        # the same terms per chunk (term ids differ: an updated index keeps its old ids)
        def words(idx):
            term = {i: t for t, i in idx.vocab.items()}
            return [[term[i] for i in ids] for ids in idx.term_ids]

        assert words(mem) == words(full)
        assert mem.evidence == full.evidence
        reads.clear()  # (the comparison read the store)

    a = Assistant(index_dir=tmp_path / "idx", settings=Settings(bootstrap_dir=None), embedder=HashEmbedder())
    reads = []
    chunks_of = a.store.chunks_of
    a.store.chunks_of = lambda ids: reads.append(list(ids)) or chunks_of(ids)
    assert a.ingest([articles_copy]).ok
    assert not [r for r in reads if r], reads  # nothing read back
    same_as_store(a)
    vov = articles_copy / "vov-2025-11-10-pm-calls-for-proactive-multilateral-diplomacy.txt"
    vov.write_text(vov.read_text(encoding="utf-8") + "\nThe Velmora ferry now carries 912 passengers a day, "
                   "its operator said.\n", encoding="utf-8")
    (articles_copy / "local-2025-11-12-lantern-festival.txt").write_text(NEW_FACT, encoding="utf-8")
    rep = a.ingest([articles_copy])
    assert rep.updated == [vov.stem] and rep.added == ["local-2025-11-12-lantern-festival"], rep.to_dict()
    assert not [r for r in reads if r], reads
    same_as_store(a)
    ans = a.ask("How many passengers does the Velmora ferry carry a day?")
    assert "912" in ans.short.text
    assert_quotes_verbatim(a, ans)

    # chunks written under a version the record no longer names are not trusted
    recs = a.store.document_records()
    stale = {d: [replace(c, version="stale") for c in chunks_of([d])] for d in recs}
    rebuilt = SparseIndex([], "").updated(a.store, "g", stale)
    assert rebuilt.records == SparseIndex([], "").updated(a.store, "g").records
