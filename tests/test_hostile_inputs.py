"""Issue 20, items 1-3 and 5, through the real loaders, chunker, Chroma store and CLI:

1. every field of a .jsonl line is validated like "text": a bad one refuses its line by
   number and field, the rest of the batch (a changed file too) is ingested;
2. a changed .jsonl whose line became malformed keeps the article that line held;
3. chunks (and so quotes) have a hard size bound whatever the punctuation, offsets exact,
   up to a 20 MB one-sentence file;
5. invisible and bidi control characters do not split numbers or reverse titles; an
   undecodable question gets a clear message on the command line.
"""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, assert_quotes_verbatim
from fakes import HashEmbedder
from rag import Assistant
from rag.chunking import chunk_document
from rag.errors import QuestionError
from rag.settings import Settings

pytestmark = pytest.mark.timeout(1200)

MAX_WORDS, MAX_CHARS = Settings().chunking.max_words, Settings().chunking.max_chars


def fresh(tmp_path: Path, name: str = "index", embedder=None) -> Assistant:
    s = Settings()
    return Assistant(index_dir=tmp_path / name, settings=s.model_copy(update={"bootstrap_dir": None}),
                     embedder=embedder)


def check_index(a: Assistant) -> None:
    """No orphans, every record has all its chunks, every chunk is its document's text."""
    recs = a.store.document_records()
    by_doc: dict[str, list] = {}
    for c in a.store.all_chunks():
        by_doc.setdefault(c.doc_id, []).append(c)
    assert set(by_doc) == set(recs)
    for doc_id, cs in by_doc.items():
        doc = a.document(doc_id)
        assert len(cs) == recs[doc_id]["n_chunks"]
        assert all(doc.text[c.start:c.end] == c.text for c in cs)


def lines(*objs) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


# -- 1. every field validated; one bad line never sinks the batch ------------------------
BAD_LINES = {
    1: ({"id": "s1", "title": "\ud800", "text": "The mill employs 5 people."}, '"title"', "surrogate"),
    2: ({"id": "s2", "outlet": "\udfff", "text": "The dairy employs 6 people."}, '"outlet"', "surrogate"),
    3: ({"id": "s3", "date": "2025-\ud83d", "text": "The bakery employs 8 people."}, '"date"', "surrogate"),
    4: ({"id": "s4", "url": "\ud800", "text": "The tannery employs 9 people."}, '"url"', "surrogate"),
    5: ({"id": ["x"], "text": "The forge employs 10 people."}, '"id"', "an array"),
    6: ({"id": "s6", "title": {"a": 1}, "text": "The quarry employs 11 people."}, '"title"', "an object"),
    7: ({"id": "s7", "date": 20251110, "text": "The brewery employs 12 people."}, '"date"', "a number"),
    8: ({"id": "s8", "outlet": True, "text": "The foundry employs 13 people."}, '"outlet"', "true/false"),
    9: ({"id": "s9", "url": "not a url at all", "text": "The sawmill employs 14 people."}, '"url"', "not a URL"),
}


def test_a_bad_field_refuses_its_line_and_the_rest_is_ingested(tmp_path):
    a = fresh(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    changed = folder / "changed.txt"
    changed.write_text("Port report\n\nThe port handled 100 ships.\n", encoding="utf-8")
    assert a.ingest([changed]).added == ["changed"]
    changed.write_text("Port report\n\nThe port handled 250 ships.\n", encoding="utf-8")
    good = folder / "good.txt"
    good.write_text("Dam report\n\nThe dam holds 44 million cubic metres.\n", encoding="utf-8")
    feed = folder / "feed.jsonl"
    # the lone surrogates are written as JSON escapes, as a feed would carry them
    feed.write_text(lines(*[obj for obj, _f, _w in BAD_LINES.values()],
                          {"id": "ok", "title": "Weavers", "outlet": "VNS", "date": "2025-11-10",
                           "url": "https://example.test/weavers", "text": "The weavers employ 15 people."},
                          {"id": 42, "text": "The potters employ 16 people."}), encoding="utf-8")
    report = a.ingest([good, feed, changed])
    refused = {e.source: e.reason for e in report.refused}
    assert set(refused) == {f"{feed}:{n}" for n in BAD_LINES}, refused
    for n, (_obj, field, why) in BAD_LINES.items():
        assert field in refused[f"{feed}:{n}"] and why in refused[f"{feed}:{n}"], (n, refused[f"{feed}:{n}"])
        assert "fix the line" in refused[f"{feed}:{n}"]
    assert sorted(report.added) == ["42", "good", "ok"] and report.updated == ["changed"]
    assert "250 ships" in a.document("changed").text
    ok = a.document("ok")
    assert (ok.title, ok.outlet, ok.date, ok.source) == ("Weavers", "VNS", "2025-11-10", "https://example.test/weavers")
    check_index(a)
    again = a.ingest([good, feed, changed])  # every re-run works too, and changes nothing
    assert sorted(again.skipped) == ["42", "changed", "good", "ok"] and not again.added
    assert len(again.refused) == len(BAD_LINES)
    ans = a.ask("How many people do the weavers employ?")
    assert "15" in ans.short.text
    assert_quotes_verbatim(a, ans)
    assert all(q.source in ("https://example.test/weavers", "feed.jsonl#L11", "good.txt", "changed.txt")
               for q in ans.quotes + ans.closest), [q.source for q in ans.quotes]


def test_json_lines_are_split_at_newlines_only(tmp_path):
    """U+2028 and U+0085 are legal raw inside a JSON string; they do not end a line."""
    a = fresh(tmp_path)
    feed = tmp_path / "seps.jsonl"
    text = "The ferry carried 912 passengers.\u2028It left at dawn.\u0085It returned at dusk."
    feed.write_text(json.dumps({"id": "ferry", "text": text}, ensure_ascii=False) + "\r\n", encoding="utf-8")
    report = a.ingest([feed])
    assert report.added == ["ferry"] and not report.refused
    assert a.document("ferry").text == text


# -- 2. nothing indexed is lost because its new version is unreadable --------------------
def test_a_line_turned_malformed_keeps_its_article(tmp_path):
    a = fresh(tmp_path)
    feed = tmp_path / "feed.jsonl"
    v1 = [{"id": "mill", "text": "The Kelvar mill employs 312 people."},
          {"id": "dairy", "text": "The Orrin dairy employs 48 people."},
          {"id": "forge", "text": "The Brask forge employs 27 people."}]
    feed.write_text(lines(*v1), encoding="utf-8")
    assert sorted(a.ingest([feed]).added) == ["dairy", "forge", "mill"]
    # line 2 becomes malformed JSON, line 3 changes, a line is added
    feed.write_text(lines(v1[0], '{"id": "dairy", "text": "The Orrin dairy employs 51 people.",',
                          {"id": "forge", "text": "The Brask forge employs 30 people."},
                          {"id": "kiln", "text": "The Tamsin kiln employs 9 people."}), encoding="utf-8")
    report = a.ingest([feed])
    assert [e.source for e in report.refused] == [f"{feed}:2"] and "invalid JSON" in report.refused[0].reason
    assert report.kept == ["dairy"]
    assert sorted(report.updated) == ["forge", "mill"] and report.added == ["kiln"]
    assert a.document("dairy").text == v1[1]["text"]  # the indexed version stays
    assert "30 people" in a.document("forge").text
    ans = a.ask("How many people does the Orrin dairy employ?")
    assert "48" in ans.short.text
    assert_quotes_verbatim(a, ans)
    check_index(a)
    again = a.ingest([feed])  # the same unreadable version: nothing redone, nothing lost
    assert sorted(again.skipped) == ["dairy", "forge", "kiln", "mill"] and len(again.refused) == 1
    # fixed: the line's new version replaces the kept one
    feed.write_text(lines(v1[0], {"id": "dairy", "text": "The Orrin dairy employs 51 people."},
                          {"id": "forge", "text": "The Brask forge employs 30 people."}), encoding="utf-8")
    fixed = a.ingest([feed])
    assert not fixed.refused and not fixed.kept and "dairy" in fixed.updated
    assert "51 people" in a.document("dairy").text and "kiln" not in {d["doc_id"] for d in a.documents()}
    check_index(a)


def test_a_text_file_turned_unreadable_keeps_its_article(tmp_path):
    a = fresh(tmp_path)
    f = tmp_path / "dam.txt"
    f.write_text("Dam report\n\nThe dam holds 44 million cubic metres.\n", encoding="utf-8")
    assert a.ingest([f]).added == ["dam"]
    for broken in ("\u200b\u200d\ufeff" * 50, "\x00" * 10 + "binary", "!!! ??? ..."):
        f.write_bytes(broken.encode("utf-8"))
        report = a.ingest([f])
        assert len(report.refused) == 1 and f.name in report.refused[0].source, report.to_dict()
        assert "44 million" in a.document("dam").text


# -- 3. chunks have a hard size bound ---------------------------------------------------------
_VOCAB = ("the mill in Kelvar employs people and its owners said that workers would get more pay "
          "next year after a long dispute over shifts safety rules river transport costs").split()
# plus 150 made-up words, so that the text varies like prose does: drawn from 30 words only,
# every passage repeats itself like a keyword-stuffed page, which answering sets aside (planted.py)
_VOCAB += ["".join(random.Random(i).choice("bcdfghklmnprstvz") + random.Random(i * 7 + j).choice("aeiou")
                   for j in range(3)) for i in range(150)]


def one_sentence(n_words: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_VOCAB) for _ in range(n_words))


@pytest.mark.parametrize("text", [
    one_sentence(20_000),                                   # no sentence breaks at all
    "a" * 50_000,                                           # no spaces at all
    "e\u0301" * 5_000,                                      # letters with combining accents, no spaces
    "\t".join("word\u00a0x" for _ in range(5_000)),         # tabs and no-break spaces
    " ".join("x" * 60 for _ in range(2_000)),               # long words
    "One sentence here." + " " * 20_000 + "Another one.",   # a huge gap between sentences
    "Short one. " * 3000,                                   # normal sentences
    "Bảo tàng Hà Nội đón 1.200 khách mỗi ngày và " * 2000,  # diacritics, one sentence
])
def test_chunks_are_bounded_and_verbatim(text):
    chunks = chunk_document("d", text, MAX_WORDS, 1, MAX_CHARS)
    assert chunks
    for c in chunks:
        assert text[c.start:c.end] == c.text and c.text == c.text.strip()
        assert len(c.text) <= MAX_CHARS and len(c.text.split()) <= MAX_WORDS
        assert not c.text[0] in "\u0301"  # a mark stays with its letter
    # nothing lost: between consecutive chunks there is only whitespace (or overlap)
    ends = sorted((c.start, c.end) for c in chunks)
    assert not text[:ends[0][0]].strip() and not text[ends[-1][1]:].strip()
    for (s1, e1), (s2, _e2) in zip(ends, ends[1:]):
        assert s2 <= e1 or not text[e1:s2].strip()


def test_normal_articles_chunk_as_before():
    """The bound changes nothing for ordinary news: every bundled chunk is whole sentences,
    at most max_words words, as without the character bound."""
    for p in (ROOT / "rag" / "data" / "articles").glob("*.txt"):
        text = p.read_text(encoding="utf-8")
        assert chunk_document("d", text, MAX_WORDS, 1, MAX_CHARS) == chunk_document("d", text, MAX_WORDS, 1, 10**9)


def test_20mb_one_sentence_file_is_chunked_within_bounds(tmp_path):
    text = one_sentence(2_850_000) + " and the Orrin dairy employs 4812 people"
    f = tmp_path / "one-sentence.txt"
    f.write_text(text, encoding="utf-8")
    assert 19.0e6 < f.stat().st_size < 20e6
    # the model would spend ~15 min on 30,000 chunks; 16 dimensions: what is tested is the
    # chunking and the store, and Chroma's inserts cost more with the dimension (see below)
    a = fresh(tmp_path, embedder=HashEmbedder(dim=16))
    report = a.ingest([f])
    assert report.added == ["one-sentence"] and not report.refused, report.to_dict()
    doc = a.document("one-sentence")
    assert doc.text == text
    chunks = sorted(a.store.chunks_of(["one-sentence"]), key=lambda c: c.start)
    assert len(chunks) == report.chunks > 20_000
    assert max(len(c.text) for c in chunks) <= MAX_CHARS
    assert max(len(c.text.split()) for c in chunks) <= MAX_WORDS
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(not text[x.end:y.start].strip() for x, y in zip(chunks, chunks[1:]))
    ans = a.ask("How many people does the Orrin dairy employ?")
    shown = ans.quotes + ans.closest
    assert shown and max(len(q.text) for q in shown) <= MAX_CHARS
    assert_quotes_verbatim(a, ans)


def test_long_sentence_answer_has_a_bounded_quote(tmp_path):
    """With the real model: a 55 kB file without sentence breaks (~8,000 words: 40 chunks' worth,
    each cut inside the sentence) answers with a short quote. 25,000 words until 2026-11-27: the
    same assertions, 40 s of embedding on an AVX2-only machine."""
    text = one_sentence(6_000, seed=3) + " while the Orrin dairy employs 4812 people " + one_sentence(2_000, seed=4)
    f = tmp_path / "dairy-2025-12-01-report.txt"
    f.write_text(text, encoding="utf-8")
    a = fresh(tmp_path)
    assert a.ingest([f]).added == ["dairy-2025-12-01-report"]
    ans = a.ask("How many people does the Orrin dairy employ?")
    assert not ans.abstained and "4812" in ans.short.text
    assert all(len(q.text) <= MAX_CHARS for q in ans.quotes + ans.closest)
    assert_quotes_verbatim(a, ans)


# -- 5. invisible characters, undecodable questions -------------------------------------------
def test_invisible_characters_do_not_split_numbers_or_reverse_titles(tmp_path):
    a = fresh(tmp_path)
    f = tmp_path / "\u202etxt.exe lessY dam.md"
    f.write_text("\u202eLessy dam report\u202c\n\nThe Lessy dam holds 7\u200b500 cubic metres of water, "
                 "said the engi\u00adneer.\n", encoding="utf-8")
    feed = tmp_path / "feed.jsonl"
    feed.write_text(lines({"id": "mill", "title": "Mill\u200f \u202enews\u2066", "outlet": "V\u200bNS",
                           "text": "The Kelvar mill employs 3\u200d12 people."}), encoding="utf-8")
    report = a.ingest([f, feed])
    assert len(report.added) == 2, report.to_dict()
    dam = a.document(report.added[0])
    assert dam.title == "Lessy dam report" and "7500 cubic metres" in dam.text and "engineer" in dam.text
    mill = a.document("mill")
    assert (mill.title, mill.outlet) == ("Mill news", "VNS") and "312 people" in mill.text
    for doc in (dam, mill):
        assert not re.search(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u00ad]", doc.title + doc.text)
    ans = a.ask("How much water does the Lessy dam hold?")
    assert "7500" in ans.short.text, ans.text
    assert_quotes_verbatim(a, ans)
    ans = a.ask("How many people does the Kelvar mill employ?")
    assert "312" in ans.short.text, ans.text
    # a question typed with invisible characters asks the same thing
    assert "312" in a.ask("How many peo\u200bple does the Kel\u202evar mill employ?").short.text


@pytest.mark.parametrize("question, expect", [
    ("\ud800 How many doses?", "not valid text"),
    (b"How many \xff doses?", "not valid UTF-8"),
    (b"How many doses did Vietnam secure?", None),
    ("\u200b\u200e\u202e", "empty"),
    ("x" * 100_000, "limit"),
])
def test_question_decoding(bundled_assistant, question, expect):
    if expect:
        with pytest.raises(QuestionError, match=expect):
            bundled_assistant.ask(question)
    else:
        assert "258 million" in bundled_assistant.ask(question).text


def test_cli_undecodable_question_is_a_clear_message(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable.encode(), b"-m", b"rag", b"ask", b"How many \xff\xfe doses?",
                        b"--index", str(tmp_path / "idx").encode()],
                       capture_output=True, env=env, timeout=600)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 1, err
    assert "not valid text" in err and "UTF-8" in err and "Traceback" not in err


def test_a_document_of_more_than_32766_chunks_is_committed_and_removed(tmp_path):
    """A 19 MB news file makes ~44,000 chunks. Chroma answered an unpaged query for that many
    chunks of one document with SQLite's "too many SQL variables" at commit, after the whole
    file had been embedded, so the file was lost. Chunks of 8 words make that count from 0.7 MB here:
    each 9-word line is two chunks, 34,001 in all (68,001 until 2026-11-27, twice what the limit
    needs: 149 s against 59 s now on a 2-core AVX2-only EPYC, mostly Chroma's inserts)."""
    n = 17_000
    lines = [f"Depot {i} in Varn ships {i % 97 + 3} crates a week." for i in range(n)]
    f = tmp_path / "depots.txt"
    f.write_text("\n".join(lines) + "\nThe Orrin dairy employs 4812 people.\n", encoding="utf-8")
    s = Settings()
    s = s.model_copy(update={"bootstrap_dir": None,
                             "chunking": s.chunking.model_copy(update={"max_words": 8, "overlap_sentences": 0})})
    # 16-dimensional vectors: the count of chunks is the point; Chroma's inserts of 34,000
    # vectors took 64 s at 384 dimensions and 32 s at 16 (cProfile, 2026-11-26, a busy machine)
    a = Assistant(index_dir=tmp_path / "index", settings=s, embedder=HashEmbedder(dim=16))
    report = a.ingest([f])
    assert report.added == ["depots"] and report.chunks > 32_766, report.to_dict()
    assert len(a.store.chunks_of(["depots"])) == report.chunks
    check_index(a)  # every chunk of the committed version, no other (the commit's stale-chunk query)
    assert a.remove("depots") == "removed"
    assert a.store.chunks_of(["depots"]) == [] and a.documents() == []


def test_more_documents_than_one_page_of_records_all_stay_listed_and_answerable(tmp_path):
    """Document records are read from Chroma DOC_PAGE at a time (an unpaged read of 12,000
    records took 420 MB of transient memory). Past a page, every document is still listed,
    found by id and answerable, and ingest in one call (one Chroma add per slice, many
    documents in it) keeps each document's chunks under its own version."""
    from rag.store import DOC_PAGE

    n = DOC_PAGE * 2 + 37
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(n):
        (folder / f"depot-{i:04d}.txt").write_text(
            f"Depot {i} report\n\nThe depot at Varn{i} ships {1000 + i} crates a week, its manager said.\n",
            encoding="utf-8")
    a = Assistant(index_dir=tmp_path / "index", settings=Settings(bootstrap_dir=None), embedder=HashEmbedder())
    report = a.ingest([folder])
    assert len(report.added) == n and not report.refused, report.to_dict()
    ids = {d["doc_id"] for d in a.documents()}
    assert ids == {f"depot-{i:04d}" for i in range(n)}
    recs = a.store.document_records(sorted(ids))
    assert set(recs) == ids and all(r.get("version") for r in recs.values())
    check_index(a)  # every document whole: its chunks under the version its record names
    ans = a.ask(f"How many crates does the depot at Varn{n - 1} ship a week?")
    assert not ans.abstained and str(1000 + n - 1) in ans.short.text, ans.text
    assert_quotes_verbatim(a, ans)
