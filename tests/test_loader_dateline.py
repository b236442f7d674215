"""A leading dateline ("date 2025-11-10 HÀ NỘI — ") is metadata, not content: the bundled VNS
article gets a readable title, its date and place, and no chunk or quote starts with it; the
file itself is never changed."""
from __future__ import annotations

import hashlib

import pytest

from conftest import BUNDLED, assert_quotes_verbatim
from rag import Assistant
from rag.chunking import split_sentences
from rag.loaders import load_file, read_dateline

VNS = BUNDLED / "vns-2025-11-10-mofa-patriotic-emulation-congress.txt"
VNS_ID = "vns-2025-11-10-mofa-patriotic-emulation-congress"


def _load(path):
    return load_file(path, 10_000_000).documents[0]


def test_vns_article_reads_its_dateline_into_metadata():
    raw = VNS.read_bytes()
    assert raw.startswith(" date 2025-11-10 HÀ NỘI — ".encode())  # the file as the user gave it
    doc = _load(VNS)
    assert doc.text == raw.decode("utf-8")  # text is the file, byte for byte
    assert doc.date == "2025-11-10" and doc.place == "HÀ NỘI" and doc.outlet == "VNS"
    assert doc.text[:doc.body_start] == " date 2025-11-10 HÀ NỘI — "
    assert doc.text[doc.body_start:].startswith("The Ministry of Foreign Affairs (MoFA) must continue")


def test_vns_title_is_the_first_sentence_cut_at_a_word_boundary():
    doc = _load(VNS)
    assert "date" not in doc.title.lower() and "HÀ NỘI" not in doc.title
    assert doc.title != "Mofa patriotic emulation congress"  # the old file-name fallback
    s, e = split_sentences(doc.text, doc.body_start)[0]
    first = doc.text[s:e]
    assert doc.title.endswith("…") and len(doc.title) <= 91
    head = doc.title[:-1]
    assert first.startswith(head) and first[len(head)] == " ", "cut at a word boundary"
    assert head.split()[-1].lower() not in {"a", "an", "the", "with", "of", "and"}, doc.title
    assert doc.title == "The Ministry of Foreign Affairs (MoFA) must continue its pioneering role…"


def test_a_headline_stays_the_title():
    vov = _load(BUNDLED / "vov-2025-11-10-pm-calls-for-proactive-multilateral-diplomacy.txt")
    assert vov.title == "Government leader calls for stronger, more proactive multilateral diplomacy"
    assert vov.body_start == 0 and vov.place is None


@pytest.mark.parametrize("text, end, date, place", [
    (" date 2025-11-10 HÀ NỘI — The Ministry said.", 26, "2025-11-10", "HÀ NỘI"),
    ("WASHINGTON, D.C. (AP) — The Senate voted.", 24, None, "WASHINGTON, D.C."),
    ("PARIS - The museum reopened.", 8, None, "PARIS"),
    ("BADEN-BADEN – Der Rat tagte.", 14, None, "BADEN-BADEN"),
    ("date 2025-11-10 Hà Nội — The ministry met.", 25, "2025-11-10", "Hà Nội"),  # after a date marker
    ("date 2025-11-10 The ministry met.", 16, "2025-11-10", None),
])
def test_datelines_read(text, end, date, place):
    dl = read_dateline(text)
    assert dl is not None and (dl.end, dl.date, dl.place) == (end, date, place)
    assert text[dl.end:dl.end + 3] == "The" or text[dl.end:].startswith("Der")


@pytest.mark.parametrize("text", [
    "Officials — including the mayor — met on Monday.",  # not capitals: content
    "Hà Nội — the capital hosted the congress.",          # title case without a date marker
    "NASA said — on Monday — that the launch slipped.",
    "date 2025-02-30 HANOI — not a real date",           # invalid dates are not read as dates
    "Government leader calls for stronger diplomacy\nVOV.VN - Prime Minister",
])
def test_content_is_not_a_dateline(text):
    dl = read_dateline(text)
    assert dl is None or dl.date is None and dl.place != "HANOI", dl


def test_dateline_in_jsonl_and_html(tmp_path):
    j = tmp_path / "feed.jsonl"
    j.write_text('{"text": "HÀ NỘI — The ministry opened a consulate in Lima on Monday. It has 12 staff."}\n',
                 encoding="utf-8")
    d = _load(j)
    assert d.place == "HÀ NỘI" and d.text[d.body_start:].startswith("The ministry")
    assert d.title == "The ministry opened a consulate in Lima on Monday"
    h = tmp_path / "page.html"
    h.write_text("<html><body><p>date 2025-12-01 DA NANG — The port added 3 berths.</p></body></html>",
                 encoding="utf-8")
    d = _load(h)
    assert (d.date, d.place) == ("2025-12-01", "DA NANG") and d.text[d.body_start:] == "The port added 3 berths."


def test_index_keeps_the_dateline_out_of_chunks_and_quotes(bundled_assistant):
    a = bundled_assistant
    before = hashlib.sha256(VNS.read_bytes()).hexdigest()
    doc = a.document(VNS_ID)
    assert doc.body_start == 26 and doc.place == "HÀ NỘI"  # stored with the record
    assert doc.title.startswith("The Ministry of Foreign Affairs")
    assert any(d["title"] == doc.title for d in a.documents())
    chunks = [c for c in a.store.chunks_of([VNS_ID])]
    assert chunks and min(c.start for c in chunks) == doc.body_start
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
    for q in ("Who attended the Patriotic Emulation Congress?",
              "In which city was the ministry's emulation congress held?",
              "What must the Ministry of Foreign Affairs continue?"):
        ans = a.ask(q)
        assert_quotes_verbatim(a, ans)
        for quote in list(ans.quotes) + list(ans.closest):
            assert "date 2025-11-10" not in quote.text, (q, quote.text)
            if quote.doc_id == VNS_ID:
                assert quote.start >= doc.body_start, (q, quote.text)
        assert "date 2025-11-10" not in ans.text
    assert hashlib.sha256(VNS.read_bytes()).hexdigest() == before == doc.sha256


def test_index_built_by_an_older_reading_is_refreshed(tmp_path, articles_copy):
    """An index written before datelines were read (no "loader" in the record) re-reads an
    unchanged file on the next ingest instead of skipping it."""
    a = Assistant(index_dir=tmp_path / "idx")
    a.ingest([articles_copy])
    rec = a.store.document_records()[VNS_ID]
    old = {k: v for k, v in rec.items() if k not in ("loader", "body_start", "place")}
    old["title"] = "Mofa patriotic emulation congress"
    text = a.document(VNS_ID).text
    a.store.docs.delete(ids=[VNS_ID])  # the record as an older version wrote it
    a.store.docs.add(ids=[VNS_ID], documents=[text], metadatas=[old], embeddings=[[1.0]])
    assert a.document(VNS_ID).body_start == 0
    report = a.ingest([articles_copy])
    assert report.updated == [VNS_ID] and len(report.skipped) == 1
    doc = a.document(VNS_ID)
    assert doc.body_start == 26 and doc.title.startswith("The Ministry")
    again = a.ingest([articles_copy])
    assert again.updated == [] and len(again.skipped) == 2
